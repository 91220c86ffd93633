#!/usr/bin/env bash
# Interleaved A/B of Pyxis put/get speed for three variants on this machine:
#   old    an older release (OLD=binary; e.g. cda9c07, before TLS), plain HTTP
#   tls    this release (NEW=binary), `pyxis up` default: HTTPS with the network's CA
#   plain  this release with `pyxis up --insecure-http`
#   oldtls the older release (OLD=) with HTTPS, for releases that have TLS
#          (VARIANTS="oldtls tls": what a change costs with TLS on both sides)
# Each round runs every variant in turn (old, tls, plain, old, ...), each on a
# fresh `pyxis up --remotes 6` in a fresh directory, and measures put and get
# of the 1 GiB random file and of the corpus tree (results are compared).
#
#   OLD=/tmp/ab/pyxis-old NEW=/tmp/ab/pyxis-new RUNS=5 DATA=/tmp/pyxis-bench/data bench/ab.sh
#   cat /tmp/pyxis-ab/summary.md
# Copy the binaries out of target/ first so a rebuild cannot change them mid-run.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
export PB=${PB:-/tmp/pyxis-ab}
: "${OLD:?OLD=path of the older pyxis binary}" "${NEW:?NEW=path of the current pyxis binary}"
RUNS=${RUNS:-5}
PORT=${PORT:-17370}              # the server; its remotes take PORT+1..PORT+6
VARIANTS=${VARIANTS:-old tls plain}
CORPUS=${CORPUS:-1}              # CORPUS=0: the 1 GiB file only
rm -rf "$PB/raw.tsv" "$PB/facts.tsv" "$PB/logs"
. "$HERE/lib.sh"
[ -s "$DATA/rand1g" ] && [ -d "$DATA/corpus" ] || "$HERE/data.sh"
RB=$(stat -c %s "$DATA/rand1g"); CB=$(du -sb "$DATA/corpus" | cut -f1)
warm() { cat "$DATA/rand1g" > /dev/null; tar -cf - -C "$DATA" corpus > /dev/null; }
FAILS=0
fail() { echo "FAIL: $*" >&2; record "fail.$1" 1; FAILS=$((FAILS + 1)); }
port_busy() { ss -Htln "sport >= :$PORT and sport <= :$((PORT + 6))" | grep -q .; }

run_variant() {
  local v=$1 r=$2 bin scheme up_args="" N="$PB/net" up n
  case $v in
    old) bin=$OLD scheme=http ;;
    oldtls) bin=$OLD scheme=https ;;
    tls) bin=$NEW scheme=https ;;
    plain) bin=$NEW scheme=http up_args=--insecure-http ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
  for _ in $(seq 1 100); do port_busy || break; sleep 0.2; done
  port_busy && { fail "$v.r$r.port_busy"; return; }
  rm -rf "$N"; mkdir -p "$N"
  # shellcheck disable=SC2086
  "$bin" up --remotes 6 --dir "$N/data" --listen "127.0.0.1:$PORT" $up_args > "$LOGS/ab_${v}_up.r$r.log" 2>&1 &
  up=$!
  export PYXIS_SERVER="$scheme://127.0.0.1:$PORT" PYXIS_CONFIG="$N/cfg" PYXIS_PASSWORD=bench-not-secret
  if [ "$scheme" = https ]; then
    for _ in $(seq 1 100); do [ -s "$N/data/tls/ca.pem" ] && break; sleep 0.1; done
    export PYXIS_CA="$N/data/tls/ca.pem"
  else
    unset PYXIS_CA
  fi
  n=0
  for _ in $(seq 1 150); do
    n=$(online "$bin" "$N/data")
    [ "$n" = 6 ] && break; sleep 0.2
  done
  [ "$n" = 6 ] || fail "$v.r$r.remotes_online_$n"
  "$bin" signup bench > "$LOGS/ab_${v}_signup.r$r.log" 2>&1 || fail "$v.r$r.signup"
  warm
  measure "ab_${v}_put_rand1g.r$r" "$RB" -- "$bin" --json put "$DATA/rand1g" /rand1g || fail "$v.r$r.put_rand1g"
  measure "ab_${v}_get_rand1g.r$r" "$RB" -- "$bin" --json get /rand1g "$N/rand1g.out" || fail "$v.r$r.get_rand1g"
  cmp -s "$N/rand1g.out" "$DATA/rand1g" || fail "$v.r$r.cmp_rand1g"
  rm -f "$N/rand1g.out"
  if [ "$CORPUS" != 0 ]; then
    measure "ab_${v}_put_corpus.r$r" "$CB" -- "$bin" --json put "$DATA/corpus" /corpus || fail "$v.r$r.put_corpus"
    # As compare.sh: the corpus get starts from a cold cache for the stored
    # shards, with the source data warm again.
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; warm
    measure "ab_${v}_get_corpus.r$r" "$CB" -- "$bin" --json get /corpus "$N/corpus.out" || fail "$v.r$r.get_corpus"
    diff -r -q "$N/corpus.out" "$DATA/corpus" > /dev/null || fail "$v.r$r.diff_corpus"
  fi
  record "$v.r$r.up_vmhwm_kib" "$(vmhwm $up)"
  record "$v.r$r.stored_bytes" "$(du -sb "$N/data" | cut -f1)"
  kill -INT $up; local rc=0; wait $up || rc=$?
  record "$v.r$r.up_exit" "$rc"
  rm -rf "$N"
}

