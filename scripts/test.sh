#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine (Debian packages,
# a virtualenv with tdacnn and its test extras), start the services, run the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: a real browser for the app tests, a real Redis for the job-queue tests (huey on Redis).
PY=${PYTHON:-python3}
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
"$PY" -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # another install may hold the apt/dpkg lock: wait for it (up to 10 minutes) instead of failing
  LOCK=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${LOCK[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${LOCK[@]}" install -y -qq --no-install-recommends "${need[@]}"
fi

# Python environment.
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

# The tests start their own redis-server instances and app servers on free loopback ports.
export TDACNN_SHARED_DATA=${TDACNN_SHARED_DATA:-"$(cd .. && pwd)/shared/data"}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
