"""Write a run's decoder as an ONNX file (timm ``utils/onnx.py`` style): eval mode, named input ``z`` and the
outputs ``daedalus.contract`` names for the model's decoding kind, dynamic batch, ``check_model(full_check=True)``,
then onnxruntime and the ONNX reference evaluator are compared with torch (and must walk the same levels) before
the file is written (atomically)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from daedalus import __version__
from daedalus.contract import (
    DEFAULT_OPSET,
    INPUT_NAME,
    MAX_OPSET,
    MIN_OPSET,
    PRIORS,
    format_version,
    read_contract,
)
from daedalus.contract import output_names as contract_output_names
from daedalus.errors import DaedalusError, UsageError
from daedalus.files import atomic_write
from daedalus.maze.evaluation import corpus_mode
from daedalus.maze.grid import LATTICE_RULE, default_exit, default_start
from daedalus.runtime.decodings import decoding_for
from daedalus.trainer.checkpoint import load_model

TOLERANCE = 1e-5
# Walk scores carry Gumbel draws, -log(-log(u)), whose float error grows as u nears 1: a looser, relative tolerance,
# and the levels walked from them must be identical. (1e-4 held until onnxruntime 1.32, whose float32 kernels put a
# 64 x 64 carve decoder's worst draw at 1.7e-4 from torch with identical levels.)
OUTPUT_TOLERANCES = {"carve_scores": 1e-3}


class ExportError(DaedalusError):
    """The exported graph failed a check; nothing was written."""


class _Decoder(torch.nn.Module):
    """The graph the export writes: the model's ``export_outputs``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.export_outputs(z)


WALK_TEMPERATURE_CHOICES = ("fit", "none")


def output_names(model) -> list[str]:
    return list(contract_output_names(model.DECODING, model.export_metadata()))


def latent_prior(model, config: dict, prior: str | None = None, dataset=None) -> dict:
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

    mean, tril = code_gaussian(model, (dataset if dataset is not None else load_dataset(config["data"])).train)
    # Over the code only: a walk decoder's noise dimensions stay N(0, 1).
    return {"kind": "gaussian", "mean": mean.tolist(), "scale_tril": tril.tolist()}


def code_gaussian(model, grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale_tril)`` of a Gaussian fitted to the codes of ``grids``: the mean and covariance of μ plus the
    mean posterior variance (a VAE), or of the codes (an AE)."""
    mus, variances = [], []
    with torch.no_grad():
        for chunk in torch.split(torch.from_numpy(np.asarray(grids, dtype=np.float32)), 1024):
            mu, logvar = model.encode(chunk)
            mus.append(mu.double().numpy())
            if logvar is not None:
                variances.append(logvar.exp().double().numpy())
    codes = np.concatenate(mus)
    mean = codes.mean(axis=0)
    cov = np.cov(codes, rowvar=False).reshape(len(mean), len(mean)) + 1e-6 * np.eye(len(mean))
    if variances:
        cov += np.diag(np.concatenate(variances).mean(axis=0))
    return mean, np.linalg.cholesky(cov)


def _torch_export(model, opset: int) -> bytes:
    buffer = io.BytesIO()
    example = torch.zeros(2, model.input_dim)
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


def compact_constants(proto, min_size: int = 65536) -> int:
    """Store each large float32 constant (an initializer or a Constant node) whose every value is exactly a float16
    as float16, widened back by a Cast: the same numbers in half the bytes (a raster decoder's context tables, which
    its model rounds to float16 precision). Returns the bytes saved."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    taken = {name for node in graph.node for name in (*node.input, *node.output)}
    taken |= {i.name for i in graph.initializer}

    def halved(tensor):
        if tensor.data_type != TensorProto.FLOAT or np.prod(tensor.dims) < min_size:
            return None
        values = numpy_helper.to_array(tensor)
        half = values.astype(np.float16)
        return half if np.array_equal(half.astype(np.float32), values) else None

    def widen(stored: str, name: str):
        return helper.make_node("Cast", [stored], [name], to=TensorProto.FLOAT, name=f"widen_{name}")

    saved, nodes, casts = 0, [], []
    for initializer in graph.initializer:
        half, stored = halved(initializer), initializer.name + "_float16"
        if half is None or stored in taken:
            continue
        saved += half.nbytes
        casts.append(widen(stored, initializer.name))
        initializer.CopyFrom(numpy_helper.from_array(half, stored))
    for node in graph.node:
        nodes.append(node)
        if node.op_type != "Constant" or len(node.attribute) != 1 or node.attribute[0].name != "value":
            continue
        name = node.output[0]
        half, stored = halved(node.attribute[0].t), name + "_float16"
        if half is None or stored in taken:
            continue
        saved += half.nbytes
        node.attribute[0].t.CopyFrom(numpy_helper.from_array(half, stored))
        node.output[0] = stored
        nodes.append(widen(stored, name))
    del graph.node[:]
    graph.node.extend([*casts, *nodes])
    return saved


