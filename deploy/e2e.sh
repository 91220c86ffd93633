#!/usr/bin/env bash
# The deploy files against a running network, with a real Prometheus:
#
#   deploy/e2e.sh            (PYXIS=path/to/pyxis, default target/debug/pyxis)
#
# 1. `pyxis up` (a server and 4 remotes, metrics on) and one more remote in
#    a process of its own, admitted with an operator's token;
# 2. a put and a get through them;
# 3. Prometheus (Debian's package) scrapes all six with deploy/prometheus's
#    rules, every `for:` cut to 2 s so the test does not wait minutes;
# 4. every metric the rules and the dashboard use is in the daemons'
#    scrapes (metrics_used.py), and Prometheus has ingested them;
# 5. the lone remote is killed: PyxisRemoteDown must fire for it.
set -euo pipefail

deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$deploy/.."
# shellcheck source=deploy/lib.sh
. "$deploy/lib.sh"
pyxis_binary
if ! command -v prometheus >/dev/null 2>&1; then
    echo "installing Debian's prometheus"
    apt_install prometheus
fi

start_scratch

# Ports from a range of their own, moved by the PID so two runs can coexist.
base=$((20000 + ($$ % 400) * 100))
server=127.0.0.1:$base metrics=127.0.0.1:$((base + 10)) lone=127.0.0.1:$((base + 20))
lone_metrics=127.0.0.1:$((base + 21)) prom=127.0.0.1:$((base + 30))

echo "== a network: pyxis up, and one remote of its own"
"$PYXIS" up --dir "$work/net" --listen "$server" --remotes 4 --metrics-listen "$metrics" >"$work/up.log" 2>&1 &
pids+=($!)
wait_for 60 grep -q "Pyxis is up" "$work/up.log"
export PYXIS_SERVER=https://$server PYXIS_CA=$work/net/tls/ca.pem PYXIS_CONFIG=$work/client
token=$("$PYXIS" admin remote-token --data "$work/net/server" --vetted --ttl 10m)
# This one from a config file, as the systemd unit runs it.
cat >"$work/lone.toml" <<EOF
server = "$PYXIS_SERVER"
dir = "$work/lone"
capacity = "1GiB"
listen = "$lone"
insecure-http = true
name = "lone"
metrics-listen = "$lone_metrics"
EOF
"$PYXIS" remote --config-file "$work/lone.toml" --token "$token" >"$work/lone.log" 2>&1 &
lone_pid=$!
pids+=("$lone_pid")
wait_for 30 curl -sf "http://$lone_metrics/metrics"

echo "== a put and a get"
echo pw | "$PYXIS" signup alice --password-stdin >/dev/null
head -c 3000000 /dev/urandom >"$work/file"
"$PYXIS" put "$work/file" /file >/dev/null
"$PYXIS" get /file "$work/file.out" >/dev/null
cmp "$work/file" "$work/file.out"

echo "== Prometheus scrapes them"
mkdir -p "$work/prom"
sed -E 's/^( +for: ).*/\12s/' deploy/prometheus/alerts.yml >"$work/prom/alerts.yml"
remotes=""
for i in 1 2 3 4; do remotes="$remotes'127.0.0.1:$((base + 10 + i))', "; done
cat >"$work/prom/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [alerts.yml]
scrape_configs:
  - job_name: pyxis_server
    static_configs: [{targets: ['$metrics']}]
  - job_name: pyxis_remote
    static_configs: [{targets: [$remotes'$lone_metrics']}]
EOF
promtool check config "$work/prom/prometheus.yml" >/dev/null
prometheus --config.file="$work/prom/prometheus.yml" --storage.tsdb.path="$work/prom/data" \
    --web.listen-address="$prom" >"$work/prom.log" 2>&1 &
pids+=($!)
api() { curl -sf "http://$prom/api/v1/$1"; }
all_up() { api targets | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if len(t) == 6 and all(x["health"] == "up" for x in t) else 1)'; }
wait_for 60 all_up

echo "== every metric the rules and the dashboard use is scraped"
# The catalog's numbers come with the server's first refresh.
wait_for 30 sh -c "curl -sf http://$metrics/metrics | grep -q '^pyxis_chunks{'"
for port in $(seq $((base + 10)) $((base + 14))) $((base + 21)); do
    curl -sf "http://127.0.0.1:$port/metrics"
done >"$work/scrape.txt"
python3 deploy/metrics_used.py "$work/scrape.txt"
ingested() { api 'query?query=count(pyxis_http_requests_total)' | grep -q '"value":\[[0-9.]*,"[1-9]'; }
wait_for 30 ingested

echo "== kill the lone remote: PyxisRemoteDown fires"
kill -9 "$lone_pid"
firing() { api alerts | python3 -c '
import json, sys
a = json.load(sys.stdin)["data"]["alerts"]
sys.exit(0 if any(x["labels"]["alertname"] == "PyxisRemoteDown" and x["state"] == "firing"
                  and x["labels"].get("instance") == sys.argv[1] for x in a) else 1)' "$lone_metrics"; }
wait_for 60 firing
echo "PyxisRemoteDown fired for $lone_metrics"
echo "== deploy e2e passed"
