"""Run folders: ``config.json`` (describes the model fully), ``model.safetensors`` (weights), ``state.pt``
(resumable state, loadable with ``torch.load(weights_only=True)``). Every write is atomic."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import torch

from daedalus.errors import DaedalusError
from daedalus.files import atomic_write
from daedalus.trainer.models import build_model

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "state.pt"


class CheckpointError(DaedalusError):
    """A run folder or checkpoint that is missing, corrupt or does not describe a model."""


def write_json(path: str | os.PathLike, data) -> None:
    """Atomically write ``data`` as indented JSON."""
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def read_config(run_dir: str | os.PathLike) -> dict:
    """The resolved configuration of a run. Raises CheckpointError naming the file when missing or corrupt."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder {str(run_dir)!r} does not exist")
    path = run_dir / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{str(path)!r} is missing: {str(run_dir)!r} is not a run folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{str(path)!r} is corrupt ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{str(path)!r} is corrupt: expected a JSON object")
    return config


def model_from_config(config: dict, source: str) -> torch.nn.Module:
    """Build the model a config describes; CheckpointError when it describes none."""
    spec = config.get("model")
    if not isinstance(spec, dict) or spec.get("kind") not in ("ae", "vae") or "latent_dim" not in spec:
        raise CheckpointError(f"{source} does not describe a decoder: config['model'] needs 'kind' ('ae' or 'vae'), "
                              f"'latent_dim', 'height' and 'width', got {spec!r}")
    try:
        return build_model(spec)
    except DaedalusError as error:
        raise CheckpointError(f"{source} does not describe a decoder: {error}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{source} does not describe a decoder: config['model'] = {spec!r} is invalid "
                              f"({type(error).__name__}: {error})") from None


def save_weights(run_dir: str | os.PathLike, model: torch.nn.Module, step: int) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(Path(run_dir) / WEIGHTS_FILE, save(tensors, metadata={"step": str(step)}))


def save_state(run_dir: str | os.PathLike, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(Path(run_dir) / STATE_FILE, buffer.getvalue())


def load_state(run_dir: str | os.PathLike) -> dict:
    """The resumable state of a run, loaded with ``weights_only=True``. Raises CheckpointError when corrupt."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{str(path)!r} is missing: nothing to resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        # First sentence only: torch goes on to suggest weights_only=False, which would run pickled code.
        first = str(error).splitlines()[0].split(". ")[0] if str(error) else ""
        raise CheckpointError(f"{str(path)!r} is corrupt ({type(error).__name__}: {first})") from None
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise CheckpointError(f"{str(path)!r} is corrupt: expected a dict with 'model' and 'step'")
    return state


def load_model(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """The trained model of a run folder, in eval mode, and the run's configuration.

    Args:
        run_dir: a folder written by ``daedalus train``.
        device: where to put the model.

    Returns:
        ``(model, config)``: any model of ``daedalus.trainer.models.MODELS``, with the one model interface
        (``sample_grids``, ``preview``, ``export_outputs``, ...; docs/training.md).

    Raises:
        CheckpointError: one line naming the file when the folder, config or weights are missing or corrupt.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    model = model_from_config(config, f"{str(run_dir / CONFIG_FILE)!r}")
    load_weights(model, run_dir)
    return model.to(device).eval(), config


def load_weights(model: torch.nn.Module, run_dir: str | os.PathLike) -> None:
    """The ``model.safetensors`` of a run folder into ``model`` (built from that run's ``config.json``); a
    CheckpointError naming the file when it is missing, corrupt or of another model."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(run_dir) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{str(path)!r} is missing: the run has no weights yet")
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{str(path)!r} is corrupt ({error})") from None
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        # torch's first line only says "Error(s) in loading state_dict"; the next one names the tensor.
        detail = [line.strip() for line in str(error).splitlines() if line.strip()][1:2] or [str(error)]
        raise CheckpointError(f"{str(path)!r} does not match the model in {CONFIG_FILE}: {detail[0]}") from None
