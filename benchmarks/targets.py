"""Levels on demand (issue 12): how often a targeted request comes back within tolerance, how much of the distance
to the target the search closes (control-pcgrl's score), and how long a level takes, side by side with mazelib.

    python benchmarks/targets.py [--requests 200] [--tolerance 0.05] [--json results.json] [--figure docs/x.png]

Requests, one level each (``generate(1, seed=i, targets=..., strict=False)``), targets rounded to integers:
- single attributes, uniform over the issue's ranges (solution length 60-360, longest path 70-390, dead ends 8-80;
  junctions 10-70 and loops 2-40 in braid mode, ranges of our own);
- pairs (solution length with dead ends in perfect mode, longest path with loops in braid mode), uniform over the
  pairs the model reaches: the pairs that the single-attribute levels showed, binned on a 16 x 16 grid, one occupied
  bin drawn uniformly, then one level of that bin's pair as the target. A pair uniform over the whole box would ask
  for impossible mazes (a 360-step solution leaves too few cells for 80 dead ends): the "box" rows measure that
  too, for the record, and stay out of the "all" row.

control-pcgrl's score of a request: 1 - d(achieved) / d(baseline), d the distance to the target (summed over a
pair's attributes, each divided by its range) and baseline the level the same seed gives without targets; the mean
over requests (a request whose baseline already met the target counts 1 when it still does).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from daedalus.maze.stats import ATTRIBUTE_ORDER, attributes
from daedalus.runtime import MazeGenerator
from daedalus.runtime.targets import within

SINGLES = [  # (attribute, mode, low, high)
    ("solution_length", "perfect", 60, 360),
    ("longest_path", "perfect", 70, 390),
    ("dead_ends", "perfect", 8, 80),
    ("junctions", "perfect", 10, 70),
    ("loops", "braid", 2, 40),
]
PAIRS = [(("solution_length", "dead_ends"), "perfect"), (("longest_path", "loops"), "braid")]


def run_requests(generator, requests, tolerance):
    """Each request (targets, mode, seed) as one generate call: rows of (hit, achieved, baseline, ms)."""
    rows = []
    for targets, mode, seed in requests:
        begin = time.perf_counter()
        try:
            (level,) = generator.generate(1, seed=seed, mode=mode, targets=targets, tolerance=tolerance,
                                          strict=False)
        except ValueError as error:  # outside the reachable range: a miss, reported
            rows.append({"targets": targets, "mode": mode, "hit": False, "refused": str(error), "ms": 0.0,
                         "values": None, "baseline": None})
            continue
        ms = (time.perf_counter() - begin) * 1e3
        (plain,) = generator.generate(1, seed=seed, mode=mode)
        values = attributes(np.stack([level.grid, plain.grid]), generator.info.start, generator.info.exit)
        hit = all(within(values[0, ATTRIBUTE_ORDER.index(k)], v, tolerance) for k, v in targets.items()
                  if k != "style")
        if "style" in targets:  # the style the level's code is most likely under, measured independently of met
            from daedalus.runtime.targets import styles_of

            hit = hit and generator.styles[styles_of(generator.info, level.z[None])[0]] == targets["style"]
        rows.append({"targets": targets, "mode": mode, "hit": bool(hit), "ms": ms, "met": level.met,
                     "values": values[0].tolist(), "baseline": values[1].tolist()})
    return rows


def impossible(targets, cells, tolerance):
    """Whether no perfect maze has both: a solution of s steps runs through s/2 + 1 cells, and its dead ends are
    at most the other cells plus its two ends (each cell off the path a leaf), even at the tolerance's edges."""
    s = np.ceil(targets["solution_length"] * (1 - tolerance))
    d = np.ceil(targets["dead_ends"] * (1 - tolerance) - 1e-9)
    return d > cells - (s / 2 + 1) + 2


def pcgrl_score(rows, widths):
    scores = []
    for row in rows:
        if row["values"] is None:
            scores.append(0.0)
            continue

        def distance(values):
            return sum(abs(values[ATTRIBUTE_ORDER.index(k)] - v) / widths[k] for k, v in row["targets"].items()
                       if k != "style")

        before, after = distance(row["baseline"]), distance(row["values"])
        scores.append(1.0 - after / before if before > 0 else float(after == 0))
    return float(np.mean(scores))


def summary(rows, widths):
    ms = np.array([row["ms"] for row in rows if row["values"] is not None])
    return {"requests": len(rows), "hit_rate": float(np.mean([row["hit"] for row in rows])),
            "refused": sum("refused" in row for row in rows),
            "met_agrees": all(row["met"] == row["hit"] for row in rows if "met" in row),
            "pcgrl": pcgrl_score(rows, widths), "ms_median": float(np.median(ms)),
            "ms_p99": float(np.percentile(ms, 99))}