def check_against_torch(onnx_bytes: bytes, model, decoding, seed: int = 0, batches=(1, 37)) -> float:
    """Largest absolute difference between torch and both onnxruntime and the ONNX reference evaluator on random z;
    the levels ``decoding`` (the runtime's class for this kind) draws from each must be identical.

    Raises:
        ExportError: when any difference exceeds its tolerance, a shape is wrong or the levels differ.
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
        z = rng.standard_normal((batch, model.input_dim)).astype(np.float32)
        with torch.no_grad():
            expected = [t.numpy() for t in _Decoder(model)(torch.from_numpy(z))]
        levels = decoding.raw(expected, "perfect")
        for name, outputs in (("onnxruntime", session.run(names, {INPUT_NAME: z})),
                              ("onnx.reference", reference.run(names, {INPUT_NAME: z}))):
            for output, got, want in zip(names, outputs, expected):
                if got.shape != want.shape or got.dtype != np.float32:
                    raise ExportError(f"{name} returned {output} as {got.dtype} {got.shape}, expected float32 "
                                      f"{want.shape}")
                tolerance = OUTPUT_TOLERANCES.get(output, TOLERANCE)
                diff = float((np.abs(got - want) / np.maximum(1.0, np.abs(want))).max())
                if diff > tolerance:
                    raise ExportError(f"{name} {output} differs from torch by {diff:.2e} at batch {batch} "
                                      f"(tolerance {tolerance})")
                worst = max(worst, diff)
            if not np.array_equal(decoding.raw([np.asarray(o) for o in outputs], "perfect"), levels):
                raise ExportError(f"{name} draws other levels than torch at batch {batch}")
    return worst


def prior_outputs(onnx_bytes: bytes, info, samples: int, seed: int) -> list[np.ndarray]:
    """The ONNX file's outputs for ``samples`` latents from its prior."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    z = np.random.default_rng(seed).standard_normal((samples, info.latent_dim))
    if info.prior_mean is not None:
        k = len(info.prior_mean)
        z[:, :k] = z[:, :k] @ info.prior_scale_tril.T + info.prior_mean
    return session.run(list(info.outputs), {INPUT_NAME: z.astype(np.float32)})


def measure_quality(onnx_bytes: bytes, info, decoding, samples: int = 1000, seed: int = 0,
                    mode: str = "perfect") -> dict:
    """Maze statistics of ``samples`` prior samples decoded by the ONNX file itself, before repair (the runtime's
    ``decoding`` of this kind: thresholded ``p_open`` or the walk), in ``mode`` (the decoder's default mode: a
    decoder of a corpus with loops is measured drawing its loops)."""
    from daedalus.maze.stats import batch_stats, distinct_fraction, summarize

    grids = decoding.raw(prior_outputs(onnx_bytes, info, samples, seed), mode)
    stats = summarize(batch_stats(grids))
    stats["distinct"] = distinct_fraction(grids)
    stats["samples"] = samples
    stats["seed"] = seed
    stats["mode"] = mode
    # NaN (no solvable sample: no mean solution length) becomes null, since strict JSON has no NaN.
    return {k: ((round(v, 6) if np.isfinite(v) else None) if isinstance(v, float) else v) for k, v in stats.items()}


def training_description(data: dict) -> dict:
    """What ``eval`` needs to rebuild the training data: the data configuration without local-only keys."""
    keys = ("kind", "count", "height", "width", "seed", "fresh", "path", "generator", "braid", "sha256", "styles",
            "format")
    return {k: data[k] for k in keys if k in data}


