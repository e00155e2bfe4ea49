#!/usr/bin/env bash
# What tests/test_registry_pg.py needs on a fresh Debian machine: Debian's PostgreSQL server binaries
# (initdb, pg_ctl); the tests start their own server on 127.0.0.1 in a temporary folder. Idempotent and
# quiet: does nothing when a server is installed; prints apt's log only when the install fails.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "postgres-deps: could not install postgresql with apt-get" >&2
    exit 1
fi
echo "postgres-deps: installed $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
