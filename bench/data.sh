#!/usr/bin/env bash
# The benchmark data, identical to ../shared/bench/peers (so figures compare):
#   rand1g         1 GiB AES-256-CTR keystream of a fixed passphrase (incompressible)
#   rand1g.ow1m    rand1g with 1 MiB overwritten at 512 MiB
#   rand1g.ins100  rand1g with 100 bytes inserted at 512 MiB
#   corpus/        a copy of the stable Rust toolchain (~52,000 real files)
#   small/         40,000 small files (median under 4 KB, some empty, deep
#                  directories; bench/smalltree.py, the same on every machine)
set -eu   # no pipefail: "keystream | head -c N" ends openssl with SIGPIPE on purpose
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
mkdir -p "$DATA"; cd "$DATA"
keystream() { openssl enc -aes-256-ctr -pbkdf2 -iter 1 -nosalt -pass "pass:$1" < /dev/zero 2>/dev/null; }
if [ "$(stat -c %s rand1g 2>/dev/null || echo 0)" != 1073741824 ]; then
  keystream peerbench-rand1g | head -c 1073741824 > rand1g
fi
HALF=$((512*1024*1024))
if [ ! -s rand1g.ow1m ]; then
  cp --reflink=never rand1g rand1g.ow1m
  keystream peerbench-overwrite | head -c 1048576 | dd of=rand1g.ow1m bs=1M seek=512 conv=notrunc status=none
fi
if [ ! -s rand1g.ins100 ]; then
  { head -c $HALF rand1g; keystream peerbench-insert | head -c 100; tail -c +$((HALF+1)) rand1g; } > rand1g.ins100
fi
SRC=${CORPUS_SRC:-$(readlink -f ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu)}
[ -d corpus ] || cp -a "$SRC" corpus
[ -d small ] || python3 "$HERE/smalltree.py" small
sync
echo "data ready in $DATA: rand1g, rand1g.ow1m, rand1g.ins100, corpus ($(find corpus -type f | wc -l) files, $(du -sb corpus | cut -f1) bytes), small ($(find small -type f | wc -l) files, $(du -sb small | cut -f1) bytes)"
