#!/usr/bin/env bash
# Rebuild the many-style default decoder shipped with the runtime: a corpus of eight styles (1,000 levels each from
# the classic generators, one of them braided), trained with the one recommended configuration (configs/styles.toml)
# for 80 epochs instead of 40 (the mixture's held-out loss still falls at 40; EXPERIMENTS.md "The window network"),
# ending with critic tuning style by style (one critic per style), then exported (the export fits a walk
# temperature per style, about 5 minutes: docs/formats.md "Raster decoders" step 0), then its critics
# (scripts/build_default_critics.sh). About 15-25 minutes on two CPU threads; then
# python scripts/target_ranges.py (the reachable ranges the game's targeted levels read) and python scripts/style_figures.py --run RUN_DIR --out docs/figures.
#   scripts/build_default_model.sh [RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/default-model}"
CORPUS="$RUN-corpus"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
rm -rf "$RUN" "$CORPUS"
source scripts/default_corpus.sh
default_corpus "$CORPUS"
# The configuration's walk_order "auto" walks this mixture flip_rows (from the bottom up). --seed 1: of two seeds with
# it (mean two-sample over the eight styles 0.671 and 0.648; rows from the top: 0.676 and 0.693) the better one is
# shipped (EXPERIMENTS.md "The walk's order").
daedalus train --config configs/styles.toml --data "$CORPUS" --out "$RUN" --epochs 80 --seed 1 \
  --threads "$OMP_NUM_THREADS" --quiet
mkdir -p src/daedalus/runtime/models
daedalus export "$RUN" --out src/daedalus/runtime/models/default.onnx --opset 15
# Its critics (one per style, for generate --style NAME --resample K) are trained against this very file:
scripts/build_default_critics.sh "$CORPUS"
