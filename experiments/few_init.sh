#!/usr/bin/env bash
# Few examples from a many-style run (EXPERIMENTS.md "Few examples from a many-style run (`--init`)"): a base run of
# the one configuration on the shipped default's eight corpora (scripts/default_corpus.sh; 40 epochs, seed 1, no
# critic tuning: about 10 minutes on two cores), then each CORPUS trained on 200 levels twice, side by side with
# the same data and seeds: from fresh weights, and with --init BASE. Prints two markdown tables
# (experiments/styles.py's), about 5 minutes a corpus and arm.
#   bash experiments/few_init.sh OUT CORPUS...      # e.g. runs/few-init hunt-and-kill eller prim
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: few_init.sh OUT CORPUS...}"
shift
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
if [ ! -s "$OUT/base/model.safetensors" ] || [ ! -s "$OUT/base/tune.json" ]; then
  rm -rf "$OUT/base"
  source scripts/default_corpus.sh
  default_corpus "$OUT/base-corpus"
  daedalus train --data "$OUT/base-corpus" --out "$OUT/base" --seed 1 --tune-rounds 0 --threads "$OMP_NUM_THREADS" \
    --no-figures --quiet
fi
echo "from --init $OUT/base:"
python experiments/styles.py --corpora "$@" --count 200 --threads "$OMP_NUM_THREADS" \
  --train-args "--init $OUT/base" --out "$OUT/init"
echo "from fresh weights:"
python experiments/styles.py --corpora "$@" --count 200 --threads "$OMP_NUM_THREADS" --out "$OUT/scratch"
