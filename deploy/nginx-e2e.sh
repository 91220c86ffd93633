#!/usr/bin/env bash
# deploy/nginx/pyxis.conf in a real nginx, in front of a running network:
#
#   deploy/nginx-e2e.sh      (PYXIS=path/to/pyxis, default target/debug/pyxis)
#
# 1. a first `pyxis up` (HTTPS) only to get a CA and a server certificate
#    valid for 127.0.0.1 (DIR/tls/ca.pem, server.pem, server.key): nginx's
#    certificate; that network is stopped once they are copied;
# 2. a second `pyxis up`, plain HTTP on loopback and believing 127.0.0.1's
#    X-Forwarded-For, as deploy/nginx/pyxis.conf expects its server to run;
# 3. Debian's nginx with pyxis.conf, rewritten with sed for paths, ports,
#    certificate and server_name only: the proxying is the file's own;
# 4. through nginx: a signup, a put and a get of 3 MB (the shards go straight
#    to the remotes, as in production); a WebSocket subscription to the change
#    feed (python3, standard library only) and a long poll, both of which
#    must see a mkdir made afterwards;
# 5. nginx refuses /metrics (403), its port-80 server only redirects, and the
#    server tells clients apart by the X-Forwarded-For nginx sends.
set -euo pipefail

deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$deploy/.."
# shellcheck source=deploy/lib.sh
. "$deploy/lib.sh"
pyxis_binary
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "installing Debian's nginx"
    # nginx-light is the small build (a transitional package to nginx on
    # Debian 12 and later); either has the proxy, ssl, http2 and map modules.
    apt_install nginx-light || apt_install nginx
fi
# Debian installs it in /usr/sbin, which a normal user's PATH may lack.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -v 2>&1

start_scratch
show_on_failure=(b.log nginx/error.log nginx/stderr.log ws.err)

# Ports from a range of their own (not deploy/e2e.sh's 20000-59999 steps of
# 100 at +0..+30: this one uses +40..+71), moved by the PID so two runs can
# coexist. A's remote takes PA+1, B's remotes PB+1..PB+4.
base=$((20000 + ($$ % 400) * 100))
PA=$((base + 40)) PB=$((base + 50)) PN=$((base + 70)) PR=$((base + 71))

echo "== network A, for its CA and a certificate for 127.0.0.1"
"$PYXIS" up --dir "$work/a" --listen "127.0.0.1:$PA" --remotes 1 >"$work/a.log" 2>&1 &
a_pid=$!
pids+=("$a_pid")
wait_for 60 grep -q "Pyxis is up" "$work/a.log"
mkdir -p "$work/tls"
cp "$work/a/tls/ca.pem" "$work/a/tls/server.pem" "$work/a/tls/server.key" "$work/tls/"
kill "$a_pid"
wait "$a_pid" 2>/dev/null || true
ca=$work/tls/ca.pem

echo "== network B, plain HTTP on loopback behind nginx"
# --limit-auth 2/60s: a limit keyed by client address, to see below which
# address the server takes a request to come from.
"$PYXIS" up --dir "$work/b" --listen "127.0.0.1:$PB" --remotes 4 --insecure-http \
    --trusted-proxy 127.0.0.1 --limit-auth 2/60s >"$work/b.log" 2>&1 &
pids+=($!)
wait_for 60 grep -q "Pyxis is up" "$work/b.log"

echo "== nginx with deploy/nginx/pyxis.conf"
mkdir -p "$work/nginx"
# Only the deployment's particulars change: the upstream's port, the
# certificate, the names and the listen addresses (unprivileged loopback
# ports; the IPv6 twins left out, which some CI containers cannot bind).
sed -e "s#^\( *server \)127\.0\.0\.1:7070;#\1127.0.0.1:$PB;#" \
    -e "s#/etc/letsencrypt/live/pyxis.example.org/fullchain.pem#$work/tls/server.pem#" \
    -e "s#/etc/letsencrypt/live/pyxis.example.org/privkey.pem#$work/tls/server.key#" \
    -e 's#^\( *server_name \)pyxis\.example\.org;#\1127.0.0.1;#' \
    -e "s#^\( *listen \)80;#\1127.0.0.1:$PR;#" \
    -e "s#^\( *listen \)443 #\1127.0.0.1:$PN #" \
    -e '/^ *listen \[::\]:/d' \
    deploy/nginx/pyxis.conf >"$work/nginx/pyxis.conf"
