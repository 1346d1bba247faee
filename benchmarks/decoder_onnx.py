"""Decode throughput of an exported decoder in onnxruntime (CPU, one thread by default). Prints a Markdown table.

    python benchmarks/decoder_onnx.py [src/daedalus/runtime/models/default.onnx] [--threads 1] [--batches 1 64 1024]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default="src/daedalus/runtime/models/default.onnx")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--samples", type=int, default=50_000, help="samples decoded per batch size")
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    latent = int(session.get_inputs()[0].shape[1])
    print(f"{args.model}: onnxruntime {ort.__version__}, {args.threads} thread(s)")
    print("| batch | samples / s |")
    print("|---|---|")
    rng = np.random.default_rng(0)
    for batch in args.batches:
        z = rng.standard_normal((batch, latent)).astype(np.float32)
        session.run(None, {"z": z})
        runs = max(1, args.samples // batch)
        start = time.perf_counter()
        for _ in range(runs):
            session.run(None, {"z": z})
        print(f"| {batch} | {runs * batch / (time.perf_counter() - start):,.0f} |")


if __name__ == "__main__":
    main()
