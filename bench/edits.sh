#!/usr/bin/env bash
# The expected cost of the two edits, over many keys. Chunk boundaries are
# keyed — per account in Pyxis, per repository (a random polynomial) in
# restic — so one `put` or `backup` measures a single draw. This takes a
# 64 MiB window of rand1g around the edits (at 512 MiB) and measures:
#   Pyxis:  `pyxis bench edits` (the real chunker) over KEYS seeds;
#   restic: data_added over REPOS fresh repositories.
#
#   bench/edits.sh          # KEYS=200 REPOS=40
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PYXIS=${PYXIS:-$HERE/../target/release/pyxis}
KEYS=${KEYS:-200}
REPOS=${REPOS:-40}
"$HERE/data.sh" > /dev/null
W="$PB/edits"; rm -rf "$W"; mkdir -p "$W"
win() { tail -c +$((480 * 1048576 + 1)) "$DATA/$1" | head -c "$2" > "$W/$3"; }
win rand1g $((64 * 1048576)) base
win rand1g.ow1m $((64 * 1048576)) ow1m
win rand1g.ins100 $((64 * 1048576 + 100)) ins100   # same tail as base
"$PYXIS" bench edits --keys "$KEYS" --json "$W/base" "$W/ow1m" "$W/ins100" > "$W/pyxis.json"
cat "$W/pyxis.json"

added() { grep '"message_type":"summary"' | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["data_added"])'; }
export RESTIC_PASSWORD=bench-not-secret RESTIC_CACHE_DIR="$W/restic-cache"
: > "$W/restic.tsv"
for r in $(seq 1 "$REPOS"); do
  rm -rf "$W/repo"; restic -r "$W/repo" init > /dev/null
  for f in base ow1m ins100; do
    mkdir -p "$W/in"; rm -f "$W/in"/*; ln "$W/$f" "$W/in/file"
    printf '%s\t%s\n' "$f" "$(restic -r "$W/repo" backup --json "$W/in" | added)" >> "$W/restic.tsv"
  done
done
rm -rf "$W/repo" "$W/in" "$W/restic-cache"
python3 - "$W/restic.tsv" <<'PY'
import json, statistics, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l]
out = []
for f in ('ow1m', 'ins100'):
    v = sorted(int(b) for name, b in rows if name == f)
    out.append({'file': f, 'repos': len(v), 'mean_data_added': statistics.mean(v),
                'median_data_added': statistics.median(v),
                'p90_data_added': v[round((len(v) - 1) * 0.9)], 'max_data_added': v[-1]})
print(json.dumps(out, indent=2))
PY
