#!/usr/bin/env bash
# Pyxis (6 remotes, `pyxis up`) against restic (local repository) and
# Tahoe-LAFS (4-node local grid), on the same data, in the same run:
# a 1 GiB random file, the Rust toolchain tree (~52,000 files), a tree of
# 40,000 small files, and the 1 MiB-overwrite and 100-byte-insert edits of
# the big file; an unchanged re-put of the toolchain tree, listings, a get
# of a directory of 1,000 small files, and what the disk itself allows
# (dd with conv=fsync / iflag=direct) in the same run. summarize.py prints
# every row of issue 13's targets with its ratio (medians over the runs).
#
#   bench/compare.sh                  # RUNS=3 PEERS="restic tahoe" by default
#   RUNS=1 PEERS=restic bench/compare.sh
#   cat /tmp/pyxis-bench/summary.md
#   UP_ARGS=--insecure-http SCHEME=http bench/compare.sh   # without TLS
#   PYXIS=/path/to/older/pyxis SCHEME=http bench/compare.sh   # a release before TLS
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PYXIS=${PYXIS:-$HERE/../target/release/pyxis}
RUNS=${RUNS:-3}
export PEERS=${PEERS:-restic tahoe}
PORT=${PORT:-17270}
SCHEME=${SCHEME:-https}
UP_ARGS=${UP_ARGS:-}
[ -x "$PYXIS" ] || (cd "$HERE/.." && cargo build --release -p pyxis-cli)
"$HERE/install-peers.sh"
"$HERE/data.sh"
rm -f "$RAW" "$FACTS"; . "$HERE/lib.sh"
RB=$(stat -c %s "$DATA/rand1g"); CB=$(du -sb "$DATA/corpus" | cut -f1); SB=$(du -sb "$DATA/small" | cut -f1)
json() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d[sys.argv[1]])' "$1"; }
warm() { cat "$DATA"/rand1g* > /dev/null; tar -cf - -C "$DATA" corpus small > /dev/null; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# The disk's own limits, in the same run as the tools: writing the 1.5 GiB
# of shards a 1 GiB put at 4+2 stores, with an fsync at the end; reading the
# remotes' volume files back past the page cache.
disk_limits() {
  local r=$1 d="$PB/dd.out"
  measure "disk_write_1536m.r$r" $((1536 << 20)) -- dd if=/dev/zero of="$d" bs=4M count=384 conv=fsync status=none
  rm -f "$d"
}
disk_read() {
  local r=$1 dir=$2 files
  files=$(find "$dir" -type f -name '*.pyxv')
  local bytes; bytes=$(echo "$files" | xargs stat -c %s | awk '{ s += $1 } END { print s }')
  # shellcheck disable=SC2086
  measure "disk_read_volumes.r$r" "$bytes" -- sh -c 'for f in "$@"; do dd if="$f" of=/dev/null bs=4M iflag=direct status=none; done' sh $files
}

# The server's answer to a listing, alone: the session's token, curl, 5 times.
server_ls_ms() {
  local token; token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$PYXIS_CONFIG/session.json")
  local ca=(); [ -n "${PYXIS_CA:-}" ] && ca=(--cacert "$PYXIS_CA")
  for _ in 1 2 3 4 5; do
    curl -sS -o /dev/null -w '%{time_total}\n' "${ca[@]}" -H "Authorization: Bearer $token" \
      "$PYXIS_SERVER/v1/list?path=$1&recursive=false&limit=10000"
  done | sort -n | sed -n 3p | awk '{printf "%.1f", $1 * 1000}'
}

run_pyxis() {
  local r=$1 N="$PB/pyxis"
  rm -rf "$N"; mkdir -p "$N"
  # shellcheck disable=SC2086
  "$PYXIS" up --remotes 6 --dir "$N/data" --listen "127.0.0.1:$PORT" $UP_ARGS > "$N/up.log" 2>&1 &
  local up=$!
  export PYXIS_SERVER="$SCHEME://127.0.0.1:$PORT" PYXIS_CONFIG="$N/cfg" PYXIS_PASSWORD=bench-not-secret
  if [ "$SCHEME" = https ]; then
    for _ in $(seq 1 100); do [ -s "$N/data/tls/ca.pem" ] && break; sleep 0.1; done
    export PYXIS_CA="$N/data/tls/ca.pem"
  else
    unset PYXIS_CA
  fi
  for _ in $(seq 1 100); do
    n=$(online "$PYXIS" "$N/data")
    [ "$n" = 6 ] && break; sleep 0.2
  done
  "$PYXIS" signup bench > /dev/null
  warm
  measure "pyxis_put_rand1g.r$r" "$RB" -- "$PYXIS" --json put "$DATA/rand1g" /rand1g
  disk_limits "$r"; drop_caches; disk_read "$r" "$N/data"; warm
  measure "pyxis_get_rand1g.r$r" "$RB" -- "$PYXIS" --json get /rand1g "$N/rand1g.out"
  cmp "$N/rand1g.out" "$DATA/rand1g"; rm -f "$N/rand1g.out"
  measure "pyxis_put_corpus.r$r" "$CB" -- "$PYXIS" --json put "$DATA/corpus" /corpus
  for e in ow1m ins100; do
    measure "pyxis_put_$e.r$r" "$RB" -- "$PYXIS" --json put "$DATA/rand1g.$e" "/rand1g.$e"
    record "pyxis.r$r.$e.new_bytes" "$(json new < "$LOGS/pyxis_put_$e.r$r.log")"
    record "pyxis.r$r.$e.wire_bytes" "$(json wire < "$LOGS/pyxis_put_$e.r$r.log")"
  done
  drop_caches; warm
  measure "pyxis_get_corpus.r$r" "$CB" -- "$PYXIS" --json get /corpus "$N/corpus.out"
  diff -r -q "$N/corpus.out" "$DATA/corpus" > /dev/null
  measure "pyxis_reput_corpus.r$r" "$CB" -- "$PYXIS" --json put "$DATA/corpus" /corpus
  measure "pyxis_put_small.r$r" "$SB" -- "$PYXIS" --json put "$DATA/small" /small
  drop_caches; warm
  measure "pyxis_get_small.r$r" "$SB" -- "$PYXIS" --json get /small "$N/small.out"
  diff -r -q "$N/small.out" "$DATA/small" > /dev/null
  # What the file system itself allows for 1,000 new small files: cp -r of
  # the same files from the page cache, flushed (a get flushes too).
  measure "disk_cp_k1.r$r" 1000 -- sh -c "cp -r '$DATA/small/k1' '$N/k1.cp' && sync -f '$N/k1.cp'"
  measure "pyxis_get_k1.r$r" 1000 -- "$PYXIS" --json get /small/k1 "$N/k1.out"
  diff -r -q "$N/k1.out" "$DATA/small/k1" > /dev/null
  # Commands that write nothing, timed alone, three times each.
  for _ in 1 2 3; do
    NOSYNC=1 measure "pyxis_whoami.r$r" 0 -- "$PYXIS" whoami
    NOSYNC=1 measure "pyxis_ls_flat.r$r" 10000 -- "$PYXIS" ls /small/flat
    NOSYNC=1 measure "pyxis_ls_all.r$r" 0 -- "$PYXIS" ls -R /
  done
  record "pyxis.r$r.ls_flat_entries" "$(wc -l < "$LOGS/pyxis_ls_flat.r$r.log")"
  record "pyxis.r$r.ls_flat_server_ms" "$(server_ls_ms /small/flat)"
  record "pyxis.r$r.ls_all_entries" "$(wc -l < "$LOGS/pyxis_ls_all.r$r.log")"
  record "pyxis.r$r.network_vmhwm_kib" "$(vmhwm $up)"
  record "pyxis.r$r.stored_bytes" "$(du -sb "$N/data" | cut -f1)"
  kill -INT $up; wait $up || true
  rm -rf "$N"   # outputs removed only now: creating files just after deleting
                # many is twice as slow on ext4 and would tax the next get
}

run_restic() {
  local r=$1 REPO="$PB/restic-repo" OUT="$PB/restore"
  export RESTIC_PASSWORD=bench-not-secret RESTIC_CACHE_DIR="$PB/restic-cache"
  rm -rf "$REPO" "$RESTIC_CACHE_DIR" "$OUT"
  restic -r "$REPO" init > /dev/null
  warm; cd "$DATA"
  summary() { grep '"message_type":"summary"' "$LOGS/$1.log" | tail -n 1; }
  measure "restic_put_rand1g.r$r" "$RB" -- restic -r "$REPO" backup --json --host b rand1g
  local snap; snap=$(summary "restic_put_rand1g.r$r" | json snapshot_id)
  measure "restic_put_corpus.r$r" "$CB" -- restic -r "$REPO" backup --json --host b corpus
  local csnap; csnap=$(summary "restic_put_corpus.r$r" | json snapshot_id)
  measure "restic_reput_corpus.r$r" "$CB" -- restic -r "$REPO" backup --json --host b corpus
  measure "restic_put_small.r$r" "$SB" -- restic -r "$REPO" backup --json --host b small
  local ssnap; ssnap=$(summary "restic_put_small.r$r" | json snapshot_id)
  for e in ow1m ins100; do
    measure "restic_put_$e.r$r" "$RB" -- restic -r "$REPO" backup --json --host b "rand1g.$e"
    record "restic.r$r.$e.data_added" "$(summary "restic_put_$e.r$r" | json data_added)"
  done
  cd "$PB"; mkdir -p "$OUT"
  # Cold, as Pyxis's get of it is (its remotes' volumes are read past the
  # page cache just before): restic's repository was read back hot from
  # the backups just made, which flattered it.
  drop_caches; warm
  measure "restic_get_rand1g.r$r" "$RB" -- restic -r "$REPO" restore "$snap" --target "$OUT"
  cmp "$OUT/rand1g" "$DATA/rand1g"; rm -rf "$OUT"; mkdir -p "$OUT"
  drop_caches; warm
  measure "restic_get_corpus.r$r" "$CB" -- restic -r "$REPO" restore "$csnap" --target "$OUT"
  diff -r -q "$OUT/corpus" "$DATA/corpus" > /dev/null
  drop_caches; warm
  measure "restic_get_small.r$r" "$SB" -- restic -r "$REPO" restore "$ssnap" --target "$OUT/s"
  diff -r -q "$OUT/s/small" "$DATA/small" > /dev/null
  measure "restic_get_k1.r$r" 1000 -- restic -r "$REPO" restore "$ssnap" --target "$OUT/k" --include /small/k1
  diff -r -q "$OUT/k/small/k1" "$DATA/small/k1" > /dev/null
  rm -rf "$OUT" "$REPO" "$RESTIC_CACHE_DIR"
}

run_tahoe() {
  local r=$1 T=$PB/tahoe-venv/bin/tahoe
  "$HERE/tahoe-grid.sh" restart-client > /dev/null
  warm
  measure "tahoe_put_rand1g.r$r" "$RB" -- "$T" -d "$PB/tahoe/client" put "$DATA/rand1g"
  local cap; cap=$(grep -o 'URI:[^ ]*' "$LOGS/tahoe_put_rand1g.r$r.log" | tail -n 1)
  measure "tahoe_get_rand1g.r$r" "$RB" -- "$T" -d "$PB/tahoe/client" get "$cap" "$PB/tahoe.out"
  cmp "$PB/tahoe.out" "$DATA/rand1g"; rm -f "$PB/tahoe.out"
}

case " $PEERS " in *" tahoe "*) "$HERE/tahoe-grid.sh" start > /dev/null ;; esac
for r in $(seq 1 "$RUNS"); do
  run_pyxis "$r"
  case " $PEERS " in *" restic "*) run_restic "$r" ;; esac
  case " $PEERS " in *" tahoe "*) run_tahoe "$r" ;; esac
done
case " $PEERS " in *" tahoe "*) "$HERE/tahoe-grid.sh" stop ;; esac
python3 "$HERE/summarize.py" "$RAW" "$FACTS" | tee "$PB/summary.md"
