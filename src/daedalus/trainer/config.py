"""Run configuration: defaults, a TOML file, command-line overrides → one resolved dict (``config.json``).

Options are flat names shared by the TOML file and the command line (``batch_size`` or ``batch-size``).
No torch here, so bad options fail fast.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from daedalus import __version__
from daedalus.errors import UsageError
from daedalus.trainer.schedules import LR_SCHEDULES

# Every option with its default; None means "derived" (see resolve_config). The defaults are the one recommended
# configuration, configs/styles.toml (a test keeps the two equal).
OPTIONS: dict[str, object] = {
    "model": "auto",
    "latent": None,
    "hidden": None,
    "schedule": None,
    "beta_max": 0.1,
    "cycles": 4,
    "ratio": 0.5,
    "data": "mazes",
    "count": None,
    "size": None,
    "holdout": 256,
    "fresh": False,
    "generator": None,
    "braid": None,
    "mnist_dir": None,
    "data_seed": None,
    "epochs": 40,
    "batch_size": 64,
    "lr": 1e-3,
    "lr_schedule": "constant",
    "loss": None,
    "seed": 0,
    "device": "auto",
    "eval_samples": 200,
    "threshold": 0.5,
    "figures": True,
    "temperature": None,
    "context_groups": None,
    "cell_decoder": None,
    "context_hidden": None,
    "window": None,
    "context_mix": None,
    "walk_order": "auto",
    "free_bits": 0.0,
    "prior": None,
    "keep": "best",
    "augment": "auto",
    "tune_rounds": 12,
    "tune_steps": 30,
    "tune_weight": 0.3,
    "init": None,
}
PRIORS = ("normal", "aggregate")
# Which epoch's weights a run keeps in model.safetensors: the one with the lowest held-out loss, or the last.
KEEPS = ("best", "last")
# Whether training shows each level under the flips and quarter turns the corpus is invariant under
# (daedalus.maze.symmetry, tested on the training levels), or only as it is.
AUGMENTS = ("auto", "none")


def read_toml(path: str | os.PathLike) -> dict:
    """Options from a TOML file (flat keys; ``-`` and ``_`` are the same). Raises UsageError on a bad file."""
    import tomllib

    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {error}") from None
    options = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in OPTIONS:
            raise UsageError(f"config file {str(path)!r}: unknown option {key!r}, expected one of "
                             f"{', '.join(sorted(OPTIONS))}")
        options[name] = value
    return options


def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _window(value) -> list[int] | None:
    """The ``window`` option (a raster walk's window network): comma-separated hidden widths like ``64`` or
    ``32,32``, a list of them, or ``none`` (no window network); None when not given."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("none", "0"):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] if value else []
    from daedalus.maze.raster_walk import window_widths

    try:
        return list(window_widths(value))
    except ValueError as error:
        raise UsageError(f"window {error}") from None


# The options that shape a model; a run that starts from another run's weights (``init``) takes that run's.
SHAPE_OPTIONS = {"latent_dim": "latent", "hidden": "hidden", "temperature": "temperature",
                 "context_groups": "context_groups", "cell_decoder": "cell_decoder",
                 "context_hidden": "context_hidden", "window_hidden": "window", "mix": "context_mix"}


def _init_config(init) -> dict:
    """The model configuration of the trained run folder ``init``; UsageError naming what is missing or wrong."""
    import json

    folder = Path(init)
    config_path, weights = folder / "config.json", folder / "model.safetensors"
    if not config_path.is_file() or not weights.is_file():
        missing = config_path if not config_path.is_file() else weights
        raise UsageError(f"init {str(folder)!r} is not a trained run folder: {str(missing)!r} is missing")
    try:
        model = json.loads(config_path.read_text())["model"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise UsageError(f"init {str(folder)!r}: {str(config_path)!r} is not a run configuration "
                         f"({type(error).__name__}: {error})") from None
    if not isinstance(model, dict) or not isinstance(model.get("height"), int) or \
            not isinstance(model.get("width"), int):
        raise UsageError(f"init {str(folder)!r}: {str(config_path)!r} describes no model with a height and width")
    return model


def init_model(init, model: dict, data: dict, name: str, given: dict, walk_order: str) -> dict:
    """The model configuration of a run that starts from the trained run folder ``init`` (``--init``), whose own
    is ``model`` (``_init_config``): checked for what can be checked before torch (the options given, the size).
    Raises UsageError naming the folder or the option that does not fit."""
    from daedalus.trainer.walk_order import AUTO

    folder = Path(init)
    shaped = [SHAPE_OPTIONS[key] for key, value in given.items() if value is not None]
    if name != AUTO:
        shaped.insert(0, "model")
    if walk_order != AUTO:
        shaped.append("walk_order")
    if shaped:
        raise UsageError(f"init {str(folder)!r} brings its own model; drop {', '.join(shaped)}")
    size = (model["height"], model["width"])
    if data.get("height") is not None and (data["height"], data["width"]) != size:
        raise UsageError(f"size {data['height']}x{data['width']} does not match init {str(folder)!r}, whose model "
                         f"draws {size[0]}x{size[1]} levels")
    return model


def _size(value) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    elif isinstance(value, str):
        from daedalus.maze.cli import parse_size

        return parse_size(value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise UsageError(f"size must be N, 'HxW' or [H, W], got {value!r}")
    from daedalus.maze.grid import check_shape

    try:
        return check_shape(*value)
    except ValueError as error:
        raise UsageError(f"size: {error}") from None


def resolve_config(overrides: dict | None = None, config_file: str | os.PathLike | None = None) -> dict:
    """The full run configuration from defaults, an optional TOML file and overrides (``None`` = not given).

    Returns:
        ``{"model", "schedule", "data", "train", "threshold", "daedalus_version"}``; ``model`` is the full
        constructor configuration (see ``docs/formats.md``).

    Raises:
        UsageError: one line naming the bad option and what was expected.
    """
    from daedalus.trainer.data import check_data
    from daedalus.trainer.models import MODELS, model_config
    from daedalus.trainer.schedules import check_schedule

    options = dict(OPTIONS)
    if config_file is not None:
        options.update(read_toml(config_file))
    for key, value in (overrides or {}).items():
        if key not in OPTIONS:
            raise UsageError(f"unknown option {key!r}")
        if value is not None:
            options[key] = value

    from daedalus.trainer.selection import AUTO, CANDIDATES

    name = options["model"]
    if name != AUTO and name not in MODELS:
        raise UsageError(f"unknown model {name!r}, expected {AUTO} or one of {', '.join(MODELS)}")
    if options["latent"] is not None:
        _int("latent", options["latent"], 1)
    hidden = options["hidden"]
    if hidden is not None:
        if isinstance(hidden, str):
            try:
                hidden = [int(h) for h in hidden.split(",")]
            except ValueError:
                raise UsageError(f"hidden must be comma-separated widths like 512,512, got {hidden!r}") from None
        if not isinstance(hidden, list) or not hidden or any(
                isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise UsageError(f"hidden must be a non-empty list of positive widths, got {hidden!r}")

    kind = MODELS[CANDIDATES[0] if name == AUTO else name]["kind"]
    schedule_kind = options["schedule"] or ("cyclical" if kind == "vae" else "none")
    schedule = check_schedule({"kind": schedule_kind, "beta_max": options["beta_max"],
                               "cycles": options["cycles"], "ratio": options["ratio"]})
    if kind == "ae":
        # An AE has no KL term; record that rather than a schedule that does nothing.
        schedule = {"kind": "none", "beta_max": 0.0, "cycles": 1, "ratio": 1.0}

    seed = _int("seed", options["seed"], 0)
    # No size: 28 x 28 for generated mazes, the corpus's own for --data PATH (which a size given must match).
    height, width = (None, None) if options["size"] is None else _size(options["size"])
    init = None if options["init"] is None else _init_config(options["init"])
    if init is not None and options["size"] is None and options["data"] == "mazes":
        # Generated mazes for a run from --init: the size its model draws.
        height, width = init["height"], init["width"]
    data = check_data({
        "kind": options["data"], "count": options["count"], "holdout": options["holdout"],
        "seed": seed if options["data_seed"] is None else options["data_seed"],
        "height": height, "width": width, "fresh": options["fresh"], "path": options["mnist_dir"],
        "generator": options["generator"], "braid": options["braid"],
    })
    for key in ("temperature",):
        value = options[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UsageError(f"{key} must be a number, got {value!r}")
    groups = options["context_groups"]
    if groups is not None and (isinstance(groups, bool) or groups not in (1, 2)):
        raise UsageError(f"context_groups must be 1 or 2, got {groups!r}")
    cell_decoder = options["cell_decoder"]
    if cell_decoder is not None:
        from daedalus.trainer.raster_model import CELL_DECODERS

        if cell_decoder not in CELL_DECODERS:
            raise UsageError(f"cell_decoder must be one of {', '.join(CELL_DECODERS)}, got {cell_decoder!r}")
    for key in ("context_hidden", "context_mix"):
        if options[key] is not None:
            _int(key, options[key], 1)
    walk_order = options["walk_order"]
    from daedalus.maze.symmetry import TRANSFORMS
    from daedalus.trainer.walk_order import AUTO

    if walk_order != AUTO and walk_order not in TRANSFORMS:
        raise UsageError(f"walk_order must be {AUTO} or one of {', '.join(TRANSFORMS)}, got {walk_order!r}")
    given = {"latent_dim": options["latent"], "hidden": hidden,
             "temperature": None if options["temperature"] is None else float(options["temperature"]),
             "context_groups": groups, "cell_decoder": cell_decoder, "context_hidden": options["context_hidden"],
             "window_hidden": _window(options["window"]), "mix": options["context_mix"]}

    def options_of(candidate: str) -> dict:
        # "auto" asks a decoder that has an order to choose it, and is nothing to one that has none (carve, the
        # threshold decoders); a named order applies to raster decoders only.
        if walk_order != AUTO or "walk_order" in MODELS[candidate]:
            return {**given, "walk_order": walk_order}
        return given

    if init is not None:
        # Fine-tuning: the model is the trained run's own (its class, shapes, walk order and closed cells), so its
        # weights fit it; the options that would shape another model are refused rather than ignored.
        model, alternatives = init_model(options["init"], init, data, name, given, walk_order), []
    elif name == AUTO:
        # Every candidate that takes the options given; the trainer keeps those that can draw the data and, of
        # several, the one with the best held-out likelihood (daedalus.trainer.selection).
        candidates, errors = [], []
        for candidate in CANDIDATES:
            try:
                candidates.append(model_config(candidate, data["height"], data["width"], **options_of(candidate)))
            except UsageError as error:
                errors.append(str(error))
        if not candidates:
            raise UsageError(f"model auto: no candidate takes these options ({'; '.join(errors)})")
        model, alternatives = candidates[0], candidates[1:]
    else:
        model, alternatives = model_config(name, data["height"], data["width"], **options_of(name)), []

    from daedalus.trainer.data import is_maze_data
    from daedalus.trainer.models import model_class

    if model_class(model).OWN_LIKELIHOOD:
        # Walks exist only for mazes, and walk decoders bring their own likelihood.
        if not is_maze_data(data):
            raise UsageError(f"model {name!r} draws maze walks: data must be mazes, got {data['kind']!r}")
        if options["loss"] not in (None, "model"):
            raise UsageError(f"model {name!r} trains with its own loss; drop loss={options['loss']!r}")
        loss = "model"
    else:
        loss = options["loss"] or ("sse" if name.startswith("seed") else "bce")
        if loss not in ("sse", "bce"):
            raise UsageError(f"unknown reconstruction loss {loss!r}, expected sse or bce")
    free_bits = options["free_bits"]
    if isinstance(free_bits, bool) or not isinstance(free_bits, (int, float)) or not 0 <= free_bits < math.inf:
        raise UsageError(f"free_bits must be a number >= 0 (nats per latent dimension), got {free_bits!r}")
    if options["prior"] is None:
        # A run from another run's weights keeps that run's latent space, in which its own levels' codes lie
        # wherever that run put the style closest to them: its prior is fitted to them (EXPERIMENTS.md "Few examples
        # from a many-style run").
        options["prior"] = "aggregate" if options["init"] is not None else "normal"
    if options["prior"] not in PRIORS:
        raise UsageError(f"prior must be one of {', '.join(PRIORS)}, got {options['prior']!r}")
    if options["keep"] not in KEEPS:
        raise UsageError(f"keep must be one of {', '.join(KEEPS)}, got {options['keep']!r}")
    if options["augment"] not in AUGMENTS:
        raise UsageError(f"augment must be one of {', '.join(AUGMENTS)}, got {options['augment']!r}")
    tune_weight = options["tune_weight"]
    if isinstance(tune_weight, bool) or not isinstance(tune_weight, (int, float)) or not 0 <= tune_weight < math.inf:
        raise UsageError(f"tune_weight must be a number >= 0 (the policy-gradient term's weight), got {tune_weight!r}")
    lr = options["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise UsageError(f"lr must be a positive finite number, got {lr!r}")
    if options["lr_schedule"] not in LR_SCHEDULES:
        raise UsageError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {options['lr_schedule']!r}")
    device = options["device"]
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise UsageError(f"device must be auto, cpu or cuda[:N], got {device!r}")
    threshold = float(options["threshold"])
    if not 0 < threshold < 1:
        raise UsageError(f"threshold must lie in (0, 1), got {threshold}")
    train = {
        "epochs": _int("epochs", options["epochs"], 1),
        "batch_size": _int("batch_size", options["batch_size"], 1),
        "lr": float(lr),
        "lr_schedule": options["lr_schedule"],
        "loss": loss,
        "seed": seed,
        "device": device,
        "eval_samples": _int("eval_samples", options["eval_samples"], 0),
        "figures": bool(options["figures"]),
        "free_bits": float(free_bits),
        "keep": options["keep"],
        "augment": options["augment"],
        "tune_rounds": _int("tune_rounds", options["tune_rounds"], 0),
        "tune_steps": _int("tune_steps", options["tune_steps"], 1),
        "tune_weight": float(tune_weight),
        **({"init": str(options["init"])} if options["init"] is not None else {}),
    }
    return {"model": model, **({"alternatives": alternatives} if alternatives else {}), "schedule": schedule,
            "data": data, "train": train, "threshold": threshold, "prior": options["prior"],
            "daedalus_version": __version__}
