"""Write a run's decoder as an ONNX file (timm ``utils/onnx.py`` style): eval mode, named input ``z`` and output
``p_open``, dynamic batch, ``check_model(full_check=True)``, then onnxruntime and the ONNX reference evaluator are
compared with torch before the file is written (atomically)."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from daedalus import __version__
from daedalus.errors import DaedalusError, UsageError
from daedalus.maze.draw import atomic_write
from daedalus.maze.grid import LATTICE_RULE, default_exit, default_start
from daedalus.trainer.checkpoint import load_model

FORMAT_VERSION = "1"
INPUT_NAME = "z"
OUTPUT_NAME = "p_open"
# The second output of a carve decoder: per cell and direction, the score the runtime's depth-first walk follows.
SCORES_NAME = "carve_scores"
MIN_OPSET, MAX_OPSET = 7, 21
TOLERANCE = 1e-5
SCORES_TOLERANCE = 1e-4


class ExportError(DaedalusError):
    """The exported graph failed a check; nothing was written."""


class _Decoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        if is_carve(self.model):
            return self.model.decode(z), self.model.carve_scores(z)
        return self.model.decode(z)


def is_carve(model) -> bool:
    """Whether a model is a carve decoder (two outputs, and ``z`` carries the walk's noise)."""
    return callable(getattr(model, "carve_scores", None))


def input_dim(model) -> int:
    """Width of the exported ``z``: the latent code, plus the walk's noise for a carve decoder."""
    return int(getattr(model, "input_dim", model.latent_dim))


def output_names(model) -> list[str]:
    return [OUTPUT_NAME, SCORES_NAME] if is_carve(model) else [OUTPUT_NAME]


PRIORS = ("normal", "aggregate")


def latent_prior(model, config: dict, prior: str | None = None) -> dict:
    """The latent distribution a runtime should sample.

    ``normal`` (a VAE's default): ``N(0, I)``. ``aggregate`` (an AE's only choice, or asked for by ``prior`` or the
    run's ``config["prior"]``): a Gaussian fitted to the training codes — for an AE the mean and covariance of its
    codes; for a VAE the aggregate posterior's moments, mean of μ and covariance of μ plus the mean posterior
    variance, which is where the decoder was trained to read (a VAE with a small β leaves N(0, I) partly off it).
    """
    prior = prior or config.get("prior") or "normal"
    if prior not in PRIORS:
        raise UsageError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    is_vae = config["model"]["kind"] == "vae"
    if is_vae and prior == "normal":
        return {"kind": "normal"}
    if is_carve(model):
        # z also carries the walk's noise (R*C*4 values); a full covariance over it would not fit the metadata.
        raise UsageError("prior 'aggregate' is not available for a carve decoder; its z is sampled from N(0, I)")
    from daedalus.trainer.data import load_dataset

    data = load_dataset(config["data"])
    mus, variances = [], []
    with torch.no_grad():
        for chunk in torch.split(torch.from_numpy(data.train), 1024):
            mu, logvar = model.encode(chunk)
            mus.append(mu.double().numpy())
            if logvar is not None:
                variances.append(logvar.exp().double().numpy())
    codes = np.concatenate(mus)
    mean = codes.mean(axis=0)
    cov = np.cov(codes, rowvar=False).reshape(len(mean), len(mean)) + 1e-6 * np.eye(len(mean))
    if variances:
        cov += np.diag(np.concatenate(variances).mean(axis=0))
    return {"kind": "gaussian", "mean": mean.tolist(), "scale_tril": np.linalg.cholesky(cov).tolist()}


def _torch_export(model, opset: int) -> bytes:
    buffer = io.BytesIO()
    example = torch.zeros(2, input_dim(model))
    names = output_names(model)
    # The TorchScript path writes the requested opset directly; the dynamo path builds at 18 and converts down.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and folding notes
        try:
            torch.onnx.export(
                _Decoder(model).eval(), (example,), buffer, input_names=[INPUT_NAME], output_names=names,
                dynamic_axes={INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in names}},
                opset_version=opset,
                dynamo=False, do_constant_folding=True,
            )
        except torch.onnx.errors.OnnxExporterError as error:
            # An op the decoder needs has no form at this opset: one line, nothing written.
            raise ExportError(f"the decoder cannot be written at opset {opset}: {str(error).splitlines()[0]}") \
                from None
    return buffer.getvalue()


