#!/usr/bin/env bash
# Rebuild the default decoder shipped with the runtime: train (about 10 minutes on one CPU thread), then export.
#   scripts/build_default_model.sh [RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/default-model}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
rm -rf "$RUN"
daedalus train --config configs/default-model.toml --out "$RUN" --threads "$OMP_NUM_THREADS" --quiet
mkdir -p src/daedalus/runtime/models
daedalus export "$RUN" --out src/daedalus/runtime/models/default.onnx --opset 15
