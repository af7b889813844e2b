#!/usr/bin/env bash
# The main job on an embedded default: sets everything up, then runs the whole
# pipeline that exists so far against local servers it starts and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
exec .venv/bin/python -m flows.demo "$@"