def pair_requests(pool_rows, names, mode, count, rng, seed0):
    """Pairs uniform over the occupied bins of what the single-attribute levels reached."""
    points = np.array([[row["values"][ATTRIBUTE_ORDER.index(n)] for n in names] for row in pool_rows
                       if row["values"] is not None and row["mode"] == mode])
    if names[1] == "loops":
        points = points[points[:, 1] >= 2]  # loops 0 or 1 leave no room for a 5 % tolerance
    lows, highs = points.min(axis=0), points.max(axis=0)
    bins = np.minimum(((points - lows) / np.maximum(highs - lows, 1) * 16).astype(int), 15)
    keys = bins[:, 0] * 16 + bins[:, 1]
    occupied = np.unique(keys)
    requests = []
    for i in range(count):
        members = np.nonzero(keys == rng.choice(occupied))[0]
        a, b = points[rng.choice(members)]
        requests.append(({names[0]: int(a), names[1]: int(b)}, mode, seed0 + i))
    return requests


def mazelib_ms(count=200):
    try:
        from mazelib.generate.BacktrackingGenerator import BacktrackingGenerator
    except ImportError:
        return None
    gen = BacktrackingGenerator(14, 14)
    times = []
    for _ in range(count):
        begin = time.perf_counter()
        gen.generate()
        times.append((time.perf_counter() - begin) * 1e3)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per attribute and per pair")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--model", help="decoder .onnx (default: the shipped one)")
    parser.add_argument("--json", help="write every request's result here")
    parser.add_argument("--figure", help="draw achieved against requested for each attribute to this PNG")
    args = parser.parse_args(argv)

    generator = MazeGenerator.load(args.model, device="cpu")
    rng = np.random.default_rng(0)
    begin = time.perf_counter()
    for mode in ("perfect", "braid"):  # the first request of a mode decodes and measures the bank
        generator.generate(1, seed=0, mode=mode, targets={"dead_ends": 40}, strict=False)
    warm_ms = (time.perf_counter() - begin) * 1e3
    widths = {name: high - low for name, _, low, high in SINGLES}
    widths["longest_path"] = 320

    results, rows_all = {}, []
    for name, mode, low, high in SINGLES:
        targets = np.rint(rng.uniform(low, high, args.requests)).astype(int)
        requests = [({name: int(t)}, mode, 1000 + i) for i, t in enumerate(targets)]
        rows = run_requests(generator, requests, args.tolerance)
        rows_all.extend(rows)
        results[name] = summary(rows, widths) | {"rows": rows}
        value = results[name]
        print(f"{name:>16} ({mode}): {value['hit_rate']:.1%} within ±{args.tolerance:.0%}, "
              f"pcgrl {value['pcgrl']:.3f}, {value['ms_median']:.1f} / {value['ms_p99']:.1f} ms", flush=True)
    for names, mode in PAIRS:
        requests = pair_requests(rows_all, names, mode, args.requests, rng, 5000)
        rows = run_requests(generator, requests, args.tolerance)
        key = " + ".join(names)
        results[key] = summary(rows, widths) | {"rows": rows}
        print(f"{key:>16} ({mode}): {results[key]['hit_rate']:.1%}, pcgrl {results[key]['pcgrl']:.3f}, "
              f"{results[key]['ms_median']:.1f} / {results[key]['ms_p99']:.1f} ms", flush=True)

    # Styles: a style drawn uniformly, with dead ends uniform over what that style's bank levels show (2nd-98th
    # percentile): a style has its own range (binary trees have no long corridors to end).
    if generator.styles:
        from daedalus.runtime.targets import searcher_for

        _, _, bank_values, bank_style = searcher_for(generator, "perfect").bank()
        requests = []
        for i in range(args.requests):
            k = int(rng.integers(len(generator.styles)))
            low, high = np.percentile(bank_values[bank_style == k, ATTRIBUTE_ORDER.index("dead_ends")], [2, 98])
            requests.append(({"style": generator.styles[k], "dead_ends": int(np.rint(rng.uniform(low, high)))},
                             "perfect", 8000 + i))
        rows = run_requests(generator, requests, args.tolerance)
        results["style + dead_ends"] = summary(rows, widths) | {"rows": rows}
        value = results["style + dead_ends"]
        print(f"style + dead_ends (perfect): {value['hit_rate']:.1%}, pcgrl {value['pcgrl']:.3f}, "
              f"{value['ms_median']:.1f} / {value['ms_p99']:.1f} ms", flush=True)

    spans = {name: (low, high) for name, _, low, high in SINGLES}
    box = {}
    for names, mode in PAIRS:
        requests = [({n: int(np.rint(rng.uniform(*spans[n]))) for n in names}, mode, 9000 + i)
                    for i in range(args.requests)]
        rows = run_requests(generator, requests, args.tolerance)
        key = " + ".join(names) + " (box)"
        box[key] = summary(rows, widths) | {"rows": rows}
        print(f"{key:>16} ({mode}): {box[key]['hit_rate']:.1%}, pcgrl {box[key]['pcgrl']:.3f}, "
              f"{box[key]['ms_median']:.1f} / {box[key]['ms_p99']:.1f} ms", flush=True)
        if names == ("solution_length", "dead_ends"):
            cells = (generator.shape[0] // 2) * (generator.shape[1] // 2)
            possible = [row for row in rows if not impossible(row["targets"], cells, args.tolerance)]
            box[key]["provably_impossible"] = len(rows) - len(possible)
            box[key]["hit_rate_of_the_rest"] = float(np.mean([row["hit"] for row in possible]))
            print(f"  {len(rows) - len(possible)} provably impossible; of the rest "
                  f"{box[key]['hit_rate_of_the_rest']:.1%} hit")

    # Throughput: 64 requests in one call (the search batches them).
    begin = time.perf_counter()
    done = 0
    for i, t in enumerate((120, 200, 280)):
        done += len(generator.generate(64, seed=7000 + 64 * i, targets={"solution_length": t}, strict=False))
    per_s = done / (time.perf_counter() - begin)
    lib = mazelib_ms()
    every = [row for key in results for row in results[key]["rows"]]
    overall = summary(every, widths)
    print()
    print("| requests | hit rate (±5 %) | pcgrl score | ms per level, median / p99 |")
    print("|---|---:|---:|---:|")
    for key, value in results.items():
        print(f"| {key} | {value['hit_rate']:.1%} | {value['pcgrl']:.3f} | {value['ms_median']:.1f} / "
              f"{value['ms_p99']:.1f} |")
    print(f"| all | {overall['hit_rate']:.1%} | {overall['pcgrl']:.3f} | {overall['ms_median']:.1f} / "
          f"{overall['ms_p99']:.1f} |")
    for key, value in box.items():
        print(f"| {key} | {value['hit_rate']:.1%} | {value['pcgrl']:.3f} | {value['ms_median']:.1f} / "
              f"{value['ms_p99']:.1f} |")
    print()
    print(f"batched: {per_s:.0f} requests/s (64 per call); first request of each mode (bank): {warm_ms:.0f} ms")
    if lib is not None:
        print(f"mazelib BacktrackingGenerator: {lib:.2f} ms per maze (median), side by side: a targeted level costs "
              f"{overall['ms_median'] / lib:.1f}x one mazelib maze at the median; 100 mazelib mazes (its Monte "
              f"Carlo) {100 * lib:.0f} ms")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"results": results, "box": box, "requests_per_s": per_s, "mazelib_ms": lib,
                       "warm_ms": warm_ms}, handle)
    if args.figure:
        figure(results, args.figure)
        pairs_figure(generator, results, box, args.figure.replace(".png", "-pairs.png"))
    return 0