def style_metadata(model, config: dict, dataset=None) -> list[dict]:
    """One ``styles`` entry per style of a many-style corpus: a Gaussian fitted to that style's codes (``dataset``:
    the training data already read, or None to read it)."""
    from daedalus.contract import style_entry
    from daedalus.trainer.data import load_dataset

    names = config["data"].get("styles") or []
    if not names:
        return []
    data = dataset if dataset is not None else load_dataset(config["data"])
    entries = []
    for index, name in enumerate(names):
        grids = data.train[data.train_labels == index]
        if len(grids) < 2:
            continue
        mean, tril = code_gaussian(model, grids)
        entries.append(style_entry(name, mean, tril, {"levels": int(len(grids)), "mode": corpus_mode(grids)}))
    return entries


def training_mode(config: dict, dataset=None) -> str | None:
    """``"braid"`` when most training levels have loops, ``"perfect"`` otherwise (``corpus_mode``): the mode the
    runtime draws this decoder's levels in when not told. None when the training data can no longer be read."""
    from daedalus.trainer.data import load_dataset

    if dataset is not None:
        return corpus_mode(dataset.train)
    data = config["data"]
    try:
        if data.get("kind") == "mazes":  # generated: 256 of the same generator's mazes tell as well as all of them
            from daedalus.runtime.eval_cli import generated_corpus

            return corpus_mode(generated_corpus(data, min(int(data.get("count") or 256), 256), int(data["seed"])))
        return corpus_mode(load_dataset(data).train)
    except (DaedalusError, OSError, ValueError, KeyError, TypeError):
        return None


def _readable_corpus(config: dict):
    """The training data of a run trained on a corpus, read (a ``Dataset``); None for generated mazes (drawn on
    demand) or a corpus that can no longer be read (whatever needs it then says why)."""
    from daedalus.trainer.data import load_dataset

    if config["data"].get("kind") != "corpus":
        return None
    try:
        return load_dataset(config["data"])
    except (DaedalusError, OSError, ValueError):
        return None


