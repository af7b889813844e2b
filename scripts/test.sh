#!/usr/bin/env bash
# The test command: installs what is missing, then lints, type-checks, checks the
# import contracts and runs the whole test suite against real services.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";        ruff check ferry tasks flows blocks tests bench
echo "== import contracts"; lint-imports
echo "== mypy";        mypy
echo "== pytest";      pytest -q "$@"
