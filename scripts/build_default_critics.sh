#!/usr/bin/env bash
# The shipped decoder's critics, one per style (src/daedalus/runtime/models/default.STYLE.critic.onnx), for
# 'daedalus generate --style NAME --resample K': each is 'daedalus critic' against that style's training corpus
# (scripts/default_corpus.sh: the corpora build_default_model.sh trains on). About a minute per style on two threads.
#   scripts/build_default_critics.sh [CORPUS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/default_corpus.sh
CORPUS="${1:-runs/default-model-corpus}"
MODELS=src/daedalus/runtime/models
default_corpus "$CORPUS"
for corpus in "$CORPUS"/*.npz; do
  style="$(basename "$corpus" .npz)"
  daedalus critic --model "$MODELS/default.onnx" --data "$corpus" --style "$style" \
    --out "$MODELS/default.$style.critic.onnx" --threads "${OMP_NUM_THREADS:-2}" 2>/dev/null
done
