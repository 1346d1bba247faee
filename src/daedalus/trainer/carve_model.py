"""The carve VAE: a decoder whose samples are depth-first walks over learned direction scores
(``daedalus.maze.scored_carve``). Nothing happens on import.

The network scores each cell's four directions; a level is drawn by walking from the start and choosing, among the
unvisited neighbours, with ``softmax(logits / T)``. Every sample is a perfect maze by construction, and with equal
logits the walk is the recursive backtracker. Training maximises the walk's own likelihood (teacher forcing): for
every carve step of the data maze (the branch order drawn at random, as the backtracker drew it), ``log softmax`` of
the chosen direction over the directions still unvisited. It refuses perfect mazes that are not depth-first trees.

The exported graph takes ``z = [code (latent_dim) | noise (R*C*4)]``, all ``N(0, I)``: the noise becomes Gumbel
draws (``-log(-log(Φ(n)))``, Erf/Log/Clip), so a level is a deterministic function of ``z``. It returns ``p_open``
(the per-link preference ``P(a→b) + P(b→a)`` of the unmasked softmax) and ``carve_scores`` ``[batch, R, C, 4]`` =
``logits / T + Gumbel``, which the runtime walks.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from daedalus.errors import UsageError
from daedalus.trainer.losses import reparameterize
from daedalus.trainer.models import _lattice_layout, _mlp, check_sizes, refuse_resize

# Logit of an off-grid direction: exp(-30) is 1e-13, nothing at float32.
IMPOSSIBLE = -30.0


def _masked_softmax(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis restricted to ``keep`` (1 = allowed): exactly zero outside, renormalised inside."""
    probs = torch.softmax(logits, dim=-1) * keep
    return probs / torch.clamp(probs.sum(dim=-1, keepdim=True), min=1e-30)


