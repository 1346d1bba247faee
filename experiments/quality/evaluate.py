"""Sample a trained quality-study model as the runtime would, repair, and measure everything.

    OMP_NUM_THREADS=1 python experiments/quality/evaluate.py runs/q/tree32 --count 2000 --prior aggregate

Samples z from N(0, I) (``--prior normal``) or from the run's aggregate-posterior Gaussian (``--prior aggregate``),
decodes with onnxruntime (the model is exported to ONNX opset 15 first and checked against torch), thresholds at
0.5 (raw), repairs with each repair of daedalus.maze.carve, and prints/writes the figures of
daedalus.maze.evaluation plus the decoder's speed in onnxruntime at batch 1024.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import build  # noqa: E402

from daedalus.maze import backtracker_batch  # noqa: E402
from daedalus.maze.carve import depth_first_carve, max_probability_tree, repair_edits, threshold_grids  # noqa: E402
from daedalus.maze.evaluation import evaluate_grids  # noqa: E402

REPAIRS = {"mst": max_probability_tree, "dfs": depth_first_carve}
NOISY = {f"dfs+noise{n:g}": n for n in (0.1, 0.25)}


def load(run: Path):
    config = json.loads((run / "config.json").read_text())
    spec = dict(config["model"])
    name = spec.pop("name")
    spec.pop("kind")
    if name == "tree":
        spec.setdefault("encoder_parents", False)  # runs from before the option existed
    model = build(name, **spec)
    model.load_state_dict(torch.load(run / "model.pt", weights_only=True))
    model.eval()
    return model, config


class Decoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode(z)


def sample_z(config: dict, prior: str, count: int, rng: np.random.Generator) -> np.ndarray:
    latent = config["model"]["latent_dim"]
    eps = rng.standard_normal((count, latent))
    if prior == "normal":
        return eps.astype(np.float32)
    p = config["latent_prior"]
    return (np.asarray(p["mean"]) + eps @ np.asarray(p["scale_tril"]).T).astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--prior", choices=["normal", "aggregate"], default="normal")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--novelty", action="store_true", help="rebuild the training set and measure novelty")
    ap.add_argument("--plot", help="expressive-range PNG of the best repair")
    ap.add_argument("--sheet", help="PNG sheet: 8 raw levels, then the same after mst, then after dfs")
    ap.add_argument("--temperature", type=float, help="tree model: decode temperature (overrides the config)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import onnxruntime as ort

    run = Path(args.run)
    model, config = load(run)
    tag = args.prior
    if args.temperature is not None:
        model.temperature = args.temperature
        config["model"]["temperature"] = args.temperature
        tag += f"_t{args.temperature:g}"
    onnx_path = run / f"decoder_{tag}.onnx"
    torch.onnx.export(Decoder(model), (torch.zeros(2, model.latent_dim),), str(onnx_path), input_names=["z"],
                      output_names=["p_open"], opset_version=15,
                      dynamic_axes={"z": {0: "batch"}, "p_open": {0: "batch"}}, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(args.seed)
    z = sample_z(config, args.prior, args.count, rng)
    p = np.concatenate([session.run(None, {"z": z[i : i + 1024]})[0] for i in range(0, len(z), 1024)])
    with torch.no_grad():
        reference_p = model.decode(torch.from_numpy(z[:256])).numpy()
    max_diff = float(np.abs(p[:256] - reference_p).max())
    batch = np.ascontiguousarray(z[:1024]) if len(z) >= 1024 else np.resize(z, (1024, z.shape[1]))
    session.run(None, {"z": batch})
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        session.run(None, {"z": batch})
    speed = reps * 1024 / (time.perf_counter() - t0)

    raw = threshold_grids(p, config.get("threshold", 0.5))
    reference = backtracker_batch(2000, rng=np.random.default_rng(999_999))
    training = None
    if args.novelty:
        data = config["training_data"]
        training = backtracker_batch(data["count"], data["height"], data["width"], rng=data["seed"])
    results = {"run": str(run), "prior": args.prior, "count": args.count, "onnx_max_diff": max_diff,
               "decoder_per_s": speed, "train_minutes": config.get("train_minutes"), "repairs": {}}
    repairs = dict(REPAIRS)
    for name, noise in NOISY.items():
        repairs[name] = lambda q, noise=noise: depth_first_carve(q, noise=noise, rng=args.seed)
    for name, repair in repairs.items():
        t0 = time.perf_counter()
        repaired = repair(p)
        repair_s = time.perf_counter() - t0
        figures = evaluate_grids(raw, repaired, repair_edits(raw, repaired), reference, training)
        figures["repair_per_s"] = len(p) / repair_s
        results["repairs"][name] = figures
    out = run / f"eval_{tag}_{args.count}.json"
    out.write_text(json.dumps(results, indent=1))
    raw_f = results["repairs"]["mst"]["raw"]
    print(f"{run.name} prior={tag} onnx_diff={max_diff:.1e} decoder={speed:,.0f}/s")
    print(f"  raw: perfect {raw_f['perfect']:.1%} loops {raw_f['loops']:.1f} pieces {raw_f['pieces']:.1f} "
          f"dead_ends {raw_f['dead_ends']:.1f} solvable {raw_f['solvable']:.1%} sol {raw_f['solution_length']:.1f} "
          f"border {raw_f['border_corridor']:.1%} distinct {raw_f['distinct']:.1%}")
    for name, f in results["repairs"].items():
        r = f["repaired"]
        print(f"  {name}: edits {f['edits']:.2%} dead_ends {r['dead_ends']:.1f} sol {r['solution_length']:.1f} "
              f"corr {r['corridor_length']:.2f} | W sol {r['w_solution_length']:.3f} dead {r['w_dead_ends']:.3f} "
              f"corr {r['w_corridor_length']:.3f} | distinct {r['distinct']:.1%} border {r['border_corridor']:.1%}"
              + (f" novelty {r['novelty']:.1%}" if "novelty" in r else ""))
    ref = results["repairs"]["mst"]["reference"]
    print(f"  backtracker: dead_ends {ref['dead_ends']:.1f} sol {ref['solution_length']:.1f} "
          f"corr {ref['corridor_length']:.2f}")
    if args.sheet:
        from daedalus.maze.draw import sheet_png

        rows = [raw[:8], max_probability_tree(p[:8]), depth_first_carve(p[:8])]
        sheet_png(np.concatenate(rows), args.sheet, columns=8, scale=4)
    if args.plot:
        from daedalus.maze.range_plot import expressive_range_plot

        expressive_range_plot(depth_first_carve(p[:2000]), reference, args.plot, model_label=run.name + " (dfs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
