#!/usr/bin/env bash
# The shipped decoder's critics, one per style (src/daedalus/runtime/models/default.STYLE.critic.onnx), for
# 'daedalus generate --style NAME --resample K': each is 'daedalus critic' against that style's training corpus,
# rebuilt with the seeds scripts/build_default_model.sh used. About a minute per style on two CPU threads.
#   scripts/build_default_critics.sh [CORPUS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS="${1:-runs/default-critics-corpus}"
MODELS=src/daedalus/runtime/models
mkdir -p "$CORPUS"
seed=100
for spec in backtracker:0 backtracker:0.5 prim:0 kruskal:0 wilson:0 sidewinder:0 binary-tree:0 recursive-division:0; do
  generator="${spec%%:*}"
  braid="${spec##*:}"
  style="$generator"
  [ "$braid" = 0 ] || style="$generator-braid"
  daedalus dataset --generator "$generator" --braid "$braid" --count 1000 --seed "$seed" --out "$CORPUS/$style.npz"
  daedalus critic --model "$MODELS/default.onnx" --data "$CORPUS/$style.npz" --style "$style" \
    --out "$MODELS/default.$style.critic.onnx" --threads "${OMP_NUM_THREADS:-2}" 2>/dev/null
  seed=$((seed + 1))
done