for r in $(seq 1 "$RUNS"); do
  for v in $VARIANTS; do
    echo "== round $r: $v ($(date +%T)) ==" >&2
    run_variant "$v" "$r"
  done
done

python3 - "$RAW" "$FACTS" "$VARIANTS" <<'EOF' | tee "$PB/summary.md"
import collections, statistics, sys
raw, facts, variants = sys.argv[1], sys.argv[2], sys.argv[3].split()
walls, nbytes, bad = collections.defaultdict(list), {}, []
for line in open(raw).read().splitlines()[1:]:
    label, b, wall, user, sysm, rss, rc = line.split("\t")
    name, run = label.rsplit(".r", 1)
    if rc != "0":
        bad.append(label)
        continue
    walls[name].append((int(run), float(wall)))
    nbytes[name] = int(b)
fact = collections.defaultdict(list)
for line in open(facts).read().splitlines():
    k, v = line.split("\t")
    fact[k].append(v)
work = [("put", "rand1g"), ("get", "rand1g"), ("put", "corpus"), ("get", "corpus")]
med = lambda n: statistics.median(w for _, w in walls[n]) if walls.get(n) else None
def cell(n):
    m = med(n)
    return "—" if m is None else f"{m:.2f} s, {nbytes[n] / 1e6 / m:.0f} MB/s"
def ratio(a, b):
    ma, mb = med(a), med(b)
    return "—" if not ma or not mb else f"{mb / ma:.3f}×"
print("Median wall time and throughput (MB = 10^6 bytes); ratios are throughput ratios of the medians.\n")
print("| workload | " + " | ".join(variants) + " | tls ÷ old | tls ÷ plain | tls ÷ oldtls |")
print("|---|" + "---|" * (len(variants) + 3))
for op, d in work:
    n = {v: f"ab_{v}_{op}_{d}" for v in variants}
    print(f"| {op} {d} | " + " | ".join(cell(n[v]) for v in variants)
          + f" | {ratio(n.get('tls', ''), n.get('old', ''))} | {ratio(n.get('tls', ''), n.get('plain', ''))}"
          + f" | {ratio(n.get('tls', ''), n.get('oldtls', ''))} |")
print("\nPer-run wall seconds (for outliers):\n")
print("| workload | variant | runs |")
print("|---|---|---|")
for op, d in work:
    for v in variants:
        n = f"ab_{v}_{op}_{d}"
        print(f"| {op} {d} | {v} | " + " ".join(f"r{r}={w:.2f}" for r, w in sorted(walls.get(n, []))) + " |")
print("\n| variant | `pyxis up` VmHWM KiB per run | max MiB | up exit codes |")
print("|---|---|---|---|")
for v in variants:
    hw = [int(x) for k, vs in sorted(fact.items()) if k.startswith(f"{v}.r") and k.endswith(".up_vmhwm_kib") for x in vs]
    ex = [x for k, vs in sorted(fact.items()) if k.startswith(f"{v}.r") and k.endswith(".up_exit") for x in vs]
    print(f"| {v} | {' '.join(map(str, hw))} | {max(hw, default=0) / 1024:.0f} | {' '.join(ex)} |")
fails = [k for k in fact if k.startswith("fail.")]
print(f"\nNonzero measure exits: {', '.join(bad) or 'none'}. Failures: {', '.join(fails) or 'none'}.")
EOF
exit $((FAILS > 0))
