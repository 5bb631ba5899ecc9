#!/usr/bin/env bash
# The test command: sets up .venv if needed, points SIMLAB_DATA at ../shared/data when it exists,
# and runs the suite (heavy runs are excluded; see pyproject markers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -z "${SIMLAB_DATA:-}" ] && [ -d ../shared/data ]; then
  export SIMLAB_DATA="$(cd ../shared/data && pwd)"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