def export_decoder(run_dir: str | os.PathLike, out_path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                   quality_samples: int = 1000, seed: int = 0, prior: str | None = None,
                   temperature: float | None = None, size: tuple[int, int] | None = None,
                   walk_temperatures: str = "fit") -> dict:
    """Export the decoder of a run folder to ONNX with the full metadata contract.

    Args:
        run_dir: a folder written by ``daedalus train``.
        out_path: the ``.onnx`` file to write (atomically; nothing is written if a check fails).
        opset: ONNX opset, 7–21 (default 15, which Unity Sentis ≤ 2.5 and Barracuda read).
        quality_samples: prior samples scored for the ``quality`` metadata.
        seed: seed of the check and quality samples.
        prior: ``normal`` or ``aggregate`` (see :func:`latent_prior`); default: the run's ``prior`` option.
        temperature: walk temperature of a ``carve`` decoder (default: the run's); recorded in ``model_config``.
        size: ``(height, width)`` of the levels to draw, when not the training size: a decoder whose weights do
            not depend on the size (``model.resized``; a raster decoder with ``cell_decoder = "shared"``) is exported
            for that size, and ``trained_size`` records the size it learned at.
        walk_temperatures: ``"fit"`` (a raster decoder trained on a corpus gets a walk temperature, fitted by the
            two-sample test against its training levels, or one per style against each style's:
            ``daedalus.export.temperatures``) or ``"none"`` (it walks at T = 1).

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
    from daedalus.maze.cli import check_writable_folder

    check_writable_folder(folder, "--out", out_path)  # before the export, not after it (/proc, a read-only mount)

    if walk_temperatures not in WALK_TEMPERATURE_CHOICES:
        raise UsageError(f"--walk-temperatures must be one of {', '.join(WALK_TEMPERATURE_CHOICES)}, got "
                         f"{walk_temperatures!r}")
    if prior is not None and prior not in PRIORS:
        raise UsageError(f"--prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    model, config = load_model(run_dir, device="cpu")
    data_kind = config.get("data", {}).get("kind")
    if data_kind not in ("mazes", "corpus"):
        raise ExportError(f"run {str(run_dir)!r} was trained on {data_kind!r}, not mazes: its decoder draws no "
                          "levels, so it is not exported as a Daedalus maze decoder")
    model.eval()
    if temperature is not None:
        if "temperature" not in config["model"]:
            raise UsageError(f"--temperature applies to carve decoders; the run in {str(run_dir)!r} holds "
                             f"{config['model'].get('name') or config['model']['kind']!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise UsageError(f"--temperature must be a number > 0, got {temperature!r}")
        model.temperature = float(temperature)
        config["model"] = {**config["model"], "temperature": float(temperature)}
    threshold = float(config.get("threshold", 0.5))
    # The prior and the styles read the training levels with the encoder, at the training size.
    # A corpus is read once here: the prior, the styles and the mode all look at its training levels.
    dataset = _readable_corpus(config)
    prior = latent_prior(model, config, prior, dataset)
    styles = style_metadata(model, config, dataset)
    mode = training_mode(config, dataset)
    trained = (model.height, model.width)
    if size is not None and tuple(size) != trained:
        model = model.resized(*size)
        config["model"] = {**config["model"], "height": model.height, "width": model.width}
    height, width = model.height, model.width
    with torch.no_grad():
        raw = _torch_export(model, opset)
    proto = onnx.load_from_string(raw)
    compact_constants(proto)
    raw = proto.SerializeToString()
    if proto.opset_import[0].version != opset:
        raise ExportError(f"the exporter wrote opset {proto.opset_import[0].version}, asked for {opset}")

    data = config["data"]
    metadata = {
        "daedalus_format": format_version(model.DECODING, model.export_metadata()),
        "latent_dim": str(model.input_dim),
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
        "training_data": json.dumps(training_description(data)),
        "latent_prior": json.dumps(prior),
        "daedalus_version": __version__,
        **model.export_metadata(),
    }
    if trained != (height, width):
        metadata["trained_size"] = f"{trained[0]}x{trained[1]}"
    if mode is not None:
        metadata["default_mode"] = mode
    if styles:
        metadata["styles"] = json.dumps(styles)
    info = read_contract(metadata, f"the export of {str(run_dir)!r}")
    decoding = decoding_for(info, "being exported")
    metadata.update(decoding.braid_metadata(prior_outputs(raw, info, quality_samples, seed)))
    for entry in styles:
        # Each style gets the bonus its own levels need (0 for a braided style, whose loops are learned).
        style_prior = dataclasses.replace(info, prior_mean=np.asarray(entry["mean"]),
                                          prior_scale_tril=np.asarray(entry["scale_tril"]))
        outputs = prior_outputs(raw, style_prior, min(quality_samples, 300), seed)
        entry["corpus"].update(decoding.style_braid_metadata(outputs))
    if styles:
        metadata["styles"] = json.dumps(styles)
    if walk_temperatures == "fit" and dataset is not None and decoding.tempered and trained == (height, width):
        from daedalus.export.temperatures import fit_prior_temperature, fit_style_temperatures, stderr_progress

        if styles:  # each style against its own levels; the prior (their mixture) walks at 1
            names = config["data"].get("styles") or []
            references = {name: dataset.train[dataset.train_labels == i] for i, name in enumerate(names)}
            styles = fit_style_temperatures(raw, metadata, references, seed, progress=stderr_progress)
            metadata["styles"] = json.dumps(styles)
        else:
            metadata.update(fit_prior_temperature(raw, metadata, dataset.train, seed, progress=stderr_progress))
        metadata["daedalus_format"] = format_version(info.decoding, metadata)
    info = read_contract(metadata, f"the export of {str(run_dir)!r}")
    decoding = decoding_for(info, "being exported")
    provisional = check_against_torch(raw, model, decoding, seed)
    metadata["quality"] = json.dumps(measure_quality(raw, info, decoding, quality_samples, seed,
                                                     metadata.get("default_mode", "perfect")))
    # The exporter leaves some dimensions symbolic after a Reshape; engines want them static.
    for output, shape in zip(proto.graph.output, decoding.shapes()):
        for dim, value in zip(output.type.tensor_type.shape.dim, shape):
            if value is not None:
                dim.dim_value = value
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "daedalus"
    proto.producer_version = __version__
    proto.doc_string = (f"Daedalus maze decoder ({info.decoding}): z float32 [batch, {model.input_dim}] -> "
                        + ", ".join(f"{name} float32 [{', '.join('batch' if d is None else str(d) for d in shape)}]"
                                    for name, shape in zip(info.outputs, decoding.shapes()))
                        + "; how the outputs become a level is in docs/formats.md.")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"onnx.checker rejected the graph: {str(error).splitlines()[0]}") from None
    final = proto.SerializeToString()
    check_against_torch(final, model, decoding, seed + 1)
    atomic_write(out_path, final)
    return {**metadata, "max_abs_diff": provisional}
