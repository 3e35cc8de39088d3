#!/usr/bin/env bash
# One-step set-up on a fresh machine: a virtual environment with pictext and everything it
# uses (torch pinned to the CPU build), and the Debian packages that hold the real datasets.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# torch is pinned in the same command: left to resolve alone, pip would pull a multi-GB CUDA build.
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0 -e ".[all,dev]"

# chromium: the browser end-to-end test of the web page (driven by Playwright, never downloaded).
DEBS="openclipart-svg tuxpaint-stamps-default dataset-fashion-mnist chromium"
missing=""
for deb in $DEBS; do
    dpkg -s "$deb" >/dev/null 2>&1 || missing="$missing $deb"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        # Not root: pictext unpacks them into its cache on first use (apt-get download + dpkg -x).
        echo "setup: not root; datasets$missing will be unpacked into the pictext cache on first use"
    fi
fi
echo "setup: done (.venv ready)"
