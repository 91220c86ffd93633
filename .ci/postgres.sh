#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite.
#   .ci/postgres.sh start   -> prints `export PYXIS_TEST_DATABASE_URL=...`
#   .ci/postgres.sh stop
# Installs Debian's postgresql when initdb is missing (a fresh machine has none).
set -euo pipefail
PORT=${PYXIS_PG_PORT:-55432}
DIR=${PYXIS_PG_DIR:-/tmp/pyxis-ci-postgres}

bin() {
  local b
  b=$(command -v "$1" 2>/dev/null || true)
  if [ -z "$b" ]; then b=$(ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true); fi
  echo "$b"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "${1:-}" in
  start)
    if [ -z "$(bin initdb)" ]; then
      echo "installing postgresql..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    fi
    INITDB=$(bin initdb); PGCTL=$(bin pg_ctl)
    as_pg "$PGCTL -D $DIR stop -m immediate" >/dev/null 2>&1 || true
    rm -rf "$DIR"; mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_pg "$INITDB -D $DIR -A trust -U postgres --locale=C.UTF-8 -E UTF8" >&2
    as_pg "$PGCTL -D $DIR -l $DIR/log -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400' -w start" >&2
    echo "export PYXIS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    PGCTL=$(bin pg_ctl)
    [ -n "$PGCTL" ] && as_pg "$PGCTL -D $DIR stop -m fast" >&2 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
