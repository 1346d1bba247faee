"""Decoder speed in onnxruntime (1 thread, batch 1024), next to the issue's reference MLP 64 → 1024 → 1024 → 364
(~44k samples/s on an idle core of this machine), measured in alternation so that a loaded machine slows both alike.

    OMP_NUM_THREADS=1 python experiments/quality/speed.py runs/q/RUN [...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import Decoder, load  # noqa: E402


def session_for(module: torch.nn.Module, latent: int, path: Path):
    import onnxruntime as ort

    torch.onnx.export(module, (torch.zeros(2, latent),), str(path), input_names=["z"], output_names=["p_open"],
                      opset_version=15, dynamic_axes={"z": {0: "batch"}, "p_open": {0: "batch"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def rate(session, latent: int, rounds: int = 5) -> float:
    z = np.random.default_rng(0).standard_normal((1024, latent)).astype(np.float32)
    session.run(None, {"z": z})
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        session.run(None, {"z": z})
        best = max(best, 1024 / (time.perf_counter() - t0))
    return best


def main(argv=None) -> int:
    torch.set_num_threads(1)
    runs = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    with tempfile.TemporaryDirectory() as tmp:
        reference = torch.nn.Sequential(torch.nn.Linear(64, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                        torch.nn.ReLU(), torch.nn.Linear(1024, 364), torch.nn.Sigmoid())
        ref = session_for(reference.eval(), 64, Path(tmp) / "ref.onnx")
        print("| decoder | samples/s (best of 5) | reference MLP samples/s | ratio |")
        print("|---|---|---|---|")
        for run in runs:
            model, _ = load(run)
            sess = session_for(Decoder(model), model.latent_dim, Path(tmp) / "model.onnx")
            r_ref, r_model = rate(ref, 64), rate(sess, model.latent_dim)
            print(f"| {run.name} | {r_model:,.0f} | {r_ref:,.0f} | {r_model / r_ref:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
