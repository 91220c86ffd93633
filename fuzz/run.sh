#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a while: a smoke test of every
# decoder of bytes from another party (docs/SECURITY.md, "Hostile input").
#
#   fuzz/run.sh                      every target, FUZZ_SECONDS (default 20) each
#   fuzz/run.sh shard grant          only these
#   FUZZ_SECONDS=600 fuzz/run.sh manifest
#
# Before fuzzing, each target runs the inputs kept in fuzz/regressions/<target>/
# (crashes found earlier): they must keep passing. Fuzzing starts from
# fuzz/corpus/<target>/ (the committed seed-* files plus whatever earlier runs
# added, which git ignores). A crash fails the script and says where the input
# was saved.
#
# Builds on stable with `-s none`: plain `cargo fuzz build` turns on
# AddressSanitizer, which needs nightly flags. The targets are safe Rust, where
# the sanitizer finds little; to use it anyway (builds in about twice the time,
# runs several times slower):
#   RUSTC_BOOTSTRAP=1 FUZZ_SANITIZER=address fuzz/run.sh
#
# fuzz/dicts/<target>.dict, where present, gives libFuzzer tokens to splice in
# (JSON syntax, field names, integer limits).
#
# The default time is short because the build dominates CI's cost: a clean
# build instruments the whole dependency graph of the remote and the
# client (the server's session tokens are in pyxis-core, so its database
# stack stays out), while 20 s per target, two at a time, adds a minute and
# a half.
# For the same reason it builds with 16 codegen units (FUZZ_CGU): cargo
# fuzz's default of one makes rustc compile each crate on one core, which
# took 17.7 minutes of a cold CI run on 2 cores; the price is somewhat
# slower fuzzing, which a smoke test can pay.
#
# FUZZ_JOBS targets run at once (default: one per core). cargo-fuzz is
# installed into FUZZ_TOOLS (default ~/.cache/pyxis-fuzz) when missing.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-20}
sanitizer=${FUZZ_SANITIZER:-none}
cgu=${FUZZ_CGU:-16}
jobs=${FUZZ_JOBS:-$(nproc)}
tools=${FUZZ_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pyxis-fuzz}
export PATH="$tools/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz into $tools"
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi

# cargo fuzz has no --locked; this refuses a stale fuzz/Cargo.lock the same way.
if ! cargo fetch --locked --quiet; then
  echo "fuzz/Cargo.lock is out of date: run \`cargo fetch\` in fuzz/ and commit the lock file" >&2
  exit 1
fi

if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
start=$SECONDS
if [ $# -gt 0 ]; then
  for t in "${targets[@]}"; do cargo fuzz build -s "$sanitizer" --codegen-units "$cgu" "$t"; done
else
  cargo fuzz build -s "$sanitizer" --codegen-units "$cgu"
fi
echo "built ${#targets[@]} targets in $((SECONDS - start)) s"

# Absolute, so the messages below can be pasted anywhere.
bin_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")/$(rustc -vV | sed -n 's/^host: //p')/release
mkdir -p logs

# Runs one target: its regression inputs, then FUZZ_SECONDS of fuzzing.
# Writes logs/<target>.log and a one-line summary to logs/<target>.result.
fuzz_one() {
  local t=$1 bin=$bin_dir/$1 log=logs/$1.log
  mkdir -p "corpus/$t" "artifacts/$t"
  : >"$log"
  local kept=()
  if [ -d "regressions/$t" ]; then
    mapfile -t kept < <(find "regressions/$t" -type f ! -name .gitkeep | sort)
  fi
  if [ ${#kept[@]} -gt 0 ] && ! "$bin" "${kept[@]}" >>"$log" 2>&1; then
    echo "$t: FAILED a kept regression input in fuzz/regressions/$t/ (log: fuzz/$log)" >"logs/$t.result"
    return 1
  fi
  local dict=()
  if [ -f "dicts/$t.dict" ]; then dict=(-dict="dicts/$t.dict"); fi
  if "$bin" "corpus/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="artifacts/$t/" >>"$log" 2>&1; then
    local runs rate
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    echo "$t: ok, ${#kept[@]} kept inputs, $runs runs, $rate exec/s, corpus $(find "corpus/$t" -type f | wc -l) files" \
      >"logs/$t.result"
  else
    local input
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    {
      echo "$t: CRASHED (log: fuzz/$log)"
      echo "  input saved at fuzz/${input:-artifacts/$t/}"
      echo "  reproduce: $bin fuzz/${input:-artifacts/$t/<file>}"
      echo "  fix the bug, then keep the input: cp fuzz/${input:-artifacts/$t/<file>} fuzz/regressions/$t/"
    } >"logs/$t.result"
    return 1
  fi
}

failed=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done

for t in "${targets[@]}"; do cat "logs/$t.result"; done
echo "fuzzing took $((SECONDS - start)) s in all, build included"
exit "$failed"