# Every rewrite must have taken (a changed pyxis.conf would silently keep
# the original line otherwise).
for want in "server 127.0.0.1:$PB;" "listen 127.0.0.1:$PR;" "listen 127.0.0.1:$PN ssl" \
    "ssl_certificate     $work/tls/server.pem;" "ssl_certificate_key $work/tls/server.key;"; do
    grep -qF "$want" "$work/nginx/pyxis.conf" || { echo "rewrite of pyxis.conf failed: no '$want'" >&2; exit 1; }
done
if grep -nvE '^ *#' "$work/nginx/pyxis.conf" | grep -E ':7070\b|letsencrypt|example\.org|listen +(80|443)\b|listen +\['; then
    echo "rewrite of pyxis.conf left the directives above" >&2
    exit 1
fi
# The temporary files' directories of the modules this nginx has (Debian's
# defaults are under /var/lib/nginx), so that it runs as a normal user too.
built=$("$NGINX" -V 2>&1)
temps=""
for m in client_body proxy fastcgi uwsgi scgi; do
    [[ $built == *"--without-http_${m}_module"* ]] ||
        temps="$temps    ${m}_temp_path $work/nginx/${m}_temp;"$'\n'
done
cat >"$work/nginx/nginx.conf" <<EOF
$([ "$(id -u)" -eq 0 ] && echo "user root;" || true)
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log info;
events {}
http {
$temps    log_format pyxis '\$remote_addr "\$request" \$status sent_xff="\$proxy_add_x_forwarded_for"';
    access_log $work/nginx/access.log pyxis;
    include $work/nginx/pyxis.conf;
}
EOF
early_log=()
# -e (nginx >= 1.19.5): the log of errors before the config is read.
[[ $("$NGINX" -h 2>&1) == *"-e filename"* ]] && early_log=(-e "$work/nginx/error.log")
nginx_args=("${early_log[@]+"${early_log[@]}"}" -p "$work/nginx/" -c "$work/nginx/nginx.conf")
"$NGINX" "${nginx_args[@]}" -t -q
# In the foreground (daemon off), as a job of this shell: $! is the master,
# whose SIGTERM stops the workers too.
"$NGINX" "${nginx_args[@]}" >"$work/nginx/stderr.log" 2>&1 &
pids+=($!)
front=https://127.0.0.1:$PN
wait_for 30 curl -s -o /dev/null --cacert "$ca" "$front/"

echo "== through nginx: signup, a put and a get"
export PYXIS_SERVER=$front PYXIS_CA=$ca PYXIS_CONFIG=$work/client
echo pw | "$PYXIS" signup alice --password-stdin >/dev/null
head -c 3000000 /dev/urandom >"$work/file"
"$PYXIS" put "$work/file" /file >/dev/null
"$PYXIS" get /file "$work/file.out" >/dev/null
cmp "$work/file" "$work/file.out"
"$PYXIS" ls / | grep -q file

echo "== through nginx: the change feed, by WebSocket and by long poll"
token=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$work/client/session.json")
auth="Authorization: Bearer $token"
# The newest change so far: both subscriptions start after it, so all they
# may see is what is done below.
newest=$(curl -sf --cacert "$ca" -H "$auth" "$front/v1/changes?after=0&limit=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["newest"])')
# A WebSocket client: TLS, the HTTP/1.1 Upgrade handshake with the session
# token as a bearer token, then one line per change pushed ("KIND PATH").
cat >"$work/ws.py" <<'EOF'
import base64, hashlib, json, os, socket, ssl, struct, sys

host, port, ca, token, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])  # a WebSocket is an HTTP/1.1 upgrade
sock = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET /v1/changes/ws?after={after} HTTP/1.1\r\nHost: {host}:{port}\r\n"
              "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              f"Sec-WebSocket-Key: {key}\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = sock.recv(4096)
    if not chunk:
        sys.exit(f"connection closed during the handshake: {buf!r}")
    buf += chunk
head, buf = buf.split(b"\r\n\r\n", 1)
lines = head.decode("latin-1").split("\r\n")
if lines[0].split(" ")[1] != "101":
    sys.exit(f"no upgrade: {lines[0]}")
headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
if headers.get("sec-websocket-accept") != accept:
    sys.exit(f"bad Sec-WebSocket-Accept: {headers}")
print("subscribed", flush=True)

