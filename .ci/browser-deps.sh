#!/usr/bin/env bash
# What tests/test_browser.py needs on a fresh Debian machine: Debian's Chromium at /usr/bin/chromium, driven
# by Playwright's Python package (installed with the test extras; no browser is downloaded). Idempotent and
# quiet: does nothing when Chromium is there; prints apt's log only when the install fails.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "browser-deps: could not install chromium with apt-get" >&2
    exit 1
fi
echo "browser-deps: installed $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
