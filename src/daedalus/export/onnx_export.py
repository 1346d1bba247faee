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
MIN_OPSET, MAX_OPSET = 7, 21
TOLERANCE = 1e-5


class ExportError(DaedalusError):
    """The exported graph failed a check; nothing was written."""


class _Decoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode(z)


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
    example = torch.zeros(2, model.latent_dim)
    # The TorchScript path writes the requested opset directly; the dynamo path builds at 18 and converts down.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and folding notes
        try:
            torch.onnx.export(
                _Decoder(model).eval(), (example,), buffer, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, opset_version=opset,
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
    for batch in batches:
        z = rng.standard_normal((batch, model.latent_dim)).astype(np.float32)
        with torch.no_grad():
            expected = model.decode(torch.from_numpy(z)).numpy()
        for name, got in (("onnxruntime", session.run([OUTPUT_NAME], {INPUT_NAME: z})[0]),
                          ("onnx.reference", reference.run(None, {INPUT_NAME: z})[0])):
            if got.shape != expected.shape or got.dtype != np.float32:
                raise ExportError(f"{name} returned {got.dtype} {got.shape}, expected float32 {expected.shape}")
            diff = float(np.abs(got - expected).max())
            if diff > TOLERANCE:
                raise ExportError(f"{name} differs from torch by {diff:.2e} at batch {batch} (tolerance {TOLERANCE})")
            worst = max(worst, diff)
    return worst


def measure_quality(onnx_bytes: bytes, latent_dim: int, prior: dict, threshold: float, samples: int = 1000,
                    seed: int = 0) -> dict:
    """Maze statistics of ``samples`` prior samples decoded by the ONNX file itself, thresholded, before repair."""
    import onnxruntime as ort

    from daedalus.maze.stats import batch_stats, distinct_fraction, summarize

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    z = np.random.default_rng(seed).standard_normal((samples, latent_dim))
    if prior["kind"] == "gaussian":
        z = z @ np.asarray(prior["scale_tril"]).T + np.asarray(prior["mean"])
    grids = (session.run([OUTPUT_NAME], {INPUT_NAME: z.astype(np.float32)})[0] >= threshold).astype(np.uint8)
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
            raise UsageError(f"--temperature applies to tree and ptree decoders; the run in {str(run_dir)!r} holds "
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
    quality = measure_quality(raw, model.latent_dim, prior, threshold, quality_samples, seed)
    data = config["data"]
    training_data = {k: data[k] for k in ("kind", "count", "height", "width", "seed", "fresh") if k in data}
    metadata = {
        "daedalus_format": FORMAT_VERSION,
        "latent_dim": str(model.latent_dim),
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
    # The exporter leaves H and W symbolic after the final Reshape; engines want them static.
    out_dims = proto.graph.output[0].type.tensor_type.shape.dim
    out_dims[1].dim_value, out_dims[2].dim_value = height, width
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "daedalus"
    proto.producer_version = __version__
    proto.doc_string = (f"Daedalus maze decoder: z float32 [batch, {model.latent_dim}] -> p_open float32 "
                        f"[batch, {height}, {width}], the probability that each position is open floor.")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"onnx.checker rejected the graph: {str(error).splitlines()[0]}") from None
    final = proto.SerializeToString()
    check_against_torch(final, model, seed + 1)
    atomic_write(out_path, final)
    return {**metadata, "max_abs_diff": provisional}
