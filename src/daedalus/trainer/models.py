"""Autoencoders for mazes and digits. Nothing happens on import.

One class, :class:`MazeAutoencoder`, covers every named configuration in :data:`MODELS`:

- ``seed-ae`` / ``seed-vae``: the seed's MLP, 784 → 512 → 2 → 512 → 784 with a sigmoid, over the whole grid.
- ``link-vae`` (the default for mazes) and ``link-ae``: an MLP that reads and writes only the link positions the
  lattice leaves free (364 for 28 × 28). Cells are always open and fixed walls always wall, so the model spends
  nothing on them; ``decode`` still returns the full ``[B, H, W]`` grid, with cells at 1 and fixed walls at 0, by a
  constant gather (``Gather`` in ONNX: cheap, and readable by every engine).

``tree`` and ``ptree`` (parent-field decoders, their own loss) live in :mod:`daedalus.trainer.tree_models`;
``build_model`` picks the class from the config's ``output``.

``encode``, ``reparameterize`` and ``decode`` are separate methods (pytorch/examples ``vae``); ``decode`` is what the
exporter writes to ONNX.
"""

from __future__ import annotations

import torch
from torch import nn

from daedalus.errors import UsageError
from daedalus.trainer.losses import reparameterize

KINDS = ("ae", "vae")
OUTPUTS = ("grid", "links")

# Named configurations: every constructor argument (height and width come from the data).
MODELS: dict[str, dict] = {
    "seed-ae": {"kind": "ae", "latent_dim": 2, "hidden": [512], "output": "grid"},
    "seed-vae": {"kind": "vae", "latent_dim": 2, "hidden": [512], "output": "grid"},
    "link-ae": {"kind": "ae", "latent_dim": 32, "hidden": [512, 512], "output": "links"},
    "link-vae": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "links"},
    # Tree decoders (daedalus.trainer.tree_models): the output selects the class.
    "tree": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "tree", "temperature": 1.0,
             "encoder_parents": True},
    "ptree": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "ptree", "temperature": 1.0,
              "encoder_parents": True, "potential_weight": 10.0},
    "carve": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "carve", "temperature": 1.0,
              "encoder_parents": True},
    "raster": {"kind": "vae", "latent_dim": 32, "hidden": [512, 512], "output": "raster", "loops": True},
}
# Outputs built by another class than MazeAutoencoder (module, class), imported when first built.
ARCHITECTURES = {"tree": ("daedalus.trainer.tree_models", "TreeVAE"),
                 "ptree": ("daedalus.trainer.tree_models", "PotentialTreeVAE"),
                 "carve": ("daedalus.trainer.tree_models", "CarveVAE"),
                 "raster": ("daedalus.trainer.raster_model", "RasterVAE")}
DEFAULT_MODEL = "link-vae"


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


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
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim <= 0:
            raise UsageError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        hidden = [int(h) for h in hidden]
        if not hidden or any(h <= 0 for h in hidden):
            raise UsageError(f"hidden must be a non-empty list of positive widths, got {hidden!r}")
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


def build_model(config: dict) -> nn.Module:
    """A fresh model from a configuration dict as stored in ``config.json`` (``"name"`` is informational; the
    ``output`` picks the class)."""
    args = {k: v for k, v in config.items() if k != "name"}
    cls = model_class(config)
    try:
        return cls(**args)
    except TypeError as error:
        raise UsageError(f"model configuration {config!r} does not describe a {cls.__name__}: {error}") from None
