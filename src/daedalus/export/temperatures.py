"""A walk temperature per style of a many-style decoder, fitted by the two-sample test (docs/formats.md "Raster
decoders", step 0; EXPERIMENTS.md "A temperature on the walk").

One walk and one set of context tables serve every style, so some styles' scores come out flatter or sharper than
their corpus wants. For each style, its levels are drawn at each temperature of ``TEMPERATURES`` (the same codes and
noise every time) and the two-sample test's critic (one seed for all, so the figures differ by the temperature, not
by the critic) tells them from that style's training levels. The style keeps the temperature with the lowest
accuracy if it beats T = 1 by ``MARGIN`` (two critics' figures differ by about that much), else 1.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Mapping

import numpy as np

from daedalus.contract import read_contract
from daedalus.runtime.decodings import decoding_for

TEMPERATURES = (0.7, 0.8, 0.9, 1.0)
MARGIN = 0.02
# A style with fewer training levels keeps T = 1: on 100 a side the test's figure moves by more than any gain seen.
MIN_LEVELS = 200
SAMPLES = 1000


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fit_style_temperatures(onnx_bytes: bytes, metadata: Mapping[str, str], references: Mapping[str, np.ndarray],
                           seed: int = 0, progress: Callable[[str], None] | None = None) -> list[dict]:
    """The ``styles`` metadata entries of ``metadata`` with ``walk_temperature`` and ``walk_temperature_fit`` (each
    tried temperature's two-sample accuracy) in the ``corpus`` of every style that ``references`` has levels for
    (``name -> (N, H, W)`` grids, that style's training levels). Styles with fewer than ``MIN_LEVELS`` levels, and
    every style of a decoder whose levels do not depend on a temperature, are returned unchanged.
    """
    import onnxruntime as ort

    from daedalus.contract import INPUT_NAME
    from daedalus.trainer.two_sample import two_sample_accuracy

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
        count = min(SAMPLES, len(reference))
        rng = np.random.default_rng([seed, index])
        z = rng.standard_normal((count, info.latent_dim))
        k = len(style.mean)
        z[:, :k] = z[:, :k] @ style.scale_tril.T + style.mean
        outputs = session.run(list(info.outputs), {INPUT_NAME: z.astype(np.float32)})
        mode = style.corpus.get("mode", "perfect")
        fit = {}
        for temperature in TEMPERATURES:
            trial = dataclasses.replace(style, corpus={**style.corpus, "walk_temperature": temperature})
            levels = decoding.raw(outputs, mode, trial)
            fit[temperature] = round(float(two_sample_accuracy(levels, reference, seed=seed)["accuracy"]), 4)
        best = min(fit, key=fit.get)
        chosen = best if fit[best] <= fit.get(1.0, 1.0) - MARGIN else 1.0
        entry["corpus"]["walk_temperature"] = chosen
        entry["corpus"]["walk_temperature_fit"] = {repr(t): a for t, a in fit.items()}
        if progress is not None:
            progress(f"style {style.name}: walk temperature {chosen:g} (two-sample "
                     + ", ".join(f"T {t:g} {a:.3f}" for t, a in fit.items()) + ")")
    return styles
