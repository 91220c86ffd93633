#!/usr/bin/env bash
# Pyxis sync next to Syncthing, on this machine, with the same data, in one
# run (machines here differ up to 2x: compare within a run). Pyxis: two
# `pyxis sync` daemons on a fresh `pyxis up` (bench/sync.py). Syncthing:
# two devices from Debian's package (bench/peers/70-syncthing.sh, the
# team's anchor harness, with fewer runs). Both on 127.0.0.1 only.
#
#   bench/sync.sh                  everything (~15 min on 2 cores)
#   SKIP_SYNCTHING=1 bench/sync.sh Pyxis only (compare with an earlier
#                                  Syncthing results.jsonl: ST=path)
# Knobs: OUT (default /tmp/pyxis-sync-bench), NFILES, EDITS, BIG_EDITS,
# IDLE_S, RAND (the 1 GiB file; made like bench/peers' rand1g if absent).
# ONLY=small: the initial sync of small files alone, for both tools.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pyxis-sync-bench}
export NEW=${NEW:-target/release/pyxis}
[ -x "$NEW" ] || cargo build --release -p pyxis-cli
rm -rf "$OUT"; mkdir -p "$OUT"
export RAND=${RAND:-/tmp/pyxis-bench/data/rand1g}
if [ ! -s "$RAND" ]; then
  mkdir -p "$(dirname "$RAND")"
  openssl enc -aes-256-ctr -pbkdf2 -iter 1 -nosalt -pass pass:peerbench-rand1g < /dev/zero 2>/dev/null \
    | head -c 1073741824 > "$RAND" || true
fi
grep -m1 "model name" /proc/cpuinfo | tee "$OUT/cpu.txt"
trap 'rm -rf "$OUT/pyxis/A" "$OUT/pyxis/B" "$OUT/pyxis/data"' ERR
python3 bench/sync.py run "$OUT"
ST=${ST:-$OUT/syncthing/results.jsonl}
if [ -z "${SKIP_SYNCTHING:-}" ]; then
  [ "${ONLY:-}" = small ] && export PHASES=small
  SB="$OUT/syncthing" RUNS_SMALL=${RUNS_SMALL:-1} RUNS_BIG=${RUNS_BIG:-1} BIG_EDITS=${ST_BIG_EDITS:-3} \
    EDITS=${EDITS:-30} RAND="$RAND" bash bench/peers/70-syncthing.sh > "$OUT/syncthing.log" 2>&1 \
    || { echo "syncthing run failed: $OUT/syncthing.log" >&2; exit 1; }
fi
python3 bench/sync.py compare "$OUT/pyxis.jsonl" "$ST" | tee "$OUT/compare.md"
# The folders and stores take several GiB (the 1 GiB file, twice, plus its
# shards): only the results are kept.
rm -rf "$OUT/pyxis/A" "$OUT/pyxis/B" "$OUT/pyxis/data" "$OUT/syncthing/A" "$OUT/syncthing/B" "$OUT/syncthing/data"
