"""Walk temperatures fitted by the two-sample test (docs/formats.md "Raster decoders", step 0; EXPERIMENTS.md "A
walk temperature per style, built").

Two cases where a decoder's scores come out flatter than its corpus: one walk and one set of context tables serving
every style of a many-style decoder, and a one-style decoder trained on few levels. For the prior (a one-style
decoder) or for each style, levels are drawn at each temperature of ``TEMPERATURES`` (the same codes and noise every
time) and the two-sample test's critic (one seed for all, so the figures differ by the temperature, not by the
critic) tells them from the training levels. The lowest-scoring temperature is kept if it beats T = 1 by the
test's noise (``MARGIN``, or one standard error on a small test), else 1.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping

import numpy as np

from daedalus.contract import read_contract
from daedalus.runtime.decodings import decoding_for

TEMPERATURES = (0.7, 0.8, 0.9, 1.0)
MARGIN = 0.02
# Fewer training levels keep T = 1: on 70 a side the test's figure moves by more than any gain seen.
MIN_LEVELS = 150
SAMPLES = 1000


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fit(session, info, decoding, style, mode: str, reference: np.ndarray, seed: int,
         stream: int) -> tuple[float, dict[str, float]]:
    """``(the temperature kept, {repr(T): two-sample accuracy})`` for the prior (``style`` None) or one style."""
    from daedalus.contract import INPUT_NAME
    from daedalus.trainer.two_sample import two_sample_accuracy

    count = min(SAMPLES, len(reference))
    z = np.random.default_rng([seed, stream]).standard_normal((count, info.latent_dim))
    mean, tril = (info.prior_mean, info.prior_scale_tril) if style is None else (style.mean, style.scale_tril)
    if mean is not None:
        z[:, :len(mean)] = z[:, :len(mean)] @ np.asarray(tril).T + np.asarray(mean)
    outputs = session.run(list(info.outputs), {INPUT_NAME: z.astype(np.float32)})
    fit, tested = {}, 0
    for temperature in TEMPERATURES:
        levels = decoding.tempered_levels(outputs, mode, style, temperature)
        result = two_sample_accuracy(levels, reference, seed=seed)
        fit[temperature], tested = round(float(result["accuracy"]), 4), int(result["n_test"])
    best = min(fit, key=fit.get)
    margin = max(MARGIN, 0.5 / math.sqrt(max(tested, 1)))  # the standard error of an accuracy near 0.5
    chosen = best if fit[best] <= fit.get(1.0, 1.0) - margin else 1.0
    return chosen, {repr(t): a for t, a in fit.items()}


def _report(name: str, chosen: float, fit: dict[str, float]) -> str:
    return (f"{name}: walk temperature {chosen:g} (two-sample "
            + ", ".join(f"T {float(t):g} {a:.3f}" for t, a in fit.items()) + ")")


def fit_style_temperatures(onnx_bytes: bytes, metadata: Mapping[str, str], references: Mapping[str, np.ndarray],
                           seed: int = 0, progress: Callable[[str], None] | None = None) -> list[dict]:
    """The ``styles`` metadata entries of ``metadata`` with ``walk_temperature`` and ``walk_temperature_fit`` (each
    tried temperature's two-sample accuracy) in the ``corpus`` of every style that ``references`` has levels for
    (``name -> (N, H, W)`` grids, that style's training levels). Styles with fewer than ``MIN_LEVELS`` levels, and
    every style of a decoder whose levels do not depend on a temperature, are returned unchanged.
    """
    import onnxruntime as ort

    styles = json.loads(metadata.get("styles", "[]"))
    info = read_contract(dict(metadata), "the decoder being fitted")
    decoding = decoding_for(info, "the decoder being fitted")
    if not styles or not decoding.tempered:
        return styles
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    for index, (entry, style) in enumerate(zip(styles, info.styles)):
        reference = references.get(style.name)
        if reference is None or len(reference) < MIN_LEVELS:
            continue
        mode = style.corpus.get("mode", "perfect")
        chosen, fit = _fit(session, info, decoding, style, mode, reference, seed, index)
        entry["corpus"]["walk_temperature"] = chosen
        entry["corpus"]["walk_temperature_fit"] = fit
        if progress is not None:
            progress(_report(f"style {style.name}", chosen, fit))
    return styles


def fit_prior_temperature(onnx_bytes: bytes, metadata: Mapping[str, str], reference: np.ndarray, seed: int = 0,
                          progress: Callable[[str], None] | None = None) -> dict[str, str]:
    """The metadata ``walk_temperature`` and ``walk_temperature_fit`` for the prior of a one-style decoder, fitted
    against its training levels ``reference`` in its default mode; ``{}`` when there are fewer than ``MIN_LEVELS``
    of them or the decoder's levels do not depend on a temperature."""
    import onnxruntime as ort

    info = read_contract(dict(metadata), "the decoder being fitted")
    decoding = decoding_for(info, "the decoder being fitted")
    if not decoding.tempered or len(reference) < MIN_LEVELS:
        return {}
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    mode = metadata.get("default_mode", "perfect")
    chosen, fit = _fit(session, info, decoding, None, mode, reference, seed, 0)
    if progress is not None:
        progress(_report("the prior", chosen, fit))
    return {"walk_temperature": repr(chosen), "walk_temperature_fit": json.dumps(fit)}
