#!/usr/bin/env bash
# Install tdacnn into ./.venv (first time only) and start the app on http://127.0.0.1:8050
# Works offline: the first graph comes from the default run shipped in data/default-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q -e . >/dev/null || .venv/bin/python -m pip install -e .
exec .venv/bin/python app.py "$@"
