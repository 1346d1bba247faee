"""Training throughput under torchrun: samples per second of one process against N processes (gloo, CPU), one
thread each (``OMP_NUM_THREADS=1``, ``--threads 1``).

Each contender is a real ``daedalus train`` run (the default raster model, 28 × 28 unless --size, fixed data so that
no epoch draws mazes) in a temporary folder; its rate is ``count / seconds`` of each epoch after the first (the
``seconds`` field of log.jsonl: the training steps only, no evaluation, no checkpoint). Runs alternate, round by
round, so load from other processes on a shared machine falls on all of them alike. Prints a Markdown table.

    python benchmarks/distributed.py [--nproc 2] [--rounds 2] [--epochs 4] [--count 1280] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run(processes: int, batch: int, args, folder: Path, alone: int = 1) -> list[float]:
    """Samples per second of each epoch after the first, for one run (``alone`` > 1: that many independent
    one-process runs at once, their rates added: what the machine gives to that many processes without any
    communication, the ceiling for data parallelism)."""
    if alone > 1:
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(alone) as pool:
            runs = list(pool.map(lambda i: run(1, batch, args, folder / f"alone-{i}"), range(alone)))
        return [sum(rates) for rates in zip(*runs)]
    folder.mkdir(exist_ok=True)
    out = folder / f"run-{processes}-{batch}-{len(list(folder.iterdir()))}"
    train = ["-m", "daedalus", "train", "--count", str(args.count), "--batch-size", str(batch), "--epochs",
             str(args.epochs), "--size", args.size, "--eval-samples", "0", "--no-figures", "--quiet", "--threads",
             "1", "--tune-rounds", "0", "--out", str(out)]  # tuning comes after the epochs timed here
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(processes), *train]
    else:
        command = [sys.executable, *train]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [args.count / r["seconds"] for r in records[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (the first is not counted)")
    parser.add_argument("--count", type=int, default=1280, help="training mazes")
    parser.add_argument("--batch-size", dest="batch_size", type=int, default=64, help="batch per process")
    parser.add_argument("--size", default="28", help="maze size N or HxW")
    args = parser.parse_args()

    contenders = {
        f"1 process, batch {args.batch_size}": (1, args.batch_size),
        f"1 process, batch {args.batch_size * args.nproc} (the same global batch)": (1, args.batch_size * args.nproc),
        f"torchrun {args.nproc} processes, batch {args.batch_size} each": (args.nproc, args.batch_size),
        f"{args.nproc} independent 1-process runs at once (no communication: the ceiling)":
            (1, args.batch_size, args.nproc),
    }
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: dict[str, list[float]] = {name: [] for name in contenders}
    first = next(iter(contenders))
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            this_round = {}
            for name, (processes, batch, *alone) in contenders.items():
                this_round[name] = statistics.median(run(processes, batch, args, Path(tmp), *alone))
                rates[name].append(this_round[name])
            # Paired within the round: load that comes and goes between rounds cancels in the ratio.
            for name, rate in this_round.items():
                ratios[name].append(rate / this_round[first])
    print(f"raster model, {args.size} mazes, {args.count} per epoch, {args.epochs - 1} timed epochs x {args.rounds} "
          f"rounds, one thread per process; medians over rounds, ratios paired within each round (load average "
          f"{os.getloadavg()[1]:.2f} over the last 5 minutes)\n")
    print("| run | samples / s | vs 1 process (each round's ratios) |")
    print("|---|---|---|")
    for name in contenders:
        each = ", ".join(f"{r:.2f}" for r in ratios[name])
        print(f"| {name} | {statistics.median(rates[name]):,.0f} | {statistics.median(ratios[name]):.2f}x ({each}) |")


if __name__ == "__main__":
    main()
