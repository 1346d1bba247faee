"""Maze VAEs for the quality study, self-contained (torch + daedalus.maze), ready to be registered in the trainer.

Two decoders share one encoder:

* ``LinkVAE`` ("links"): the seed's factorised decoder restricted to the positions the lattice leaves free: one
  Bernoulli per link. Cells are open, odd-odd positions wall, by construction.
* ``TreeVAE`` ("tree"): the decoder predicts, for every cell but the start, which of its (up to four) neighbours is
  its parent on the way to the start: one categorical per cell. A perfect maze is exactly such a parent field
  without cycles, so the output has one open link per cell by construction, and most of the global constraint of
  a spanning tree is in the output's structure instead of being left to chance. The probability that a link is
  open is ``P(a -> b) + P(b -> a)``; that is what ``decode`` returns, as a grid.

Both ``decode(z)`` map float32 ``[B, latent_dim]`` to the open-floor probability float32 ``[B, H, W]`` and export to
ONNX opset 15 with only MatMul/Gemm, Relu, Softmax, Add/Mul, Gather and Concat.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from daedalus.maze.carve import DIRECTIONS, parent_directions
from daedalus.maze.grid import cell_mask, cell_shape, grid_to_links, link_cells, link_positions, num_links


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class _Base(nn.Module):
    kind = "vae"

    def __init__(self, latent_dim: int = 32, hidden: int = 512, height: int = 28, width: int = 28,
                 decoder_hidden: int | None = None, decoder_layers: int = 2):
        super().__init__()
        self.latent_dim, self.hidden, self.height, self.width = latent_dim, hidden, height, width
        self.decoder_hidden = decoder_hidden or hidden
        self.decoder_layers = decoder_layers
        shape = (height, width)
        self.n_links = num_links(shape)
        self.encoder = _mlp([self.n_links, hidden, hidden, 2 * latent_dim])
        # Gather index that assembles a grid from [link values, 1 (cell), 0 (wall)].
        positions = link_positions(shape)
        index = np.full(height * width, self.n_links + 1, dtype=np.int64)
        index[cell_mask(shape).ravel()] = self.n_links
        index[positions[:, 0] * width + positions[:, 1]] = np.arange(self.n_links)
        self.register_buffer("grid_index", torch.from_numpy(index), persistent=False)
        link_index = (positions[:, 0] * width + positions[:, 1]).astype(np.int64)
        self.register_buffer("link_index", torch.from_numpy(link_index), persistent=False)

    def config(self) -> dict:
        return {"name": self.name, "kind": self.kind, "latent_dim": self.latent_dim, "hidden": self.hidden,
                "height": self.height, "width": self.width, "decoder_hidden": self.decoder_hidden,
                "decoder_layers": self.decoder_layers}

    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """grids float ``[B, H, W]`` → (mu, logvar), each ``[B, latent_dim]``."""
        stats = self.encoder(grids.reshape(grids.shape[0], -1)[:, self.link_index])
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def _to_grid(self, link_p: torch.Tensor) -> torch.Tensor:
        ones = torch.ones_like(link_p[:, :1])
        full = torch.cat([link_p, ones, ones * 0.0], dim=1)
        return full[:, self.grid_index].reshape(-1, self.height, self.width)

    def forward(self, grids: torch.Tensor):
        mu, logvar = self.encode(grids)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode_logits(z), mu, logvar


class LinkVAE(_Base):
    name = "links"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.decoder = _mlp([self.latent_dim] + [self.decoder_hidden] * self.decoder_layers + [self.n_links])

    def decode_logits(self, z):
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, latent_dim]`` → open-floor probability ``[B, H, W]``."""
        return self._to_grid(torch.sigmoid(self.decoder(z)))

    def target(self, grids: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(grid_to_links(grids).astype(np.float32))

    def reconstruction(self, logits, target) -> torch.Tensor:
        """Summed Bernoulli NLL per sample."""
        return nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)


class TreeVAE(_Base):
    name = "tree"

    def __init__(self, **kw):
        super().__init__(**kw)
        rows, cols = cell_shape((self.height, self.width))
        self.rows, self.cols = rows, cols
        self.decoder = _mlp([self.latent_dim] + [self.decoder_hidden] * self.decoder_layers + [rows * cols * 4])
        # Directions off the grid, and every direction of the start cell, are impossible.
        valid = np.ones((rows, cols, 4), dtype=bool)
        valid[0, :, 0] = valid[:, -1, 1] = valid[-1, :, 2] = valid[:, 0, 3] = False
        valid[0, 0, :] = False
        self.register_buffer("logit_mask", torch.from_numpy(np.where(valid, 0.0, -30.0).astype(np.float32)),
                             persistent=False)
        self.register_buffer("root_keep", torch.from_numpy(valid.any(-1, keepdims=True).astype(np.float32)),
                             persistent=False)
        # Link l joins cells a < b: it is open when a's parent is b or b's parent is a.
        a, b = link_cells((self.height, self.width))
        horizontal = b == a + 1
        from_a = a * 4 + np.where(horizontal, 1, 2)  # a -> b is "right" or "down"
        from_b = b * 4 + np.where(horizontal, 3, 0)  # b -> a is "left" or "up"
        self.register_buffer("from_a", torch.from_numpy(from_a.astype(np.int64)), persistent=False)
        self.register_buffer("from_b", torch.from_numpy(from_b.astype(np.int64)), persistent=False)

    def decode_logits(self, z):
        return self.decoder(z).reshape(-1, self.rows, self.cols, 4) + self.logit_mask

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, latent_dim]`` → open-floor probability ``[B, H, W]``."""
        probs = torch.softmax(self.decode_logits(z), dim=-1) * self.root_keep
        flat = probs.reshape(probs.shape[0], -1)
        link_p = torch.clamp(flat[:, self.from_a] + flat[:, self.from_b], max=1.0)
        return self._to_grid(link_p)

    def target(self, grids: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(parent_directions(grids).astype(np.int64))

    def reconstruction(self, logits, target) -> torch.Tensor:
        """Summed categorical NLL per sample (the start cell, with no parent, is ignored)."""
        nll = nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), target, reduction="none", ignore_index=-1)
        return nll.sum((1, 2))


MODELS = {"links": LinkVAE, "tree": TreeVAE}


def build(name: str, **kw) -> _Base:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}, expected one of {sorted(MODELS)}")
    return MODELS[name](**kw)


def check_directions() -> None:
    """The parent directions used here are those of daedalus.maze.carve (up, right, down, left)."""
    assert DIRECTIONS == ((-1, 0), (0, 1), (1, 0), (0, -1))
