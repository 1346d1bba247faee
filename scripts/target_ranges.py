"""Estimate a decoder's reachable target ranges and write ``NAME.targets.json`` beside it (docs/formats.md
"Reachable target ranges"). The shipped ``default.targets.json`` comes from the defaults (16 stages, about 2 minutes
for perfect mode and 7 for braid mode on a loaded 2-core machine); a model without the file gets a quicker estimate
(``targets.ON_DEMAND``) on its first targeted request.

    python scripts/target_ranges.py [--model PATH] [--stages 16]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="the ONNX decoder (default: the shipped one)")
    parser.add_argument("--stages", type=int, default=16)
    args = parser.parse_args()

    from daedalus.runtime import MazeGenerator, targets

    generator = MazeGenerator.load(args.model, device="cpu")
    begin = time.perf_counter()
    data = targets.estimate_all(generator, args.stages)
    for mode in ("perfect", "braid"):
        print(f"{mode}: {data[mode]}")
    path = targets.write_ranges(data, Path(generator.path), data["sha256"])
    print(f"wrote {path} in {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