def read(n):
    global buf
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out

def send(opcode, payload):  # a client's frames are masked
    mask = os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask
                 + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

message = b""
while True:
    b0, b1 = read(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", read(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read(8))[0]
    payload = read(n)  # a server's frames are not masked
    opcode = b0 & 0x0F
    if opcode == 0x9:
        send(0xA, payload)
    elif opcode == 0x8:
        print("closed", flush=True)
        break
    elif opcode in (0x0, 0x1):
        message += payload
        if b0 & 0x80:
            for c in json.loads(message)["changes"]:
                print(c["kind"], c["path"], flush=True)
            message = b""
EOF
python3 "$work/ws.py" 127.0.0.1 "$PN" "$ca" "$token" "$newest" >"$work/ws.out" 2>"$work/ws.err" &
ws_pid=$!
pids+=("$ws_pid")
# Subscribed, or already failed.
wait_for 10 sh -c "grep -qx subscribed '$work/ws.out' || ! kill -0 $ws_pid"
grep -qx subscribed "$work/ws.out" || { echo "no WebSocket through nginx: $(cat "$work/ws.err")" >&2; exit 1; }
# Whether it reaches the server before the mkdir or after, a long poll
# after $newest must answer the mkdir alone.
curl -sf --cacert "$ca" -H "$auth" "$front/v1/changes?after=$newest&wait=25" >"$work/poll.json" &
poll_pid=$!
pids+=("$poll_pid")
"$PYXIS" mkdir /x >/dev/null
wait_for 10 grep -qx "mkdir /x" "$work/ws.out"
wait "$poll_pid"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["changes"]
sys.exit(0 if [(x["kind"], x["path"]) for x in c] == [("mkdir", "/x")] else f"long poll answered {c}")' "$work/poll.json"
echo "pushed over the WebSocket: $(grep -vx subscribed "$work/ws.out" | tr '\n' ' ')"
kill "$ws_pid"
# nginx logs a WebSocket when it ends: its 101, through the proxy.
wait_for 10 grep -q '"GET /v1/changes/ws?after=[0-9]* HTTP/1.1" 101' "$work/nginx/access.log"

echo "== nginx refuses /metrics, redirects plain HTTP"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
for path in /metrics /metrics/x; do
    got=$(code --cacert "$ca" "$front$path")
    [ "$got" = 403 ] || { echo "$path through nginx: $got, not 403" >&2; exit 1; }
done
# (Straight at the server, /metrics wants the admin token: a 401, not 403.)
got=$(code "http://127.0.0.1:$PB/metrics")
[ "$got" = 401 ] || { echo "/metrics at the server: $got, not 401" >&2; exit 1; }
got=$(code -D "$work/redirect.txt" "http://127.0.0.1:$PR/v1/list")
[ "$got" = 301 ] && grep -qi '^location: https://127.0.0.1/v1/list' "$work/redirect.txt" ||
    { echo "plain HTTP: $got, not a redirect to https" >&2; cat "$work/redirect.txt" >&2; exit 1; }

echo "== the server believes nginx's X-Forwarded-For"
# The auth limit (2 at once per client address) used up by 203.0.113.1 must
# not hold for 203.0.113.2, nor for this host. (The test's client is on
# loopback, itself a trusted proxy, so what it puts in the header stands in
# for the address nginx would have added.)
prelogin() { code --cacert "$ca" "$@" -H 'Content-Type: application/json' \
    -d '{"username":"alice"}' "$front/v1/auth/prelogin"; }
for i in 1 2 3; do
    got=$(prelogin -H "X-Forwarded-For: 203.0.113.1")
    want=$([ "$i" -le 2 ] && echo 200 || echo 429)
    [ "$got" = "$want" ] || { echo "203.0.113.1's prelogin $i: $got, not $want" >&2; exit 1; }
done
for who in 203.0.113.2 this-host; do
    if [ "$who" = this-host ]; then got=$(prelogin); else got=$(prelogin -H "X-Forwarded-For: $who"); fi
    [ "$got" = 200 ] || { echo "$who's prelogin after 203.0.113.1's: $got, not 200" >&2; exit 1; }
done
grep -q 'sent_xff="203.0.113.2, 127.0.0.1"' "$work/nginx/access.log" ||
    { echo "nginx did not send X-Forwarded-For as expected" >&2; exit 1; }
echo "== nginx e2e passed"