class CarveVAE(nn.Module):
    """A VAE whose decoder *is* a depth-first carve.

    Args:
        kind: must be ``"vae"``.
        latent_dim: size of the latent code, ≥ 1.
        hidden: hidden widths from the input side; the decoder mirrors them.
        height, width: the grid size.
        output: ``"carve"`` (recorded in the config; it selects this class).
        temperature: divides the logits of the walk, > 0.
        encoder_parents: the encoder reads the one-hot parent directions besides the links.
    """

    OUTPUT = "carve"
    DECODING = "carve"
    # Whether the model brings its own likelihood (a walk) instead of a per-position loss; it then needs mazes.
    OWN_LIKELIHOOD = True
    TUNABLE = False  # no exact likelihood of its own levels: critic tuning skips it
    # A score off the grid: never taken (the walk ignores those directions anyway).
    OFF_GRID = -1.0e4

    def __init__(self, kind: str = "vae", latent_dim: int = 32, hidden=(512, 512), height: int = 28,
                 width: int = 28, output: str | None = None, temperature: float = 1.0, encoder_parents: bool = True):
        super().__init__()
        from daedalus.maze.grid import cell_shape, link_cells

        if kind != "vae":
            raise UsageError(f"model output 'carve' is a VAE: kind must be 'vae', got {kind!r}")
        if output not in (None, self.OUTPUT):
            raise UsageError(f"CarveVAE has output 'carve', got {output!r}")
        hidden = check_sizes(latent_dim, hidden)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise UsageError(f"temperature must be a number > 0, got {temperature!r}")
        self.kind, self.latent_dim, self.hidden = kind, latent_dim, hidden
        self.height, self.width, self.output = int(height), int(width), self.OUTPUT
        self.temperature, self.encoder_parents = float(temperature), bool(encoder_parents)
        self.rows, self.cols = cell_shape((self.height, self.width))
        cells = self.rows * self.cols

        index, mask, base, flat = _lattice_layout(self.height, self.width)
        # Derived from the lattice, so not part of the saved weights.
        self.register_buffer("lattice_index", index, persistent=False)
        self.register_buffer("lattice_mask", mask, persistent=False)
        self.register_buffer("lattice_base", base, persistent=False)
        self.register_buffer("link_flat", flat, persistent=False)
        self.n_links = len(flat)
        self.in_features = self.n_links + (cells * 4 if self.encoder_parents else 0)
        self.encoder = _mlp([self.in_features, *hidden])
        self.fc_mu = nn.Linear(hidden[-1], latent_dim)
        self.fc_logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = nn.Sequential(*_mlp([latent_dim, *hidden[::-1]]), nn.Linear(hidden[0], cells * 4))
        # Only off-grid directions are impossible.
        valid = np.ones((self.rows, self.cols, 4), dtype=bool)
        valid[0, :, 0] = valid[:, -1, 1] = valid[-1, :, 2] = valid[:, 0, 3] = False
        self.register_buffer("logit_mask", torch.from_numpy(np.where(valid, 0.0, IMPOSSIBLE).astype(np.float32)),
                             persistent=False)
        self.register_buffer("valid", torch.from_numpy(valid.astype(np.float32)), persistent=False)
        self.register_buffer("score_mask", torch.from_numpy(np.where(valid, 0.0, self.OFF_GRID).astype(np.float32)),
                             persistent=False)
        # Link l joins cells a < b: it is open when a's parent is b or b's parent is a.
        a, b = link_cells((self.height, self.width))
        horizontal = b == a + 1
        self.register_buffer("from_a", torch.from_numpy((a * 4 + np.where(horizontal, 1, 2)).astype(np.int64)),
                             persistent=False)
        self.register_buffer("from_b", torch.from_numpy((b * 4 + np.where(horizontal, 3, 0)).astype(np.int64)),
                             persistent=False)
        self.noise_dim = cells * 4

    def config(self) -> dict:
        """Every constructor argument, JSON-ready."""
        return {"kind": self.kind, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "height": self.height, "width": self.width, "output": self.output,
                "temperature": self.temperature, "encoder_parents": self.encoder_parents}

    @property
    def input_dim(self) -> int:
        """Width of the exported input ``z``: the code, then one noise value per cell and direction."""
        return self.latent_dim + self.noise_dim

    @staticmethod
    def options_for(config: dict, *grids: np.ndarray) -> dict:
        """Configuration the training levels call for (none: the carve walk is the same for any depth-first
        trees)."""
        return {}

    @staticmethod
    def undrawable(grids: np.ndarray) -> tuple[int, str] | None:
        """The first of the ``(N, H, W)`` levels this decoder cannot draw and why, or None: the walk carves
        depth-first trees from the start, so a level with a loop, or a spanning tree with a link between two
        branches (Kruskal's, Prim's), is out of its reach."""
        from daedalus.maze.scored_carve import depth_first_trees

        bad = ~depth_first_trees(grids)
        if not bad.any():
            return None
        return int(np.argmax(bad)), ("is not a perfect maze carved depth-first from the start (a loop, or a link "
                                     "joining two branches); the carve model draws only those")

    # -- the VAE ---------------------------------------------------------------------------------------------------
    def parents(self, grids: torch.Tensor) -> np.ndarray:
        """Parent directions of ``[B, H, W]`` mazes (int8 ``[B, R, C]``, −1 at the start), computed in numpy."""
        from daedalus.maze.carve import parent_directions

        return parent_directions(grids.detach().cpu().numpy())

    def encoder_input(self, grids: torch.Tensor, parents: np.ndarray | None = None) -> torch.Tensor:
        """``[B, H, W]`` mazes → ``[B, in_features]``: the links, then the one-hot parent direction of each cell."""
        links = grids.reshape(grids.shape[0], -1).float().index_select(1, self.link_flat)
        if not self.encoder_parents:
            return links
        if parents is None:
            parents = self.parents(grids)
        p = torch.from_numpy(parents.astype(np.int64)).to(grids.device).reshape(len(grids), -1)
        onehot = F.one_hot(p.clamp(min=0), 4).float() * (p >= 0).unsqueeze(-1).float()
        return torch.cat([links, onehot.reshape(len(grids), -1)], dim=1)

    def encode(self, grids: torch.Tensor, parents: np.ndarray | None = None):
        """``[B, H, W]`` mazes → ``(μ, logvar)``, each ``[B, latent_dim]``."""
        h = self.encoder(self.encoder_input(grids, parents))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, latent_dim]`` → ``[B, R, C, 4]`` masked direction logits."""
        return self.decoder(z).reshape(-1, self.rows, self.cols, 4) + self.logit_mask

    def _to_grid(self, probs: torch.Tensor) -> torch.Tensor:
        """Direction probabilities ``[B, R, C, 4]`` → open-floor probabilities ``[B, H, W]``."""
        flat = probs.reshape(-1, self.rows * self.cols * 4)
        links = torch.clamp(flat.index_select(1, self.from_a) + flat.index_select(1, self.from_b), max=1.0)
        grid = links.index_select(1, self.lattice_index) * self.lattice_mask + self.lattice_base
        return grid.reshape(-1, self.height, self.width)

    def target(self, grids: torch.Tensor, keys: np.ndarray | None = None) -> torch.Tensor:
        """int64 ``[B, R*C, 6]``: per cell, the cell it was carved from, the direction of that move (−1 at the
        start) and the four "still unvisited" flags of that moment. ``keys`` order the branches (default: a fixed
        seed, so evaluation is repeatable)."""
        from daedalus.maze.scored_carve import carve_events

        array = grids.detach().cpu().numpy()
        if keys is None:
            keys = np.random.default_rng(0).random((len(array), self.rows, self.cols, 4))
        parent, direction, available = carve_events(array, keys)
        target = np.concatenate([parent[..., None], direction[..., None], available.astype(np.int64)], axis=-1)
        return torch.from_numpy(target).to(grids.device)

    def reconstruction(self, logits: torch.Tensor, target: torch.Tensor, loss: str | None = None) -> torch.Tensor:
        """Per-sample NLL of the carve: ``−log softmax`` of each move over the directions still open to it."""
        flat = logits.reshape(len(logits), -1, 4)
        parent, direction, available = target[..., 0], target[..., 1], target[..., 2:].bool()
        rows = flat.gather(1, parent.clamp(min=0).unsqueeze(-1).expand(-1, -1, 4))
        lse = torch.logsumexp(rows.masked_fill(~available, float("-inf")), dim=-1)
        chosen = rows.gather(2, direction.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        moved = direction >= 0
        return torch.where(moved, lse - chosen, torch.zeros_like(lse)).sum(dim=1)

    def forward(self, grids: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        parents = self.parents(grids)
        keys = None
        if generator is not None:
            keys = torch.rand((len(grids), self.rows, self.cols, 4), generator=generator,
                              device=generator.device).cpu().numpy()
        mu, logvar = self.encode(grids, parents)
        z = reparameterize(mu, logvar, generator) if self.training else mu
        return {"logits": self.decode_logits(z), "target": self.target(grids, keys), "mu": mu,
                "logvar": logvar, "z": z}

    # -- what the export writes and the walk reads -------------------------------------------------------------------
    def _code(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, : self.latent_dim] if z.shape[1] != self.latent_dim else z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``p_open`` ``[B, H, W]`` from ``z`` (the code alone, or the full exported input)."""
        logits = self.decoder(self._code(z)).reshape(-1, self.rows, self.cols, 4) + self.logit_mask
        return self._to_grid(_masked_softmax(logits, self.valid))

    def carve_scores(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, R, C, 4]`` walk scores from the full input ``[B, input_dim]``: ``logits / T`` plus the Gumbel
        draws the noise part of ``z`` stands for (off-grid directions at ``OFF_GRID``)."""
        code, noise = z[:, : self.latent_dim], z[:, self.latent_dim:]
        logits = self.decoder(code).reshape(-1, self.rows, self.cols, 4)
        if self.temperature != 1.0:
            logits = logits * (1.0 / self.temperature)
        uniform = torch.clamp(0.5 * (1.0 + torch.erf(noise * 0.7071067811865476)), 1e-7, 1.0 - 1e-7)
        gumbel = -torch.log(-torch.log(uniform))
        return logits + gumbel.reshape(-1, self.rows, self.cols, 4) + self.score_mask

    def export_outputs(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exported graph, in ``contract.OUTPUTS["carve"]`` order: ``(p_open, carve_scores)``."""
        return self.decode(z), self.carve_scores(z)

    def resized(self, height: int, width: int) -> "CarveVAE":
        """Refused: this decoder's last layer has one output per position of its own size."""
        refuse_resize(self)

    def export_metadata(self) -> dict[str, str]:
        return {"decoding": self.DECODING, "code_dim": str(self.latent_dim), "noise_dim": str(self.noise_dim)}

    def walk(self, outputs, shape) -> np.ndarray:
        """The levels the exported outputs stand for (what the runtime's carve decoding draws)."""
        from daedalus.maze.scored_carve import carve

        return carve(outputs[1], shape)

    def preview(self, code: torch.Tensor) -> torch.Tensor:
        """What the decoder prefers for a code, as an image: the link preference ``p_open``."""
        return self.decode(code)

    @torch.no_grad()
    def sample_grids(self, code: np.ndarray, rng: np.random.Generator, threshold: float = 0.5) -> np.ndarray:
        """uint8 ``[N, H, W]`` mazes for codes ``[N, latent_dim]``, the walk's noise drawn from ``rng``."""
        from daedalus.maze.scored_carve import carve

        device = next(self.parameters()).device
        noise = rng.standard_normal((len(code), self.noise_dim)).astype(np.float32)
        z = torch.from_numpy(np.concatenate([np.asarray(code, dtype=np.float32), noise], axis=1)).to(device)
        scores = torch.cat([self.carve_scores(chunk) for chunk in torch.split(z, 1024)]).cpu().numpy()
        return carve(scores, (self.height, self.width))
