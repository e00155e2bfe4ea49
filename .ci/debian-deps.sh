#!/usr/bin/env bash
# The Debian packages the tests need on a fresh machine, installed in one apt-get run, each only when missing:
#   chromium    /usr/bin/chromium, driven by Playwright's Python package (tests/test_browser.py; no browser
#               is downloaded)
#   postgresql  the server binaries (initdb, pg_ctl); tests/test_registry_pg.py starts its own server on
#               127.0.0.1 in a temporary folder
# Idempotent and quiet: prints apt's log only when the install fails.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "debian-deps: could not install ${missing[*]} with apt-get" >&2
    exit 1
fi
echo "debian-deps: installed ${missing[*]}"