def check_against_torch(onnx_bytes: bytes, model, seed: int = 0, batches=(1, 37)) -> float:
    """Largest absolute difference between torch and both onnxruntime and the ONNX reference evaluator on random z.

    Raises:
        ExportError: when any difference exceeds 1e-5 or a shape is wrong.
    """
    import onnx
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    reference = ReferenceEvaluator(onnx.load_from_string(onnx_bytes))
    rng = np.random.default_rng(seed)
    worst = 0.0
    names = output_names(model)
    for batch in batches:
        z = rng.standard_normal((batch, input_dim(model))).astype(np.float32)
        with torch.no_grad():
            expected = _Decoder(model)(torch.from_numpy(z))
        expected = [t.numpy() for t in (expected if isinstance(expected, tuple) else (expected,))]
        for name, outputs in (("onnxruntime", session.run(names, {INPUT_NAME: z})),
                              ("onnx.reference", reference.run(names, {INPUT_NAME: z}))):
            for output, got, want in zip(names, outputs, expected):
                if got.shape != want.shape or got.dtype != np.float32:
                    raise ExportError(f"{name} returned {output} as {got.dtype} {got.shape}, expected float32 "
                                      f"{want.shape}")
                # Scores are logits plus Gumbel draws, -log(-log(u)), whose float error grows as u nears 1: they
                # get a looser, relative tolerance, and the mazes walked from them must be identical.
                tolerance = SCORES_TOLERANCE if output == SCORES_NAME else TOLERANCE
                diff = float((np.abs(got - want) / np.maximum(1.0, np.abs(want))).max())
                if diff > tolerance:
                    raise ExportError(f"{name} {output} differs from torch by {diff:.2e} at batch {batch} "
                                      f"(tolerance {tolerance})")
                if output == SCORES_NAME:
                    from daedalus.maze.scored_carve import carve

                    shape = (model.height, model.width)
                    if not np.array_equal(carve(got, shape), carve(want, shape)):
                        raise ExportError(f"{name} walks other mazes than torch at batch {batch}")
                else:
                    worst = max(worst, diff)
    return worst


