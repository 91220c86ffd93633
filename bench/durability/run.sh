#!/bin/sh
# The runs in RESULTS.md, one JSON object per line on stdout.
# Usage: bench/durability/run.sh [extra flags for every run] > results.jsonl
set -eu
cd "$(dirname "$0")/../.."
cargo build --release -q -p pyxis-durability
bin=target/release/pyxis-durability
harsh="--mean-lifetime-days 91 --offline-per-day 0.05"
run() { "$bin" --json "$@"; }
# The runs the brief asks for, all with the default seed (1).
run "$@"
run --scheme 4+2 "$@"
run --scheme 29/80 --threshold 52 "$@"
run $harsh "$@"
run $harsh --scheme 29/80 --threshold 52 "$@"
# Sensitivity: other seeds, a higher threshold, a shorter grace, more bandwidth.
run --seed 2 "$@"
run --seed 3 "$@"
run --threshold 8 "$@"
run --grace-hours 4 "$@"
run $harsh --repair-mbps 3000 "$@"
run $harsh --threshold 8 --repair-mbps 3000 "$@"
