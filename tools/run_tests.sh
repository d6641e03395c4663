#!/usr/bin/env bash
# Set up .venv/ if needed (tools/setup_env.sh), then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
exec .venv/bin/python -m pytest -q tests "$@"
