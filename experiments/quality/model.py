"""Maze VAEs for the quality study, self-contained (torch + daedalus.maze), ready to be registered in the trainer.

Three decoders share one encoder design (MLP ``features → hidden → hidden → 2 × latent``):

* ``LinkVAE`` ("links"): the seed's factorised decoder restricted to the positions the lattice leaves free: one
  Bernoulli per link. Cells are open, odd-odd positions wall, by construction.
* ``TreeVAE`` ("tree"): the decoder predicts, for every cell but the start, which of its (up to four) neighbours is
  its parent on the way to the start: one categorical per cell. A perfect maze is exactly such a parent field
  without cycles, so the output has one open link per cell by construction, and most of the global constraint of
  a spanning tree is in the output's structure instead of being left to chance. The probability that a link is
  open is ``P(a -> b) + P(b -> a)``; that is what ``decode`` returns, as a grid.
* ``PotentialTreeVAE`` ("ptree"): ``tree`` plus a potential per cell; a cell may only choose a parent with a lower
  potential, so the decoded parent field never has a cycle (zero loops, always).

All ``decode(z)`` map float32 ``[B, latent_dim]`` to the open-floor probability float32 ``[B, H, W]`` and export to
ONNX opset 15 with only Gemm, Relu, Softmax, Add/Mul, Less/Where, Gather and Concat.

What a trainer needs besides ``encode``/``reparameterize``/``decode``: ``features(grids)`` (numpy mazes → encoder
input; the tree models also read the one-hot parent directions), ``target(grids)`` and
``reconstruction(logits, target)`` (summed negative log-likelihood per sample, the loss's first part; the KL is the
usual Gaussian one), ``forward(features) -> (logits, mu, logvar)`` and ``config()`` (constructor arguments).
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
        self.encoder = _mlp([self.n_links + self.extra_features(shape), hidden, hidden, 2 * latent_dim])
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

    def extra_features(self, shape) -> int:
        return 0

    def features(self, grids: np.ndarray) -> torch.Tensor:
        """What the encoder reads, from ``(N, H, W)`` mazes: the link values (float ``[N, L]``)."""
        return torch.from_numpy(grid_to_links(grids).astype(np.float32))

    def encode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``features(grids)`` → (mu, logvar), each ``[B, latent_dim]``."""
        stats = self.encoder(features)
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def _to_grid(self, link_p: torch.Tensor) -> torch.Tensor:
        ones = torch.ones_like(link_p[:, :1])
        full = torch.cat([link_p, ones, ones * 0.0], dim=1)
        return full[:, self.grid_index].reshape(-1, self.height, self.width)

    def forward(self, features: torch.Tensor):
        mu, logvar = self.encode(features)
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
    """``temperature`` divides the logits in ``decode`` only (training sees the plain softmax): below 1 it sharpens
    each cell's choice towards its most likely parent, so thresholding opens one link per cell."""

    name = "tree"

    def __init__(self, temperature: float = 1.0, encoder_parents: bool = True, **kw):
        self.encoder_parents = bool(encoder_parents)
        super().__init__(**kw)
        self.temperature = float(temperature)
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

    def config(self) -> dict:
        return {**super().config(), "temperature": self.temperature, "encoder_parents": self.encoder_parents}

    def extra_features(self, shape) -> int:
        rows, cols = cell_shape(shape)
        return rows * cols * 4 if self.encoder_parents else 0

    def features(self, grids: np.ndarray) -> torch.Tensor:
        """Links plus the one-hot parent direction of every cell: the encoder sees the tree it must describe."""
        if not self.encoder_parents:
            return super().features(grids)
        parents = parent_directions(grids).reshape(len(grids), -1)
        onehot = np.zeros(parents.shape + (4,), dtype=np.float32)
        rows, cols = np.nonzero(parents >= 0)
        onehot[rows, cols, parents[rows, cols]] = 1.0
        links = grid_to_links(grids).astype(np.float32)
        return torch.from_numpy(np.concatenate([links, onehot.reshape(len(grids), -1)], axis=1))

    def decode_logits(self, z):
        return self.decoder(z).reshape(-1, self.rows, self.cols, 4) + self.logit_mask

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, latent_dim]`` → open-floor probability ``[B, H, W]``."""
        logits = self.decode_logits(z)
        if self.temperature != 1.0:
            logits = logits * (1.0 / self.temperature)
        probs = torch.softmax(logits, dim=-1) * self.root_keep
        flat = probs.reshape(probs.shape[0], -1)
        link_p = torch.clamp(flat[:, self.from_a] + flat[:, self.from_b], max=1.0)
        return self._to_grid(link_p)

    def target(self, grids: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(parent_directions(grids).astype(np.int64))

    def reconstruction(self, logits, target) -> torch.Tensor:
        """Summed categorical NLL per sample (the start cell, with no parent, is ignored)."""
        nll = nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), target, reduction="none", ignore_index=-1)
        return nll.sum((1, 2))


def tree_depths(parents: np.ndarray) -> np.ndarray:
    """Steps (in cells) from each cell to the root along ``parents`` (``(N, R, C)`` directions); 0 at the root
    and at cells without a parent. Pointer jumping: log2(cells) vectorised rounds."""
    n, rows, cols = parents.shape
    cells = rows * cols
    flat = parents.reshape(n, cells).astype(np.int64)
    index = np.arange(cells)
    step = np.array([dr * cols + dc for dr, dc in DIRECTIONS])
    ancestor = np.where(flat >= 0, index[None, :] + step[np.maximum(flat, 0)], index[None, :])
    depth = (flat >= 0).astype(np.int64)
    rows_index = np.arange(n)[:, None]
    for _ in range(int(np.ceil(np.log2(cells))) + 1):
        depth = depth + depth[rows_index, ancestor]
        ancestor = ancestor[rows_index, ancestor]
    return depth.reshape(n, rows, cols)


class PotentialTreeVAE(TreeVAE):
    """A tree decoder that cannot draw a loop: it also outputs a potential per cell, trained to regress the cell's
    depth in the tree, and at decode time a cell may only choose a parent with a lower potential. The parent field
    then has no cycle by construction (the potential falls strictly along every pointer), so the thresholded output
    is a forest; a cell with no lower neighbour starts a new piece, which a repair joins with one opened link."""

    name = "ptree"
    DEPTH_SCALE = 100.0

    def __init__(self, potential_weight: float = 10.0, **kw):
        super().__init__(**kw)
        self.potential_weight = float(potential_weight)
        rows, cols = self.rows, self.cols
        self.decoder = _mlp([self.latent_dim] + [self.decoder_hidden] * self.decoder_layers + [rows * cols * 5])
        cells = rows * cols
        neighbour = np.full((cells, 4), cells, dtype=np.int64)  # off the grid: the padding entry
        for c in range(cells):
            r, q = divmod(c, cols)
            for k, (dr, dc) in enumerate(DIRECTIONS):
                if 0 <= r + dr < rows and 0 <= q + dc < cols:
                    neighbour[c, k] = (r + dr) * cols + q + dc
        self.register_buffer("neighbour", torch.from_numpy(neighbour.reshape(-1)), persistent=False)
        root = np.zeros(cells, dtype=np.float32)
        root[0] = -1000.0  # the start is the lowest point: every path downhill may end there
        self.register_buffer("root_potential", torch.from_numpy(root), persistent=False)

    def config(self) -> dict:
        return {**super().config(), "potential_weight": self.potential_weight}

    def decode_logits(self, z):
        out = self.decoder(z).reshape(-1, self.rows, self.cols, 5)
        return torch.cat([out[..., :4] + self.logit_mask, out[..., 4:]], dim=-1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z ``[B, latent_dim]`` → open-floor probability ``[B, H, W]``."""
        out = self.decode_logits(z)
        logits = out[..., :4]
        potential = out[..., 4].reshape(out.shape[0], -1) + self.root_potential
        padded = torch.cat([potential, torch.full_like(potential[:, :1], 1e4)], dim=1)
        lower = padded[:, self.neighbour].reshape(logits.shape) < potential.reshape(logits.shape[:-1] + (1,))
        logits = torch.where(lower, logits, torch.full_like(logits, -30.0))
        if self.temperature != 1.0:
            logits = logits * (1.0 / self.temperature)
        has_parent = lower.any(dim=-1, keepdim=True).to(logits.dtype)
        probs = torch.softmax(logits, dim=-1) * self.root_keep * has_parent
        flat = probs.reshape(probs.shape[0], -1)
        link_p = torch.clamp(flat[:, self.from_a] + flat[:, self.from_b], max=1.0)
        return self._to_grid(link_p)

    def target(self, grids: np.ndarray) -> torch.Tensor:
        parents = parent_directions(grids)
        depth = tree_depths(parents) / self.DEPTH_SCALE
        return torch.from_numpy(np.stack([parents.astype(np.float32), depth.astype(np.float32)], axis=-1))

    def reconstruction(self, logits, target) -> torch.Tensor:
        """Categorical NLL of the parents plus ``potential_weight`` × squared error of the potential."""
        parents = target[..., 0].long()
        nll = nn.functional.cross_entropy(logits[..., :4].permute(0, 3, 1, 2), parents, reduction="none",
                                          ignore_index=-1).sum((1, 2))
        error = (logits[..., 4] - target[..., 1]).pow(2).sum((1, 2))
        return nll + self.potential_weight * error


MODELS = {"links": LinkVAE, "tree": TreeVAE, "ptree": PotentialTreeVAE}


def build(name: str, **kw) -> _Base:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}, expected one of {sorted(MODELS)}")
    return MODELS[name](**kw)

