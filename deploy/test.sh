#!/usr/bin/env bash
# Checks the deploy files.
#
#   deploy/test.sh [SCRAPE...]
#
# - promtool: prometheus.yml is a valid config, alerts.yml valid rules, and
#   the unit tests in alerts_test.yml pass (each alert fires after its `for:`
#   and not for conditions that clear in time);
# - grafana/pyxis.json is valid JSON;
# - the metric names the rules and the dashboard use are extracted
#   (metrics_used.py) and look like Pyxis metric names;
# - with SCRAPE files (the body of a daemon's /metrics, e.g.
#   `curl -s 127.0.0.1:9470/metrics > server.txt`; several files, or several
#   scrapes concatenated in one), every one of those names must appear in
#   them: run it against a server's and a remote's scrape to catch a renamed
#   metric;
# - the example config files (systemd/*.toml) are read by the pyxis binary
#   (PYXIS, default target/debug/pyxis) without an error;
# - when installed: the systemd units pass `systemd-analyze verify` and
#   nginx/pyxis.conf passes `nginx -t` (with a throwaway certificate).
#
# promtool comes from Debian's `prometheus` package, installed with apt-get
# when missing (as root, or through sudo).

set -euo pipefail

deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$deploy/.."

step() { printf '\n== %s\n' "$*"; }

# shellcheck source=deploy/lib.sh
. "$deploy/lib.sh"

scrapes=("$@")
for f in "${scrapes[@]+"${scrapes[@]}"}"; do
    [ -r "$f" ] || { echo "cannot read scrape file $f" >&2; exit 2; }
done

if ! command -v promtool >/dev/null 2>&1; then
    step "installing promtool (Debian package prometheus)"
    apt_install prometheus
fi
promtool --version 2>&1 | head -n 1

step "promtool check config"
promtool check config deploy/prometheus/prometheus.yml

step "promtool check rules"
promtool check rules deploy/prometheus/alerts.yml

step "promtool test rules"
promtool test rules deploy/prometheus/alerts_test.yml

step "dashboard JSON"
python3 -m json.tool deploy/grafana/pyxis.json >/dev/null
echo "deploy/grafana/pyxis.json: valid JSON"

step "metric names used by the rules and the dashboard"
used=$(python3 deploy/metrics_used.py --list)
[ -n "$used" ] || { echo "no metric names found" >&2; exit 1; }
# Anything else is a label name or keyword the extraction failed to skip.
if bad=$(grep -v '^pyxis_' <<<"$used"); then
    echo "not Pyxis metric names (extraction bug?):" >&2
    echo "$bad" >&2
    exit 1
fi
echo "$(wc -l <<<"$used") names: $(tr '\n' ' ' <<<"$used")"

if [ "${#scrapes[@]}" -gt 0 ]; then
    step "metric names against ${scrapes[*]}"
    python3 deploy/metrics_used.py "${scrapes[@]}"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step "example config files"
pyxis_binary
"$PYXIS" server --config-file deploy/systemd/server.toml --print-config >"$tmp/server.settings"
"$PYXIS" remote --config-file deploy/systemd/remote.toml --print-config >"$tmp/remote.settings"
grep -q '^public-url = "https://pyxis.example.org"' "$tmp/server.settings"
grep -q '^capacity = "1TiB"' "$tmp/remote.settings"
echo "server.toml and remote.toml: read back as set"

step "systemd units"
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify wants ExecStart's binary to exist: check copies that run /bin/true.
    for unit in pyxis-server pyxis-remote; do
        sed 's#/usr/local/bin/pyxis#/bin/true#' "deploy/systemd/$unit.service" >"$tmp/$unit.service"
    done
    systemd-analyze verify --man=no "$tmp/pyxis-server.service" "$tmp/pyxis-remote.service"
    echo "systemd-analyze verify: ok"
else
    echo "skipped: systemd-analyze not installed"
fi

step "nginx config"
if command -v nginx >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=pyxis.example.org \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
    # nginx -t binds the listen addresses: use unprivileged loopback ports
    # (and leave out the IPv6 twins, which some CI containers cannot bind).
    sed -e "s#/etc/letsencrypt/live/pyxis.example.org/fullchain.pem#$tmp/cert.pem#" \
        -e "s#/etc/letsencrypt/live/pyxis.example.org/privkey.pem#$tmp/key.pem#" \
        -e 's#^\( *listen \)80;#\1127.0.0.1:18080;#' \
        -e 's#^\( *listen \)443 #\1127.0.0.1:18443 #' \
        -e '/^ *listen \[::\]:/d' \
        deploy/nginx/pyxis.conf >"$tmp/pyxis.conf"
    grep -q '127.0.0.1:18443 ssl' "$tmp/pyxis.conf" || { echo "test.sh: listen rewrite failed" >&2; exit 1; }
    cat >"$tmp/nginx.conf" <<EOF
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events {}
http {
    access_log off;
    include $tmp/pyxis.conf;
}
EOF
    nginx -t -q -c "$tmp/nginx.conf" -p "$tmp/"
    echo "nginx -t: ok"
else
    echo "skipped: nginx or openssl not installed"
fi

step "all deploy checks passed"
