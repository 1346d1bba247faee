#!/usr/bin/env bash
# Rebuild the many-style default decoder shipped with the runtime: a corpus of eight styles (1,000 levels each from
# the classic generators, one of them braided), trained with the one recommended configuration (configs/styles.toml),
# then exported. About 15 minutes on two CPU threads.
#   scripts/build_default_model.sh [RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/default-model}"
CORPUS="$RUN-corpus"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
rm -rf "$RUN" "$CORPUS"
mkdir -p "$CORPUS"
seed=100
for spec in backtracker:0 backtracker:0.5 prim:0 kruskal:0 wilson:0 sidewinder:0 binary-tree:0 recursive-division:0; do
  generator="${spec%%:*}"
  braid="${spec##*:}"
  style="$generator"
  [ "$braid" = 0 ] || style="$generator-braid"
  daedalus dataset --generator "$generator" --braid "$braid" --count 1000 --seed "$seed" --out "$CORPUS/$style.npz"
  seed=$((seed + 1))
done
daedalus train --config configs/styles.toml --data "$CORPUS" --out "$RUN" --threads "$OMP_NUM_THREADS" --quiet
mkdir -p src/daedalus/runtime/models
daedalus export "$RUN" --out src/daedalus/runtime/models/default.onnx --opset 15
