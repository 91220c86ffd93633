#!/bin/sh
# The runs in RESULTS.md, one JSON object per line on stdout.
# Usage: bench/durability/run.sh [extra flags for every run] > results.jsonl
set -eu
cd "$(dirname "$0")/../.."
cargo build --release -q -p pyxis-durability
bin=target/release/pyxis-durability
harsh="--mean-lifetime-days 91 --offline-per-day 0.05"
calm="--mean-lifetime-days inf --offline-per-day 0"
greedy="--greedy-joiners 0.1 --claim-tb 1000"
run() { "$bin" --json "$@"; }
# 1-11: the runs of the first brief, all with the default seed (1), re-run
# with the default threshold min(k+2, n-1): 8 for 6+4, 5 for 4+2.
run "$@"
run --scheme 4+2 "$@"
run --scheme 29/80 --threshold 52 "$@"
run $harsh "$@"
run $harsh --scheme 29/80 --threshold 52 "$@"
# Sensitivity: other seeds, the old threshold k+1, a shorter grace, more
# bandwidth.
run --seed 2 "$@"
run --seed 3 "$@"
run --threshold 7 "$@"
run --grace-hours 4 "$@"
run $harsh --repair-mbps 3000 "$@"
run $harsh --threshold 7 --repair-mbps 3000 "$@"
# 12: the old threshold under harsh churn, beside run 4.
run $harsh --threshold 7 "$@"
# 13-17: lying remotes (10 % acknowledge shards and keep nothing), audited
# as the server does (360 an hour) or slowly (0.05: caught in ~60 h); 4+2
# with more bandwidth too.
run --liars 0.1 "$@"
run --liars 0.1 --threshold 7 "$@"
run --liars 0.1 --audits-per-hour 0.05 "$@"
run --scheme 4+2 --liars 0.1 "$@"
run --scheme 4+2 --liars 0.1 --repair-mbps 3000 "$@"
# 18-20: liars alone, every chunk committed at the success threshold with every
# liar's receipt counted: no churn, audits as the server runs them or none.
run --liars 0.1 --commit-at-threshold 1 $calm "$@"
run --liars 0.1 --commit-at-threshold 1 $calm --audits-per-hour 0 "$@"
run --scheme 4+2 --liars 0.1 --commit-at-threshold 1 $calm "$@"
# 21-22: the same commits under churn, without liars and with them.
run --commit-at-threshold 1 "$@"
run --liars 0.1 --commit-at-threshold 1 "$@"
# 23-27: late joiners claiming 1000 TB (10 % of joiners), capped by admission
# or believed, honest or lying.
run $greedy "$@"
run $greedy --no-cap "$@"
run $greedy --greedy-liars "$@"
run $greedy --no-cap --greedy-liars "$@"
run $greedy --no-cap --greedy-liars --audits-per-hour 0.05 "$@"
