#!/usr/bin/env bash
# The shipped decoder per style (README "How good are the levels?"): for each style, 1,000 fresh levels of its
# generator (seeds 200.., not the training data's 100..) and `daedalus eval --style NAME --data` against them.
# Prints a markdown table. About 4 minutes on two cores.
#   bash experiments/default_per_style.sh [OUT] [MODEL]   # MODEL: another many-style decoder (default: the shipped one)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/heldout}"
MODEL=()
[ -z "${2:-}" ] || MODEL=(--model "$2")
mkdir -p "$OUT"
echo "| style | two-sample | untrained two-sample | W1 dead ends | W1 junctions | W1 straights | W1 turns | W1 solution | raw perfect | loops model / corpus |"
echo "|---|---|---|---|---|---|---|---|---|---|"
seed=200
for spec in backtracker:0 backtracker:0.5 prim:0 kruskal:0 wilson:0 sidewinder:0 binary-tree:0 recursive-division:0; do
  generator="${spec%%:*}"; braid="${spec##*:}"; style="$generator"; mode=perfect
  [ "$braid" = 0 ] || { style="$generator-braid"; mode=braid; }
  daedalus dataset --generator "$generator" --braid "$braid" --count 1000 --seed "$seed" --out "$OUT/$style.npz" > /dev/null
  daedalus eval "${MODEL[@]}" --style "$style" --data "$OUT/$style.npz" --samples 1000 --mode "$mode" --json > "$OUT/$style.json"
  python3 - "$OUT/$style.json" "$style" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); w = r["style"]
cells = [r["two_sample"]["model"], r["two_sample"].get("untrained")] + [w[f"w_{k}"] for k in
         ("dead_ends", "junctions", "straights", "turns", "solution_length")] + [r["raw"]["perfect"]]
print(f"| {sys.argv[2]} | " + " | ".join(f"{c:.3f}" for c in cells)
      + f" | {r['repaired']['loops']:.1f} / {r['reference']['loops']:.1f} |")
PY
  seed=$((seed + 1))
done
