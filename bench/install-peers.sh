#!/usr/bin/env bash
# Installs the peers compared against (Debian packages and PyPI only): restic
# and Tahoe-LAFS (in a venv under $PB). Idempotent.
set -eu
. "$(dirname "$0")/lib.sh"
if ! command -v restic >/dev/null || ! command -v /usr/bin/time >/dev/null || ! command -v openssl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq restic time openssl curl
fi
case " ${PEERS:-tahoe} " in *" tahoe "*) ;; *) echo "restic: $(restic version | head -1)"; exit 0 ;; esac
if [ ! -x "$PB/tahoe-venv/bin/tahoe" ]; then
  python3 -m venv "$PB/tahoe-venv"
  "$PB/tahoe-venv/bin/pip" install -q tahoe-lafs
fi
echo "restic: $(restic version | head -1)"; echo "tahoe: $("$PB/tahoe-venv/bin/tahoe" --version 2>/dev/null | head -1)"
