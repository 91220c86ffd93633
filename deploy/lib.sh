# Shared by deploy/test.sh, e2e.sh, nginx-e2e.sh and admin-e2e.sh (sourced, not run).

# Runs a command as root: directly, or through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root or sudo to run: $*" >&2
        return 1
    fi
}

# Installs Debian packages (quietly, without recommends).
apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
    local t=$1; shift
    for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "timed out after ${t}s waiting for: $*" >&2
    return 1
}

# The pyxis binary the end-to-end scripts run (PYXIS, default
# target/debug/pyxis), as an absolute path.
pyxis_binary() {
    PYXIS=$(realpath "${PYXIS:-target/debug/pyxis}")
    [ -x "$PYXIS" ] || { echo "no pyxis binary at $PYXIS (cargo build first)" >&2; exit 2; }
}

# A scratch directory ($work) for an end-to-end script, and the background
# processes it starts there ($pids): all gone when the script exits. On a
# failed run, the last lines of each file named in $show_on_failure
# (relative to $work) are printed first: what the daemons said.
start_scratch() {
    work=$(mktemp -d)
    pids=()
    show_on_failure=()
    trap stop_scratch EXIT
}

stop_scratch() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        for f in "${show_on_failure[@]+"${show_on_failure[@]}"}"; do
            [ -s "$work/$f" ] && { echo "--- $f" && tail -n 20 "$work/$f"; } >&2
        done
    fi
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
