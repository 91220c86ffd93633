#!/usr/bin/env bash
# The admin page (/admin) in headless Chromium, against real processes:
#
#   deploy/admin-e2e.sh      (PYXIS=path/to/pyxis, default target/debug/pyxis)
#
# A server (heartbeats every second, a remote silent 3 s is offline), two
# remotes and a user with a file; deploy/admin_e2e.py drives Chromium over
# WebDriver: a wrong admin token is refused, the right one logs in, both
# remotes show online, one is killed and its row turns offline within
# seconds. The screenshot is kept as target/admin-page.png. Installs
# Debian's chromium and chromium-driver when missing.
set -euo pipefail

deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$deploy/.."
# shellcheck source=deploy/lib.sh
. "$deploy/lib.sh"
pyxis_binary
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium and chromium-driver"
    apt_install chromium chromium-driver
fi

start_scratch
show_on_failure=(server.log chromedriver.log)

base=$((20000 + ($$ % 400) * 100 + 50))
server=127.0.0.1:$base driver=$((base + 9))
admin=admin-e2e-token-$$

echo "== a server and two remotes"
"$PYXIS" server --listen "$server" --data "$work/server" --insecure-http --admin-token "$admin" \
    --heartbeat 1s --offline-after 3s >"$work/server.log" 2>&1 &
pids+=($!)
wait_for 30 curl -sf "http://$server/healthz"
export PYXIS_SERVER=http://$server PYXIS_CONFIG=$work/client
remote_pids=()
for i in 1 2; do
    token=$("$PYXIS" admin remote-token --token "$admin" --vetted)
    "$PYXIS" remote --server "http://$server" --dir "$work/r$i" --capacity 1GiB --insecure-http \
        --listen "127.0.0.1:$((base + i))" --name "remote-$i" --token "$token" >"$work/r$i.log" 2>&1 &
    pids+=($!)
    remote_pids+=($!)
done
echo pw | "$PYXIS" signup alice --password-stdin >/dev/null
wait_for 30 "$PYXIS" admin remotes --token "$admin"
head -c 300000 /dev/urandom >"$work/file"
wait_for 30 "$PYXIS" put "$work/file" /file

echo "== chromedriver and the page"
chromedriver --port="$driver" >"$work/chromedriver.log" 2>&1 &
pids+=($!)
wait_for 30 curl -sf "http://127.0.0.1:$driver/status"
mkdir -p target
WEBDRIVER=http://127.0.0.1:$driver python3 deploy/admin_e2e.py \
    "http://$server" "$admin" "${remote_pids[1]}" remote-2 target/admin-page.png
echo "== the admin page passed"
