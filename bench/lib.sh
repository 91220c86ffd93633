# Shared helpers for the benchmark scripts. Source this file.
#   measure LABEL BYTES -- cmd args...
# runs cmd under /usr/bin/time -v followed by `sync` (so written data counts),
# and appends a row to $RAW: label bytes wall_s user_s sys_s maxrss_kib exit.
# NOSYNC=1: no sync around it (a command that writes nothing, timed alone).
PB=${PB:-/tmp/pyxis-bench}
DATA=${DATA:-$PB/data}
LOGS=${LOGS:-$PB/logs}
RAW=${RAW:-$PB/raw.tsv}
FACTS=${FACTS:-$PB/facts.tsv}
mkdir -p "$LOGS"
[ -s "$RAW" ] || printf 'label\tbytes\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\n' > "$RAW"

measure() {
  local label=$1 bytes=$2; shift 3   # skip the "--"
  local log="$LOGS/$label.log" tf="$LOGS/$label.time" t0 t1 rc
  [ -n "${NOSYNC:-}" ] || sync
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$tf" "$@" > "$log" 2>&1 && rc=0 || rc=$?
  [ -n "${NOSYNC:-}" ] || sync
  t1=$(date +%s%N)
  local wall user sys rss
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f",(b-a)/1e9}')
  user=$(awk -F': ' '/User time/{print $2}' "$tf")
  sys=$(awk -F': ' '/System time/{print $2}' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tf")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$bytes" "$wall" "$user" "$sys" "$rss" "$rc" >> "$RAW"
  echo "[$label] wall=${wall}s user=$user sys=$sys rss=${rss}KiB rc=$rc" >&2
  return $rc
}

# record KEY VALUE: a free-form fact (bytes sent for an edit, ...).
record() { printf '%s\t%s\n' "$1" "$2" >> "$FACTS"; echo "[fact] $1 = $2" >&2; }

# Peak resident memory (KiB) of a running process, from the kernel.
vmhwm() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# online BIN DIR: how many remotes of the `pyxis up` in DIR are online (0
# while it starts).
online() {
  "$1" admin remotes --data "$2/server" --json 2>/dev/null \
    | python3 -c 'import json,sys; print(sum(r["state"]=="online" for r in json.load(sys.stdin)["remotes"]))' 2>/dev/null \
    || echo 0
}