def pairs_figure(generator, results, box, path):
    """The pair requests over the whole box, hit or missed, over the pairs the model's levels show (grey: the
    search's bank and every level of this run): misses sit outside what the model draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from daedalus.runtime.targets import searcher_for

    fig, axes = plt.subplots(1, len(PAIRS), figsize=(6 * len(PAIRS), 5))
    for ax, (names, mode) in zip(axes, PAIRS):
        a, b = (ATTRIBUTE_ORDER.index(n) for n in names)
        seen = [row["values"] for rows in results.values() for row in rows["rows"]
                if row["values"] is not None and row["mode"] == mode]
        _, _, bank, _ = searcher_for(generator, mode).bank()
        cloud = np.concatenate([np.array(seen), bank]) if seen else bank
        if names[0] == "longest_path" or names[1] == "longest_path":  # the bank measured it; the rows too
            cloud = cloud[cloud[:, ATTRIBUTE_ORDER.index("longest_path")] >= 0]
        ax.scatter(cloud[:, a], cloud[:, b], s=3, color="0.75", label="levels seen (bank, this run)")
        rows = box[" + ".join(names) + " (box)"]["rows"]
        for hit, colour, label in ((True, "tab:blue", "hit"), (False, "tab:red", "missed")):
            chosen = [row for row in rows if row["hit"] is hit]
            ax.scatter([row["targets"][names[0]] for row in chosen], [row["targets"][names[1]] for row in chosen],
                       s=10, color=colour, label=f"requested, {label} ({len(chosen)})")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(f"{names[0]} + {names[1]} ({mode}), uniform over the box")
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SINGLES), figsize=(4 * len(SINGLES), 4))
    for ax, (name, mode, low, high) in zip(axes, SINGLES):
        rows = [row for row in results[name]["rows"] if row["values"] is not None]
        asked = np.array([row["targets"][name] for row in rows])
        got = np.array([row["values"][ATTRIBUTE_ORDER.index(name)] for row in rows])
        base = np.array([row["baseline"][ATTRIBUTE_ORDER.index(name)] for row in rows])
        ax.fill_between([low, high], [low * 0.95, high * 0.95], [low * 1.05, high * 1.05], color="0.85",
                        label="±5 %")
        ax.scatter(asked, base, s=6, color="tab:orange", alpha=0.5, label="same seed, no target")
        ax.scatter(asked, got, s=8, color="tab:blue", label="with the target")
        ax.plot([low, high], [low, high], color="k", lw=0.8)
        ax.set_title(f"{name} ({mode}): {results[name]['hit_rate']:.0%} hit")
        ax.set_xlabel("requested")
        ax.set_ylabel("achieved")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
