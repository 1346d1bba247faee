"""Markdown table of every evaluation under a runs folder (the eval_*.json files evaluate.py writes).

    python experiments/quality/table.py runs/q
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    root = Path((argv if argv is not None else sys.argv[1:])[0])
    print("| run | sampling | n | raw perfect | raw loops / pieces | raw solvable | repair | edits | dead ends "
          "| solution | corridor | W sol | W dead | W corr | distinct | border | novelty | train min |")
    print("|" + "---|" * 18)
    for path in sorted(root.glob("*/eval_*.json")):
        result = json.loads(path.read_text())
        sampling = path.stem[len("eval_"):].rsplit("_", 1)[0]
        for name, f in result["repairs"].items():
            name = {"tree": "mst"}.get(name, name)  # early files named the spanning-tree repair "tree"
            raw, rep = f["raw"], f["repaired"]
            novelty = f"{rep['novelty']:.1%}" if "novelty" in rep else "–"
            print(f"| {Path(result['run']).name} | {sampling} | {result['count']} | {raw['perfect']:.1%} "
                  f"| {raw['loops']:.1f} / {raw['pieces']:.1f} | {raw['solvable']:.1%} | {name} | {f['edits']:.2%} "
                  f"| {rep['dead_ends']:.1f} | {rep['solution_length']:.1f} | {rep['corridor_length']:.2f} "
                  f"| {rep['w_solution_length']:.3f} | {rep['w_dead_ends']:.3f} | {rep['w_corridor_length']:.3f} "
                  f"| {rep['distinct']:.1%} | {rep['border_corridor']:.1%} | {novelty} | {result['train_minutes']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
