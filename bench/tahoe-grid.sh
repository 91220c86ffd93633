#!/usr/bin/env bash
# A local Tahoe-LAFS grid on 127.0.0.1: introducer, 4 storage nodes, a client.
# Encoding 2-of-4, happy 3 (as ../shared/bench/peers). start | restart-client | stop
set -eu
. "$(dirname "$0")/lib.sh"
TAHOE=$PB/tahoe-venv/bin/tahoe
G=$PB/tahoe
BASE=${TAHOE_BASEPORT:-41000}
WEB=${TAHOE_WEBPORT:-41080}
ENC="--shares-needed=2 --shares-happy=3 --shares-total=4"

node() { setsid "$TAHOE" run --allow-stdin-close "$1" > "$1.log" 2>&1 < /dev/null & echo "$! $1" >> "$G/pids"; }
connected() {
  curl -s "http://127.0.0.1:$WEB/?t=json" 2>/dev/null | python3 -c '
import json,sys
try: print(sum(1 for s in json.load(sys.stdin).get("servers",[]) if str(s.get("connection_status","")).lower().startswith("connected")))
except Exception: print(0)' || echo 0
}
wait_grid() { for _ in $(seq 1 120); do [ "$(connected)" -ge 4 ] && return 0; sleep 1; done; echo "grid not connected" >&2; return 1; }

case "${1:-start}" in
start)
  [ ! -e "$G/pids" ] || "$0" stop
  rm -rf "$G"; mkdir -p "$G"
  "$TAHOE" create-introducer --listen=tcp --port=tcp:$BASE:interface=127.0.0.1 --location=tcp:127.0.0.1:$BASE "$G/introducer" > /dev/null
  node "$G/introducer"
  for _ in $(seq 1 60); do [ -s "$G/introducer/private/introducer.furl" ] && break; sleep 0.5; done
  FURL=$(cat "$G/introducer/private/introducer.furl")
  for n in 1 2 3 4; do
    "$TAHOE" create-node --nickname=storage$n --listen=tcp --port=tcp:$((BASE+n)):interface=127.0.0.1 \
      --location=tcp:127.0.0.1:$((BASE+n)) --introducer="$FURL" --webport=none $ENC "$G/storage$n" > /dev/null
    node "$G/storage$n"
  done
  "$TAHOE" create-node --nickname=client --no-storage --listen=tcp --port=tcp:$((BASE+5)):interface=127.0.0.1 \
    --location=tcp:127.0.0.1:$((BASE+5)) --introducer="$FURL" --webport=tcp:$WEB:interface=127.0.0.1 $ENC "$G/client" > /dev/null
  node "$G/client"
  wait_grid
  ;;
restart-client)   # a new convergence secret makes every upload a real one
  pid=$(awk -v d="$G/client" '$2==d{print $1}' "$G/pids")
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  grep -v " $G/client\$" "$G/pids" > "$G/pids.tmp"; mv "$G/pids.tmp" "$G/pids"
  head -c 32 /dev/urandom | base32 | tr -d '=\n' | tr 'A-Z' 'a-z' > "$G/client/private/convergence"  # Tahoe wants lowercase base32
  node "$G/client"
  wait_grid
  ;;
stop)
  [ -e "$G/pids" ] || exit 0
  while read -r pid _; do kill "$pid" 2>/dev/null || true; done < "$G/pids"
  while read -r pid _; do while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; done < "$G/pids"
  rm -f "$G/pids"
  ;;
esac