def measure_quality(onnx_bytes: bytes, latent_dim: int, prior: dict, threshold: float, samples: int = 1000,
                    seed: int = 0) -> dict:
    """Maze statistics of ``samples`` prior samples decoded by the ONNX file itself, before repair: thresholded
    ``p_open``, or for a carve decoder the walk over its ``carve_scores``."""
    import onnxruntime as ort

    from daedalus.maze.scored_carve import carve
    from daedalus.maze.stats import batch_stats, distinct_fraction, summarize

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    z = np.random.default_rng(seed).standard_normal((samples, latent_dim))
    if prior["kind"] == "gaussian":
        z = z @ np.asarray(prior["scale_tril"]).T + np.asarray(prior["mean"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(names, {INPUT_NAME: z.astype(np.float32)})
    if SCORES_NAME in names:
        p_open = outputs[0]
        grids = carve(outputs[names.index(SCORES_NAME)], p_open.shape[1:])
    else:
        grids = (outputs[0] >= threshold).astype(np.uint8)
    stats = summarize(batch_stats(grids))
    stats["distinct"] = distinct_fraction(grids)
    stats["samples"] = samples
    stats["seed"] = seed
    # NaN (no solvable sample: no mean solution length) becomes null, since strict JSON has no NaN.
    return {k: ((round(v, 6) if np.isfinite(v) else None) if isinstance(v, float) else v) for k, v in stats.items()}


def export_decoder(run_dir: str | os.PathLike, out_path: str | os.PathLike, opset: int = 15,
                   quality_samples: int = 1000, seed: int = 0, prior: str | None = None,
                   temperature: float | None = None) -> dict:
    """Export the decoder of a run folder to ONNX with the full metadata contract.

    Args:
        run_dir: a folder written by ``daedalus train``.
        out_path: the ``.onnx`` file to write (atomically; nothing is written if a check fails).
        opset: ONNX opset, 7–21 (default 15, which Unity Sentis ≤ 2.5 and Barracuda read).
        quality_samples: prior samples scored for the ``quality`` metadata.
        seed: seed of the check and quality samples.
        prior: ``normal`` or ``aggregate`` (see :func:`latent_prior`); default: the run's ``prior`` option.
        temperature: decode temperature of a ``tree``/``ptree`` decoder (default: the run's); recorded in
            ``model_config``.

    Returns:
        The ``metadata_props`` written, as a dict of strings.

    Raises:
        CheckpointError: the run folder does not describe a decoder, or its files are corrupt.
        ExportError: the graph failed ``check_model`` or disagreed with torch.
        UsageError: a bad opset or output path.
    """
    import onnx

    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise UsageError(f"opset must be an integer from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}")
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".onnx":
        raise UsageError(f"--out {str(out_path)!r} must end in .onnx")
    folder = out_path.parent if str(out_path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--out {str(out_path)!r}: folder {str(folder)!r} does not exist")

    if prior is not None and prior not in PRIORS:
        raise UsageError(f"--prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    model, config = load_model(run_dir, device="cpu")
    data_kind = config.get("data", {}).get("kind")
    if data_kind != "mazes":
        raise ExportError(f"run {str(run_dir)!r} was trained on {data_kind!r}, not mazes: its decoder draws no "
                          "levels, so it is not exported as a Daedalus maze decoder")
    model.eval()
    if temperature is not None:
        if not hasattr(model, "temperature"):
            raise UsageError(f"--temperature applies to tree, ptree and carve decoders; the run in {str(run_dir)!r} holds "
                             f"{config['model'].get('name') or config['model']['kind']!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise UsageError(f"--temperature must be a number > 0, got {temperature!r}")
        model.temperature = float(temperature)
        config["model"] = {**config["model"], "temperature": float(temperature)}
    height, width = model.height, model.width
    threshold = float(config.get("threshold", 0.5))
    prior = latent_prior(model, config, prior)
    with torch.no_grad():
        raw = _torch_export(model, opset)
    proto = onnx.load_from_string(raw)
    if proto.opset_import[0].version != opset:
        raise ExportError(f"the exporter wrote opset {proto.opset_import[0].version}, asked for {opset}")

    provisional = check_against_torch(raw, model, seed)
    quality = measure_quality(raw, input_dim(model), prior, threshold, quality_samples, seed)
    data = config["data"]
    training_data = {k: data[k] for k in ("kind", "count", "height", "width", "seed", "fresh") if k in data}
    metadata = {
        "daedalus_format": FORMAT_VERSION,
        "latent_dim": str(input_dim(model)),
        "height": str(height),
        "width": str(width),
        "lattice_rule": LATTICE_RULE,
        "start": json.dumps(list(default_start((height, width)))),
        "exit": json.dumps(list(default_exit((height, width)))),
        "threshold": repr(threshold),
        "model_name": str(config["model"].get("name", "")),
        "model_kind": config["model"]["kind"],
        "model_config": json.dumps(config["model"]),
        "schedule": json.dumps(config.get("schedule", {})),
        "training_seed": str(config.get("train", {}).get("seed", "")),
        "training_data": json.dumps(training_data),
        "latent_prior": json.dumps(prior),
        "quality": json.dumps(quality),
        "daedalus_version": __version__,
    }
    if is_carve(model):
        # z = [code | noise]: a runtime samples all of it from N(0, I); the split matters to latent tools only.
        metadata.update({"decoding": "carve", "code_dim": str(model.latent_dim), "noise_dim": str(model.noise_dim)})
    # The exporter leaves H and W symbolic after the final Reshape; engines want them static.
    out_dims = proto.graph.output[0].type.tensor_type.shape.dim
    out_dims[1].dim_value, out_dims[2].dim_value = height, width
    if is_carve(model):
        for dim, value in zip(proto.graph.output[1].type.tensor_type.shape.dim[1:], (model.rows, model.cols, 4)):
            dim.dim_value = value
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "daedalus"
    proto.producer_version = __version__
    proto.doc_string = (f"Daedalus maze decoder: z float32 [batch, {input_dim(model)}] -> p_open float32 "
                        f"[batch, {height}, {width}], the probability that each position is open floor.")
    if is_carve(model):
        proto.doc_string += (f" carve_scores float32 [batch, {model.rows}, {model.cols}, 4]: walk depth-first from "
                             "the start, always to the unvisited neighbour (up, right, down, left) with the highest "
                             "score; that walk is the level (docs/formats.md).")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"onnx.checker rejected the graph: {str(error).splitlines()[0]}") from None
    final = proto.SerializeToString()
    check_against_torch(final, model, seed + 1)
    atomic_write(out_path, final)
    return {**metadata, "max_abs_diff": provisional}
