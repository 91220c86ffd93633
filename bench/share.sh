#!/usr/bin/env bash
# What sharing costs, on a fresh `pyxis up` (HTTPS, 6 remotes): a tree of
# 10,000 files of 1-8 KiB in 100 directories is put by alice, then
#   share_tree   `pyxis share /t bob`          wraps every current version
#   share_sub    `pyxis share /t/d050 carol`   re-packs the boundary files first
#   get_own      alice `pyxis get /t`
#   get_shared   bob   `pyxis get @alice/t`    (the same bytes through the share)
# Prints seconds and peak RSS (KiB) per step, and the ratios that matter.
# Usage: NEW=target/release/pyxis bench/share.sh
set -euo pipefail
NEW=${NEW:-target/release/pyxis}
NEW=$(realpath "$NEW")
PORT=${PORT:-7390}
W=$(mktemp -d /tmp/pyxis-share-bench.XXXXXX)
trap 'kill -INT $up 2>/dev/null; wait $up 2>/dev/null; rm -rf "$W"' EXIT

python3 - "$W/src" <<'PY'
import os, random, sys
random.seed(7)
root = sys.argv[1]
for d in range(100):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/d{d:03}/f{f:03}.txt", "wb") as fh:
            fh.write(os.urandom(random.randint(1024, 8192)))
PY

"$NEW" up --remotes 6 --dir "$W/data" --listen "127.0.0.1:$PORT" > "$W/up.log" 2>&1 &
up=$!
for _ in $(seq 1 100); do [ -s "$W/data/tls/ca.pem" ] && break; sleep 0.1; done
export PYXIS_SERVER="https://127.0.0.1:$PORT" PYXIS_CA="$W/data/tls/ca.pem" PYXIS_PASSWORD=bench-not-secret
# Every remote registered (the last one's line), then a moment for heartbeats.
for _ in $(seq 1 150); do grep -q "registered remote_id=6" "$W/up.log" && break; sleep 0.2; done
sleep 1
# `user NAME ARGS...`: the command line of pyxis as that user (its own config).
user() { local who=$1; shift; echo env "PYXIS_CONFIG=$W/cfg-$who" "$NEW" "$@"; }
for u in alice bob carol; do $(user $u signup $u) > /dev/null; done
step() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/t" "$@" > "$W/$name.out" 2>&1 || { echo "$name failed:"; cat "$W/$name.out"; exit 1; }
  read -r secs rss < "$W/t"
  echo "$name $secs s, peak $rss KiB"
  eval "T_$name=$secs"
}
step put $(user alice put "$W/src" /t)
step share_tree $(user alice share /t bob)
step share_sub $(user alice share /t/d050 carol)
grep -h "stored" "$W/share_sub.out" || true
step get_own $(user alice get /t "$W/own")
step get_shared $(user bob get @alice/t "$W/shared")
diff -r -q "$W/own" "$W/src" > /dev/null && diff -r -q "$W/shared" "$W/src" > /dev/null && echo "both gets equal the source"
python3 -c "import sys; p,s,g,h=map(float,sys.argv[1:]); print(f'share_tree/put {s/p:.2f}, get_shared/get_own {h/g:.2f}')" \
  "$T_put" "$T_share_tree" "$T_get_own" "$T_get_shared"
