#!/usr/bin/env bash
# The sync simulation (crates/pyxis-sync/tests/sim.rs) over many seeds:
# several devices and a model server, random edits, renames, offline
# spells and crashes mid-pass, checked for convergence and lost edits.
# CI runs 300 seeds; this runs SEEDS (default 20,000) in release mode and
# prints any failing seed, which `PYXIS_SIM_SEED=N cargo test -p pyxis-sync
# --test sim -- --nocapture` replays with its whole schedule.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-20000}
start=$(date +%s)
if PYXIS_SIM_SEEDS=$SEEDS cargo test --release -q -p pyxis-sync --test sim -- --nocapture; then
  echo "sync simulation: $SEEDS seeds passed in $(( $(date +%s) - start )) s"
else
  echo "sync simulation: failures above (replay with PYXIS_SIM_SEED=N)" >&2
  exit 1
fi
