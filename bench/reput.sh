#!/usr/bin/env bash
# Re-putting an unchanged tree (the Rust toolchain, ~52,000 files): Pyxis's
# size + mtime skip against reading everything again (`put --checksum`), and
# restic's second backup (parent snapshot) against `backup --force`, in the
# same run, page cache warm.
#
#   bench/reput.sh          # RUNS=3 by default
#   column -t /tmp/pyxis-bench/reput.tsv
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
RAW=${RAW:-/tmp/pyxis-bench/reput.tsv}
. "$HERE/lib.sh"
PYXIS=${PYXIS:-$HERE/../target/release/pyxis}
RUNS=${RUNS:-3}
PORT=${PORT:-17370}
[ -x "$PYXIS" ] || (cd "$HERE/.." && cargo build --release -p pyxis-cli)
"$HERE/install-peers.sh"
"$HERE/data.sh"
CB=$(du -sb "$DATA/corpus" | cut -f1)
N="$PB/reput"
rm -rf "$N"; mkdir -p "$N"
cleanup() { kill "$up" 2>/dev/null || true; wait 2>/dev/null || true; }
"$PYXIS" up --remotes 6 --dir "$N/data" --listen "127.0.0.1:$PORT" > "$N/up.log" 2>&1 &
up=$!
trap cleanup EXIT
export PYXIS_SERVER="http://127.0.0.1:$PORT" PYXIS_CONFIG="$N/cfg" PYXIS_PASSWORD=bench-not-secret
for _ in $(seq 1 100); do "$PYXIS" signup bench > /dev/null 2>&1 && break; sleep 0.2; done
sleep 2 # let every remote register
tar -cf - -C "$DATA" corpus > /dev/null
measure "pyxis_put_corpus" "$CB" -- "$PYXIS" --json put "$DATA/corpus" /corpus
export RESTIC_PASSWORD=bench-not-secret RESTIC_CACHE_DIR="$N/restic-cache"
restic -r "$N/restic" init > /dev/null
(cd "$DATA" && measure "restic_backup_corpus" "$CB" -- restic -r "$N/restic" backup --json --host b corpus)
for r in $(seq 1 "$RUNS"); do
  measure "pyxis_reput.r$r" "$CB" -- "$PYXIS" --json put "$DATA/corpus" /corpus
  measure "pyxis_reput_checksum.r$r" "$CB" -- "$PYXIS" --json put --checksum "$DATA/corpus" /corpus
  (cd "$DATA" && measure "restic_rebackup.r$r" "$CB" -- restic -r "$N/restic" backup --json --host b corpus)
  (cd "$DATA" && measure "restic_rebackup_force.r$r" "$CB" -- restic -r "$N/restic" backup --json --force --host b corpus)
done
versions=$("$PYXIS" --json versions /corpus/bin/rustc 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["versions"]))' || echo "?")
echo "versions of one file after $((2 * RUNS + 1)) puts: $versions"
column -t "$RAW"
