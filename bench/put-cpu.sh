#!/usr/bin/env bash
# One put of the 1 GiB random file on a fresh `pyxis up --remotes 6`: wall
# time, the client's CPU (GNU time) and the network's CPU (the `pyxis up`
# process, from /proc). For quick A/B runs while profiling:
#
#   bench/put-cpu.sh /path/to/pyxis https            # TLS
#   bench/put-cpu.sh /path/to/pyxis http --insecure-http
#   bench/put-cpu.sh /path/to/older/pyxis http       # a release before TLS
set -eu
BIN=$1; SCHEME=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
DATA=${DATA:-/tmp/pyxis-bench/data}; PORT=${PORT:-17470}
[ -s "$DATA/rand1g" ] || "$HERE/data.sh"
D=$(mktemp -d /tmp/pyxis-putcpu.XXXX)
"$BIN" up --remotes 6 --dir "$D/data" --listen "127.0.0.1:$PORT" "$@" > "$D/up.log" 2>&1 &
UP=$!
export PYXIS_SERVER="$SCHEME://127.0.0.1:$PORT" PYXIS_CONFIG="$D/cfg" PYXIS_PASSWORD=bench-not-secret
if [ "$SCHEME" = https ]; then
  for _ in $(seq 1 100); do [ -s "$D/data/tls/ca.pem" ] && break; sleep 0.1; done
  export PYXIS_CA="$D/data/tls/ca.pem"
else
  unset PYXIS_CA
fi
for _ in $(seq 1 100); do
  n=$(online "$BIN" "$D/data")
  [ "$n" = 6 ] && break; sleep 0.2
done
"$BIN" signup bench > /dev/null
cat "$DATA/rand1g" > /dev/null
ticks() { awk '{print $14+$15}' "/proc/$UP/stat"; }
t0=$(ticks); s=$(date +%s%N)
/usr/bin/time -f "client_user_s=%U client_sys_s=%S" "$BIN" --json put "$DATA/rand1g" /rand1g > /dev/null
e=$(date +%s%N); t1=$(ticks)
echo "wall_s=$(awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f",(b-a)/1e9}') network_cpu_s=$(awk -v t=$((t1-t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f",t/hz}')"
kill -INT $UP; wait $UP || true; rm -rf "$D"
