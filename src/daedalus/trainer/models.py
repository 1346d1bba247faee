"""Autoencoders for mazes and digits. Nothing happens on import.

One class, :class:`MazeAutoencoder`, covers the threshold decoders among the named configurations in
:data:`MODELS`:

- ``seed-ae`` / ``seed-vae``: the seed's MLP, 784 → 512 → 2 → 512 → 784 with a sigmoid, over the whole grid.
- ``link-vae`` (the design's clip + repair pipeline): an MLP that reads and writes only the link positions the
  lattice leaves free (364 for 28 × 28). Cells are always open and fixed walls always wall, so the model spends
  nothing on them; ``decode`` still returns the full ``[B, H, W]`` grid, with cells at 1 and fixed walls at 0, by a
  constant gather (``Gather`` in ONNX: cheap, and readable by every engine).

Walk decoders live in their own modules: ``carve`` (:mod:`daedalus.trainer.carve_model`) and ``raster``
(:mod:`daedalus.trainer.raster_model`, the default). ``build_model`` picks the class from the config's ``output``.

Every model class has the same interface, which the training loop, the figures and the exporter use without asking
what kind a model is: ``encode(grids) -> (mu, logvar)``, ``forward(grids, generator)`` (logits, target, mu,
logvar, z), ``reconstruction(logits, target, loss)`` (per-sample NLL), ``sample_grids(code, rng, threshold)``
(levels before repair), ``preview(code)`` (an image of what the decoder draws), ``input_dim`` (the width of the
exported ``z``), ``export_outputs(z)`` (the graph's outputs in ``daedalus.contract.OUTPUTS`` order) and
``export_metadata()`` (the kind's own metadata keys).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from daedalus.errors import UsageError
from daedalus.trainer.losses import reconstruction, reparameterize

KINDS = ("ae", "vae")
OUTPUTS = ("grid", "links")

# Named configurations: every constructor argument (height and width come from the data).
MODELS: dict[str, dict] = {
    "seed-ae": {"kind": "ae", "latent_dim": 2, "hidden": [512], "output": "grid"},
    "seed-vae": {"kind": "vae", "latent_dim": 2, "hidden": [512], "output": "grid"},
    "link-vae": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "links"},
    # Walk decoders: the output selects the class (ARCHITECTURES).
    "carve": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "carve", "temperature": 1.0,
              "encoder_parents": True},
    "raster": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "raster", "loops": True,
               "mix": 8, "context_hidden": 128, "context_groups": 2, "cell_decoder": "dense", "window_hidden": [64],
               "walk_order": "identity"},
}
# Outputs built by another class than MazeAutoencoder (module, class), imported when first built.
ARCHITECTURES = {"carve": ("daedalus.trainer.carve_model", "CarveVAE"),
                 "raster": ("daedalus.trainer.raster_model", "RasterVAE")}
# Keys of a model configuration that say how it was chosen and are no constructor argument.
INFORMATIONAL = ("name", "walk_order_nats")
# The kind the shipped decoder uses.
DEFAULT_MODEL = "raster"


def check_sizes(latent_dim, hidden) -> list[int]:
    """The sizes every model takes, checked: ``latent_dim`` a positive integer, ``hidden`` a non-empty sequence of
    positive widths (returned as a list of ints). Raises UsageError naming the bad value."""
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim <= 0:
        raise UsageError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    hidden = [int(h) for h in hidden]
    if not hidden or any(h <= 0 for h in hidden):
        raise UsageError(f"hidden must be a non-empty list of positive widths, got {hidden!r}")
    return hidden


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def refuse_resize(model: nn.Module):
    """``resized`` of a decoder with one output per position of its own size: a UsageError naming the size."""
    raise UsageError(f"this decoder has one output per position of its {model.height}x{model.width} levels; only a "
                     f"raster decoder with a shared cell decoder (train --cell-decoder shared) draws other sizes")


def _lattice_layout(height: int, width: int) -> tuple[torch.Tensor, ...]:
    """How links become a grid, per grid position (row-major): the link index to gather (0 where there is no
    link), a mask that is 1 at links, and the constant value elsewhere (1 at cells, 0 at fixed walls)."""
    from daedalus.maze.grid import cell_mask, link_positions

    positions = link_positions((height, width))
    flat = torch.tensor(positions[:, 0] * width + positions[:, 1], dtype=torch.long)
    index = torch.zeros(height * width, dtype=torch.long)
    index[flat] = torch.arange(len(positions))
    mask = torch.zeros(height * width)
    mask[flat] = 1.0
    base = torch.tensor(cell_mask((height, width)).reshape(-1), dtype=torch.float32)
    return index, mask, base, flat


class MazeAutoencoder(nn.Module):
    """An MLP autoencoder (``kind="ae"``) or VAE (``kind="vae"``) over grids or over links.

    Args:
        kind: ``"ae"`` or ``"vae"`` (the encoder then emits a mean and a log-variance).
        latent_dim: size of the latent code, ≥ 1.
        hidden: widths of the hidden layers from the input side; the decoder mirrors them.
        height, width: the grid size.
        output: ``"grid"`` (every position, the seed's way) or ``"links"`` (only the link positions).
    """

    def __init__(
        self,
        kind: str = "vae",
        latent_dim: int = 32,
        hidden: list[int] | tuple[int, ...] = (512, 512),
        height: int = 28,
        width: int = 28,
        output: str = "links",
    ):
        super().__init__()
        if kind not in KINDS:
            raise UsageError(f"model kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if output not in OUTPUTS:
            raise UsageError(f"model output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        hidden = check_sizes(latent_dim, hidden)
        self.kind, self.latent_dim, self.hidden = kind, latent_dim, hidden
        self.height, self.width, self.output = int(height), int(width), output
        if output == "links":
            index, mask, base, flat = _lattice_layout(self.height, self.width)
            self.features = int(mask.sum())
            # Derived from the lattice, so not part of the saved weights.
            self.register_buffer("lattice_index", index, persistent=False)
            self.register_buffer("lattice_mask", mask, persistent=False)
            self.register_buffer("lattice_base", base, persistent=False)
            self.register_buffer("link_flat", flat, persistent=False)
        else:
            self.features = self.height * self.width
        self.encoder = _mlp([self.features, *hidden])
        self.fc_mu = nn.Linear(hidden[-1], latent_dim)
        self.fc_logvar = nn.Linear(hidden[-1], latent_dim) if kind == "vae" else None
        self.decoder = nn.Sequential(*_mlp([latent_dim, *hidden[::-1]]), nn.Linear(hidden[0], self.features))

    def config(self) -> dict:
        """Every constructor argument, JSON-ready."""
        return {
            "kind": self.kind, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
            "height": self.height, "width": self.width, "output": self.output,
        }

    def target(self, grids: torch.Tensor) -> torch.Tensor:
        """What the model reads and reconstructs: ``[B, H, W]`` → ``[B, K]`` (the grid or its links)."""
        flat = grids.reshape(grids.shape[0], -1).float()
        return flat if self.output == "grid" else flat.index_select(1, self.link_flat)

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[B, H, W]`` → ``(μ, logvar)`` (``logvar`` is ``None`` for an AE, whose code is ``μ``)."""
        h = self.encoder(self.target(grids))
        return self.fc_mu(h), (self.fc_logvar(h) if self.fc_logvar is not None else None)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, latent_dim]`` → ``[B, K]`` logits of the free positions."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, latent_dim]`` → open-floor probabilities, float32 ``[B, H, W]`` in ``[0, 1]``."""
        p = torch.sigmoid(self.decode_logits(z))
        if self.output == "links":
            # Gather, Mul, Add in ONNX: no shape arithmetic, so every engine and opset reads it.
            p = p.index_select(1, self.lattice_index) * self.lattice_mask + self.lattice_base
        return p.reshape(-1, self.height, self.width)

    DECODING = "threshold"
    # Whether the model brings its own likelihood (a walk) instead of a per-position loss; it then needs mazes.
    OWN_LIKELIHOOD = False
    TUNABLE = False  # no exact likelihood of its own levels: critic tuning skips it

    def undrawable(self, grids: np.ndarray) -> tuple[int, str] | None:
        """The first of the levels this decoder cannot draw and why, or None: a threshold decoder scores any grid
        position by position."""
        return None

    @staticmethod
    def options_for(config: dict, *grids: np.ndarray) -> dict:
        """Configuration the training levels call for (none: a threshold decoder is the same for any grids)."""
        return {}

    @property
    def input_dim(self) -> int:
        """Width of the exported ``z``: the latent code."""
        return self.latent_dim

    def reconstruction(self, logits: torch.Tensor, target: torch.Tensor, loss: str = "bce") -> torch.Tensor:
        """Per-sample reconstruction loss (``sse`` or ``bce``, summed over positions)."""
        return reconstruction(logits, target, loss)

    def export_outputs(self, z: torch.Tensor) -> tuple[torch.Tensor]:
        """The exported graph, in ``contract.OUTPUTS["threshold"]`` order: ``(p_open,)``."""
        return (self.decode(z),)

    def resized(self, height: int, width: int) -> "MazeAutoencoder":
        """Refused: this decoder's last layer has one output per position of its own size."""
        refuse_resize(self)

    def export_metadata(self) -> dict[str, str]:
        return {"decoding": self.DECODING}

    def preview(self, code: torch.Tensor) -> torch.Tensor:
        """What the decoder draws for a code, as an image: the open-floor probabilities."""
        return self.decode(code)

    @torch.no_grad()
    def sample_grids(self, code: np.ndarray, rng: np.random.Generator, threshold: float = 0.5) -> np.ndarray:
        """uint8 ``[N, H, W]`` levels before repair: ``p_open >= threshold`` for codes ``[N, latent_dim]``."""
        device = next(self.parameters()).device
        z = torch.from_numpy(np.asarray(code, dtype=np.float32)).to(device)
        return np.concatenate([(self.decode(chunk) >= threshold).cpu().numpy().astype(np.uint8)
                               for chunk in torch.split(z, 1024)]) if len(z) else \
            np.zeros((0, self.height, self.width), dtype=np.uint8)

    def forward(self, grids: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Encode, sample (VAE, training mode) and decode. Returns ``logits`` ``[B, K]``, ``target`` ``[B, K]``,
        ``mu`` and ``logvar`` (``None`` for an AE)."""
        mu, logvar = self.encode(grids)
        z = reparameterize(mu, logvar, generator) if (logvar is not None and self.training) else mu
        return {"logits": self.decode_logits(z), "target": self.target(grids), "mu": mu, "logvar": logvar, "z": z}


def model_config(name: str, height: int, width: int, **overrides) -> dict:
    """The full configuration of the named model for a grid size, with overrides (``None`` values ignored).

    Raises:
        UsageError: for an unknown name.
    """
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}, expected one of {', '.join(MODELS)}")
    config = {"name": name, **MODELS[name], "height": int(height), "width": int(width)}
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in given:
        if key not in config:
            raise UsageError(f"option {key} does not apply to model {name!r} (it takes "
                             f"{', '.join(k for k in MODELS[name] if k not in ('kind', 'output'))})")
    config.update(given)
    config["hidden"] = list(config["hidden"])
    return config


def model_class(config: dict) -> type[nn.Module]:
    """The class a model configuration describes: chosen by its ``output`` (``MazeAutoencoder`` by default)."""
    import importlib

    output = config.get("output", "grid")
    if output in ARCHITECTURES:
        module, name = ARCHITECTURES[output]
        return getattr(importlib.import_module(module), name)
    return MazeAutoencoder


def fit_to_data(config: dict, *grids: np.ndarray) -> dict:
    """The model configuration with what its class derives from the training levels, then the held-out levels
    (``options_for``: a raster walk learns closed cells only from levels that have wall cells, and chooses its
    order for ``walk_order`` ``"auto"``)."""
    return {**config, **model_class(config).options_for(config, *grids)}


def build_model(config: dict) -> nn.Module:
    """A fresh model from a configuration dict as stored in ``config.json`` (``"name"`` is informational; the
    ``output`` picks the class)."""
    args = {k: v for k, v in config.items() if k not in INFORMATIONAL}
    cls = model_class(config)
    try:
        return cls(**args)
    except TypeError as error:
        raise UsageError(f"model configuration {config!r} does not describe a {cls.__name__}: {error}") from None
