#!/usr/bin/env bash
# The main job: the unsupervised STS evaluation over all 12 tasks on the bundled defaults
# (Chinese tasks -> e5-small, English tasks -> minilm), every default pooling, whitening none/full/256.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -z "${SIMLAB_DATA:-}" ] && [ -d ../shared/data ]; then
  export SIMLAB_DATA="$(cd ../shared/data && pwd)"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/simlab eval --tasks all --pooling all --whiten none,full,256 --out results/eval "$@"
