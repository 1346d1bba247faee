#!/usr/bin/env bash
# Rebuild every figure the README and docs/ show, each with the command its caption names.
#   scripts/figures.sh                 # all of them into docs/figures (minutes: the game extra, runs/default-model,
#                                      # chromium for web.png)
#   scripts/figures.sh --fast [OUT]    # the ones that take seconds; tests/test_figures.py runs this into a temporary
#                                      # folder and checks the committed figures are byte for byte what it draws
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
FAST=0
if [ "${1:-}" = "--fast" ]; then FAST=1; shift; fi
OUT="${1:-docs/figures}"
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
daedalus() { "$PY" -m daedalus "$@" >/dev/null; }

# README, top and "Play": sixteen levels from the shipped decoder, perfect and braid.
daedalus generate --count 16 --seed 0 --format png --out "$TMP/levels" --preview "$OUT/levels-perfect.png"
daedalus generate --count 16 --seed 0 --mode braid --format npz --out "$TMP/braid.npz" --preview "$OUT/levels-braid.png"
# README "The data": the backtracker's sheet (its carving, below, takes a minute to encode).
daedalus dataset --count 16 --seed 0 --out "$TMP/fig.npz" --preview "$OUT/backtracker-sheet.png"
echo "fast figures written to $OUT"
if [ "$FAST" = 1 ]; then exit 0; fi

daedalus dataset --count 16 --seed 0 --out "$TMP/fig.npz" --preview "$OUT/backtracker-sheet.png" \
  --animate "$OUT/backtracker-carve.gif"
# README "Closer to your corpus": a style's corpus, plain levels and the same codes resampled by its shipped critic.
"$PY" scripts/resample_figure.py --style recursive-division --k 16 --out "$OUT/resample-sheet.png" >/dev/null

# docs/training.md: the KL schedules; the default model's prior samples (written by its training run).
"$PY" experiments/plot_schedules.py "$OUT/kl-schedules.png"
if [ -f runs/default-model/samples.png ]; then
  cp runs/default-model/samples.png "$OUT/default-model-samples.png"
else
  echo "default-model-samples.png: runs/default-model/samples.png is missing; scripts/build_default_model.sh" \
    "trains the run that draws it" >&2
fi
# README "Play" and docs/game.md: a real autopilot run (the game extra).
"$PY" scripts/game_figures.py --seed 1 --out "$OUT"  # game.png, game.gif
# README "Styles": the shipped decoder's styles (its training run's encoder).
"$PY" scripts/style_figures.py --run runs/default-model --out "$OUT"  # styles-sheet.png, styles-latent.png, styles-blend.png
# README "Levels on demand" and docs/runtime.md.
"$PY" scripts/latent_walk.py --out "$OUT/latent-walk.png"
"$PY" benchmarks/targets.py --requests 200 --figure "$OUT/targets-achieved.png" >/dev/null
# README "Play it in a browser" (needs chromium and `npm ci` in web/).
"$PY" scripts/web_screenshot.py "$OUT/web.png"
echo "all figures written to $OUT"
