"""The raster VAE: a decoder whose samples are raster walks (``daedalus.maze.raster_walk``). Nothing happens on import.

The decoder maps the latent code to ``cell_logits`` ``[R, C, 4]`` (what each position prefers) and ``context_mix``
``[mix]``, the weights of ``mix`` learned context tables ``context_basis`` ``[16384 × groups, mix, 4]`` (how a choice
depends on what is already carved around the cell, over one or two context groups; each group's tables are an MLP over
its context's bits, evaluated on every context at export, and a cell's score adds the two). A level is the constrained
raster walk over their sum, so every sample is a connected maze with every cell open — a spanning tree in ``perfect``
mode — and every such maze has a positive likelihood, which is computed exactly: the walk's choices on a data maze are
known (``raster_events``), so the reconstruction term is the sum over cells of ``-log softmax`` of the chosen option
among the allowed ones. No repair, no per-position loss.

The exported graph takes ``z = [code (latent_dim) | noise (R*C)]``, all ``N(0, I)``, and returns ``cell_logits``,
``context_mix``, ``context_basis`` and ``uniforms = Φ(noise)`` (``[B, R*C]``), the numbers the walk draws its
choices with; the walk itself runs outside the graph (docs/formats.md "Raster decoders"), which has no control
flow.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from daedalus.errors import UsageError
from daedalus.maze.grid import cell_shape, check_shape, link_positions
from daedalus.maze.raster_walk import (
    CONTEXT_GROUPS,
    CONTEXTS,
    OPTIONS,
    WINDOW_BITS,
    Window,
    raster_events,
    raster_walk,
    window_link_bits,
    window_set_bits,
    window_widths,
)
from daedalus.maze.symmetry import transform, turned_back, walk_order_problem
from daedalus.trainer.losses import reparameterize
from daedalus.trainer.models import _mlp, check_sizes

CELL_DECODERS = ("dense", "shared", "modulated")
# Position features of a cell (position_features): the distance to each border in cells, one-hot up to this.
BORDER_REACH = 3
FREQUENCIES = (1, 2, 4, 8)


def check_walk_order(name, height: int, width: int, closed_cells: bool = False) -> str:
    """``name`` if a raster walk can draw ``height`` x ``width`` levels in that order
    (``daedalus.maze.symmetry.walk_order_problem``), else a UsageError. ``"auto"`` (chosen from the data by
    ``options_for`` before training) passes."""
    from daedalus.trainer.walk_order import AUTO

    if name == AUTO:
        return name
    problem = walk_order_problem(name, height, width, closed_cells)
    if problem is not None:
        raise UsageError(f"walk_order {problem.replace('must be', f'must be {AUTO} or', 1)}")
    return name


def position_features(rows: int, cols: int) -> np.ndarray:
    """float ``[rows * cols, 2 + 4 · (BORDER_REACH + 1) + 4 · len(FREQUENCIES)]``: what the shared cell network
    knows of a cell's place, row-major. Coordinates scaled to [0, 1], the distance in cells to each of the four
    borders one-hot up to ``BORDER_REACH`` (so border rules carry over between sizes), and sines and cosines of the
    scaled coordinates (so the network can draw finer positional patterns than a smooth function of two numbers)."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    r, c = r.ravel(), c.ravel()
    y, x = r / max(rows - 1, 1), c / max(cols - 1, 1)
    reach = np.arange(BORDER_REACH + 1)
    borders = [np.minimum(d, BORDER_REACH)[:, None] == reach for d in (r, rows - 1 - r, c, cols - 1 - c)]
    waves = [f(np.pi * k * v)[:, None] for k in FREQUENCIES for v in (y, x) for f in (np.sin, np.cos)]
    return np.concatenate([y[:, None], x[:, None], *borders, *waves], axis=1).astype(np.float32)


class RasterVAE(nn.Module):
    """A VAE over mazes whose decoder scores the raster walk.

    Args:
        kind: ``"vae"`` (kept so every model config names its kind).
        latent_dim: size of the latent code, ≥ 1.
        hidden: hidden widths from the input side; the decoder mirrors them.
        height, width: the grid size.
        output: ``"raster"`` (recorded in the config; it selects this class).
        loops: whether the walk may close loops while training (True learns a braid corpus's loops; for a perfect
            corpus it learns that none are made).
        mix: how many context tables the code mixes.
        context_hidden: width of the MLP that maps a context's bits to its table entries.
        context_groups: 1 (the fourteen bits around the cell) or 2 (plus ``WIDE_CONTEXT_BITS``, further out: the
            recommended configuration; EXPERIMENTS.md "Two context groups"). 1 is what runs from before it had.
        cell_decoder: how the code becomes ``cell_logits``: ``"dense"`` (one output of the last layer per cell and
            option, what runs from before it had) or ``"shared"`` (one small network for every cell, reading the
            code's features and the cell's position features, ``position_features``: a fraction of the weights,
            and the same for every level size), or ``"modulated"`` (the same network, the code scaling the position
            term as well as shifting it).
        cell_hidden: width of the shared cell network (``shared`` and ``modulated`` only).
        closed_cells: whether the walk may close cells (make them wall): set from the training levels
            (``options_for``), True when any of them has a wall cell.
        window_hidden: hidden widths of the window network, a ReLU network over the 65 bits of a wide window of
            decided links (``WINDOW_BITS``) whose scores add to every cell's, its first layer's bias read from the
            code; empty for none (EXPERIMENTS.md "The window network").
        walk_order: the order the walk draws a level in, as the flip or quarter turn of the level it walks row by
            row from the top left (``daedalus.maze.symmetry.TRANSFORMS``): ``"flip_rows"`` walks from the bottom
            up, ``"transpose"`` column by column. Training reads every level under it; a drawn level is turned back
            (EXPERIMENTS.md "The walk's order"). ``"identity"``: rows from the top, what runs from before it had;
            ``"auto"``: chosen from the training levels (``options_for``), rows from the top until then.
    """

    OUTPUT = "raster"
    DECODING = "raster"
    # Whether the model brings its own likelihood (a walk) instead of a per-position loss; it then needs mazes.
    OWN_LIKELIHOOD = True
    # Whether critic tuning (daedalus.trainer.tune) can train it: it has the exact likelihood of its own levels.
    TUNABLE = True

    def __init__(self, kind: str = "vae", latent_dim: int = 32, hidden=(512, 512), height: int = 28,
                 width: int = 28, output: str | None = None, loops: bool = True, mix: int = 8,
                 context_hidden: int = 128, context_groups: int = 1, cell_decoder: str = "dense",
                 cell_hidden: int = 64, closed_cells: bool = False, window_hidden=(), walk_order: str = "identity"):
        super().__init__()
        if kind != "vae":
            raise UsageError(f"model output 'raster' is a VAE: kind must be 'vae', got {kind!r}")
        if output not in (None, self.OUTPUT):
            raise UsageError(f"RasterVAE has output 'raster', got {output!r}")
        hidden = check_sizes(latent_dim, hidden)
        self.kind, self.latent_dim, self.hidden = kind, latent_dim, hidden
        self.height, self.width, self.output, self.loops = int(height), int(width), self.OUTPUT, bool(loops)
        if not isinstance(closed_cells, bool):
            raise UsageError(f"closed_cells must be true or false, got {closed_cells!r}")
        self.closed_cells = closed_cells
        self.walk_order = check_walk_order(walk_order, self.height, self.width, closed_cells)
        # The transform the walk draws under: rows from the top until "auto" is chosen.
        self._order = "identity" if self.walk_order == "auto" else self.walk_order
        try:
            self.window_hidden = window_widths(window_hidden)
        except ValueError as error:
            raise UsageError(f"window_hidden {error}") from None
        self.rows, self.cols = cell_shape((self.height, self.width))
        self.cells = self.rows * self.cols
        positions = link_positions((self.height, self.width))
        self.register_buffer("link_flat", torch.tensor(positions[:, 0] * self.width + positions[:, 1]),
                             persistent=False)
        self.encoder = _mlp([len(positions), *hidden])
        self.fc_mu = nn.Linear(hidden[-1], latent_dim)
        self.fc_logvar = nn.Linear(hidden[-1], latent_dim)
        self.mix, self.context_hidden = int(mix), int(context_hidden)
        if cell_decoder not in CELL_DECODERS:
            raise UsageError(f"cell_decoder must be one of {', '.join(CELL_DECODERS)}, got {cell_decoder!r}")
        if isinstance(cell_hidden, bool) or not isinstance(cell_hidden, int) or cell_hidden < 1:
            raise UsageError(f"cell_hidden must be a positive integer, got {cell_hidden!r}")
        self.cell_decoder, self.cell_hidden = cell_decoder, int(cell_hidden)
        # What the last layer writes per level: every cell's four scores (dense), or the code's features that the
        # shared cell network reads beside each cell's position (shared); then the context mix.
        self.level_width = {"dense": self.cells * OPTIONS, "shared": self.cell_hidden,
                            "modulated": 2 * self.cell_hidden}[cell_decoder]
        # ... and the window network's first-layer bias.
        self.window_width = self.window_hidden[0] if self.window_hidden else 0
        self.decoder = nn.Sequential(*_mlp([latent_dim, *hidden[::-1]]),
                                     nn.Linear(hidden[0], self.level_width + self.mix + self.window_width))
        if self.window_hidden:
            sizes = [*self.window_hidden, OPTIONS]
            self.window_in = nn.Linear(len(WINDOW_BITS), sizes[0], bias=False)
            self.window_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        if cell_decoder != "dense":
            features = torch.tensor(position_features(self.rows, self.cols), dtype=torch.float32)
            self.register_buffer("cell_positions", features, persistent=False)
            self.position_net = nn.Sequential(*_mlp([features.shape[1], self.cell_hidden]),
                                              nn.Linear(self.cell_hidden, self.cell_hidden))
            self.cell_net = nn.Sequential(nn.ReLU(), *_mlp([self.cell_hidden, self.cell_hidden]),
                                          nn.Linear(self.cell_hidden, OPTIONS))
        if context_groups not in (1, 2):
            raise UsageError(f"context_groups must be 1 or 2, got {context_groups!r}")
        self.context_groups = int(context_groups)
        width = len(CONTEXT_GROUPS[0])  # every group has as many bits (CONTEXTS contexts)
        bits = (np.arange(CONTEXTS)[:, None] >> np.arange(width)[None, :]) & 1
        self.register_buffer("context_bits", torch.tensor(bits, dtype=torch.float32), persistent=False)
        self.context_net = self._context_mlp(width)
        # The second group's tables (the attribute exists only then, so one-group runs keep their weight names).
        if self.context_groups == 2:
            self.wide_context_net = self._context_mlp(width)
        self.noise_dim = self.cells
        self._frozen_basis = self._frozen_positions = None

    def _context_mlp(self, width: int) -> nn.Module:
        return nn.Sequential(*_mlp([width, self.context_hidden, self.context_hidden]),
                             nn.Linear(self.context_hidden, self.mix * OPTIONS))

    def config(self) -> dict:
        """Every constructor argument, JSON-ready."""
        return {"kind": self.kind, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "height": self.height, "width": self.width, "output": self.output, "loops": self.loops,
                "mix": self.mix, "context_hidden": self.context_hidden, "context_groups": self.context_groups,
                "cell_decoder": self.cell_decoder, "cell_hidden": self.cell_hidden, "closed_cells": self.closed_cells,
                "window_hidden": list(self.window_hidden), "walk_order": self.walk_order}

    @property
    def input_dim(self) -> int:
        """Width of the exported ``z``: the code, then one noise value per cell."""
        return self.latent_dim + self.noise_dim

    # -- the VAE ---------------------------------------------------------------------------------------------------
    def encode(self, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, H, W]`` mazes → ``(μ, logvar)``, each ``[B, latent_dim]``."""
        links = grids.reshape(len(grids), -1).float().index_select(1, self.link_flat)
        h = self.encoder(links)
        return self.fc_mu(h), self.fc_logvar(h)

    def tables(self, code: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``[B, latent_dim]`` → ``cell_logits`` ``[B, R, C, 4]`` and ``context_mix`` ``[B, mix]``, and with a window
        network its first layer's bias ``[B, window_hidden[0]]``."""
        out = self.decoder(code)
        mix_end = self.level_width + self.mix
        level, mix = out[:, : self.level_width], out[:, self.level_width : mix_end]
        window = (out[:, mix_end:],) if self.window_hidden else ()
        if self.cell_decoder == "shared":  # [B, 1, H] + [cells, H] -> every cell's scores by one network
            level = self.cell_net(level.unsqueeze(1) + self.positions())
        elif self.cell_decoder == "modulated":  # the code scales and shifts the position term
            scale, shift = level[:, : self.cell_hidden], level[:, self.cell_hidden :]
            level = self.cell_net(self.positions() * (1.0 + scale.unsqueeze(1)) + shift.unsqueeze(1))
        return (level.reshape(-1, self.rows, self.cols, OPTIONS), mix, *window)

    def window_scores(self, bias: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        """The window network: ``[B, cells, 4]`` scores from each level's first-layer bias ``[B, window_hidden[0]]``
        and the cells' window bits ``[B, cells, 65]``."""
        h = self.window_in(bits) + bias.unsqueeze(1)
        for layer in self.window_layers:
            h = layer(torch.relu(h))
        return h

    def window_weights(self) -> torch.Tensor:
        """The window network's fixed weights, flat as ``daedalus.maze.raster_walk.Window.weights`` lays them out:
        the first layer's ``(65, width)``, then each further layer's ``(inputs, outputs)`` and bias."""
        parts = [self.window_in.weight.t().reshape(-1)]
        for layer in self.window_layers:
            parts += [layer.weight.t().reshape(-1), layer.bias]
        return torch.cat(parts)

    def window(self, bias) -> Window | None:
        """The numbers the walk's window network needs for levels with first-layer biases ``bias``, or None."""
        if not self.window_hidden:
            return None
        weights = self.window_weights().detach().cpu().numpy()
        return Window(np.asarray(bias.detach().cpu().numpy() if torch.is_tensor(bias) else bias, dtype=np.float32),
                      weights, self.window_hidden)

    def positions(self) -> torch.Tensor:
        """``[cells, cell_hidden]``: what the shared cell network adds to the code's features at each cell. In eval
        mode it is computed once and kept (it depends on no input), so the exported graph holds it as a constant."""
        if self._frozen_positions is not None:
            return self._frozen_positions
        return self.position_net(self.cell_positions)

    def context_basis(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The context tables ``[CONTEXTS × groups, mix, 4]`` (every row, or the basis rows ``rows``, int64
        ``g · CONTEXTS + context``). In eval mode the full table is computed once and kept as a plain tensor, so the
        exported graph holds it as a constant instead of running the MLPs over every context on every call."""
        if rows is None and self._frozen_basis is not None:
            return self._frozen_basis
        if rows is None:
            rows = torch.arange(CONTEXTS * self.context_groups, device=self.context_bits.device)
        group, context = rows // CONTEXTS, rows % CONTEXTS
        bits = self.context_bits[context]
        nets = (self.context_net, self.wide_context_net) if self.context_groups == 2 else (self.context_net,)
        tables = bits.new_zeros(len(rows), self.mix * OPTIONS)
        for g, net in enumerate(nets):  # each group's MLP on its own rows only
            here = group == g
            tables[here] = net(bits[here])
        return tables.reshape(-1, self.mix, OPTIONS)

    def train(self, mode: bool = True):
        super().train(mode)
        self._frozen_basis = self._frozen_positions = None
        if not mode:
            with torch.no_grad():
                if self.cell_decoder != "dense":
                    self._frozen_positions = self.positions().detach().clone()
                basis = self.context_basis().detach().clone()
                # Rounded to float16 precision (far below what a score needs), so that the export can store the
                # tables at half the size (daedalus.export.onnx_export.compact_constants) and torch, the ONNX
                # file and the walk still read the very same numbers.
                half = basis.half()
                self._frozen_basis = half.float() if torch.isfinite(half).all() else basis
        return self

    @staticmethod
    def options_for(config: dict, *grids: np.ndarray) -> dict:
        """The configuration the training and held-out levels (arrays ``(N, H, W)``) call for: ``closed_cells``
        when any has a wall cell (otherwise the walk keeps every cell open, by construction); for ``walk_order``
        ``"auto"`` the order whose walk explains the held-out levels best (``daedalus.trainer.walk_order``), with
        each candidate's nats per level in ``walk_order_nats``."""
        from daedalus.trainer.walk_order import AUTO, choose_walk_order

        options = {"closed_cells": any(bool((np.asarray(g)[:, ::2, ::2] == 0).any()) for g in grids)}
        if config.get("walk_order") == AUTO and grids:
            train, held = np.asarray(grids[0]), np.asarray(grids[-1] if len(grids) > 1 else grids[0][:0])
            try:
                order, nats = choose_walk_order(train, held, loops=bool(config.get("loops", True)),
                                                closed_cells=options["closed_cells"],
                                                any_size=config.get("cell_decoder", "dense") != "dense")
            except ValueError:  # levels no walk can draw: the trainer refuses them, naming the first (refusal)
                order, nats = "identity", {}
            options.update(walk_order=order, walk_order_nats=nats)
        return options

    def undrawable(self, grids: np.ndarray) -> tuple[int, str] | None:
        """The first of the ``(N, H, W)`` levels this decoder cannot draw and why, or None. Every level whose open
        cells are all connected, each by an open link, is some raster walk if its first and last cell are open
        (wall cells only with ``closed_cells``); without ``loops`` only those without a loop."""
        from daedalus.maze.raster_walk import closed_cell_problem
        from daedalus.maze.stats import loops, pieces

        # What the walk can draw does not depend on its order (every rule is local and symmetric, and a walk with
        # closed cells has an order that keeps its first and last cell on the corners), so the levels are checked
        # as they are and a refusal names the cell where the user sees it.
        grids = np.asarray(grids)
        found = closed_cell_problem(grids, self.closed_cells)
        if found is not None:
            return found
        apart = np.atleast_1d(pieces(grids)) > 1
        if apart.any():
            return int(np.argmax(apart)), "has open floor that is not connected to the rest (the walk connects it all)"
        if self.loops:
            return None
        bad = np.atleast_1d(loops(grids)) > 0
        if not bad.any():
            return None
        return int(np.argmax(bad)), "has a loop; this raster model was built with loops=False (perfect mazes only)"

    def target(self, grids: torch.Tensor) -> torch.Tensor:
        """int64 ``[B, cells, groups + 5]``: per cell the walk's basis rows (one per context group), chosen option and
        the four allowed flags; with a window network then the 65 window bits."""
        levels = self.walked(grids.detach().cpu().numpy())
        contexts, allowed, options = raster_events(levels, loops=self.loops, groups=self.context_groups,
                                                   closed_cells=self.closed_cells)
        parts = [contexts, options[..., None], allowed.astype(np.int64)]
        if self.window_hidden:
            parts += [window_link_bits(levels).astype(np.int64), window_set_bits(contexts).astype(np.int64)]
        target = np.concatenate(parts, axis=-1)
        return torch.from_numpy(target).to(grids.device)

    def reconstruction(self, logits: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor,
                       loss: str | None = None) -> torch.Tensor:
        """Per-sample NLL of the walk: ``-log softmax`` of each chosen option over the allowed ones, summed."""
        cell_logits, mix, *window = logits
        groups = self.context_groups
        context, option = target[..., :groups], target[..., groups]
        allowed = target[..., groups + 1 : groups + 1 + OPTIONS].bool()
        # The MLPs run on the contexts this batch visits only (a few thousand of the 16,384 of each group).
        seen, inverse = torch.unique(context, return_inverse=True)
        basis = self.context_basis(seen)[inverse].sum(dim=2)  # [B, cells, mix, 4]: the groups' tables added
        scores = cell_logits.reshape(len(cell_logits), -1, OPTIONS) + torch.einsum("bm,bkmo->bko", mix, basis)
        if window:
            scores = scores + self.window_scores(window[0], target[..., groups + 1 + OPTIONS :].float())
        lse = torch.logsumexp(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        chosen = scores.gather(2, option.unsqueeze(-1)).squeeze(-1)
        return (lse - chosen).sum(dim=1)

    def level_nll(self, code: torch.Tensor, grids: np.ndarray) -> torch.Tensor:
        """``[B]``: minus the log-likelihood of the walk drawing the levels ``grids`` ``(B, H, W)`` from the codes
        ``code`` ``[B, latent_dim]`` (differentiable in the decoder's weights; what critic tuning follows)."""
        return self.reconstruction(self.tables(code), self.target(torch.from_numpy(np.asarray(grids))))

    def forward(self, grids: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        mu, logvar = self.encode(grids)
        z = reparameterize(mu, logvar, generator) if self.training else mu
        return {"logits": self.tables(z), "target": self.target(grids), "mu": mu, "logvar": logvar, "z": z}

    # -- what the export writes and the walk reads -------------------------------------------------------------------
    def export_outputs(self, z: torch.Tensor):
        """The exported graph: ``z = [code | noise]`` → ``(cell_logits, context_mix, context_basis, uniforms)``, and
        with a window network ``(window_bias, window_weights)``."""
        code, noise = z[:, : self.latent_dim], z[:, self.latent_dim :]
        cell_logits, mix, *window = self.tables(code)
        uniforms = 0.5 * (1.0 + torch.erf(noise * 0.7071067811865476))
        # The tables do not depend on z; the zero term only ties them to the input, which the tracer requires of an
        # output (in eval mode they are one constant, not the MLP).
        basis = self.context_basis() + 0.0 * code[:1, :1].reshape(1, 1, 1)
        if window:
            return cell_logits, mix, basis, uniforms, window[0], self.window_weights() + 0.0 * code[0, :1]
        return cell_logits, mix, basis, uniforms

    def resized(self, height: int, width: int) -> "RasterVAE":
        """The same decoder for levels of another size: a shared cell decoder's weights do not depend on the size
        (the code's features, the cells' position features and the context tables), so they draw any size. The
        encoder's weights do (it reads every link) and stay untrained: the result is for export and sampling.

        Raises:
            UsageError: a dense cell decoder (one output per cell of its own size), or a size off the lattice rule.
        """
        if self.cell_decoder == "dense":
            raise UsageError(f"this decoder has one output per cell of its {self.height}x{self.width} levels "
                             f"(cell_decoder 'dense'); only a shared cell decoder (train --cell-decoder shared) "
                             f"draws other sizes")
        try:
            height, width = check_shape(int(height), int(width))
        except ValueError as error:
            raise UsageError(f"size: {error}") from None
        other = RasterVAE(**{**self.config(), "height": height, "width": width}).to(self.context_bits.device)
        size_bound = ("encoder.", "fc_mu.", "fc_logvar.")
        kept = {k: v for k, v in self.state_dict().items() if not k.startswith(size_bound)}
        missing, unexpected = other.load_state_dict(kept, strict=False)
        assert not unexpected and all(k.startswith(size_bound) for k in missing), (missing, unexpected)
        return other.train(self.training)

    def export_metadata(self) -> dict[str, str]:
        return {"decoding": self.DECODING, "code_dim": str(self.latent_dim), "noise_dim": str(self.noise_dim),
                "loops": "learned" if self.loops else "none", "context_mix": str(self.mix),
                "context_groups": str(self.context_groups),
                **({"closed_cells": "learned"} if self.closed_cells else {}),
                **({"window_hidden": ",".join(map(str, self.window_hidden))} if self.window_hidden else {}),
                **({"walk_order": self._order} if self._order != "identity" else {})}

    def preview(self, code: torch.Tensor) -> torch.Tensor:
        """What the decoder draws for a code, as an image: its walk with every uniform at 0.5 (the median choice)."""
        cell, mix, *window = (t.detach().cpu().numpy() for t in self.tables(code))
        basis = self.context_basis().detach().cpu().numpy()
        grids = raster_walk(cell, mix, basis, np.full((len(cell), self.cells), 0.5), closed_cells=self.closed_cells,
                            window=self.window(*window) if window else None)
        return torch.from_numpy(self.turned_back(grids).astype(np.float32))

    @torch.no_grad()
    def sample_grids(self, code: np.ndarray, rng: np.random.Generator, threshold: float = 0.5,
                     loops: bool = False) -> np.ndarray:
        """uint8 ``[N, H, W]`` mazes for codes ``[N, latent_dim]``, the walk's noise drawn from ``rng``
        (``threshold`` is unused: a walk needs none)."""
        device = next(self.parameters()).device
        noise = rng.standard_normal((len(code), self.noise_dim)).astype(np.float32)
        z = torch.from_numpy(np.concatenate([np.asarray(code, dtype=np.float32), noise], axis=1)).to(device)
        code, noise = z[:, : self.latent_dim], z[:, self.latent_dim :]
        cell, mix, *window = (t.cpu().numpy() for t in self.tables(code))
        uniforms = (0.5 * (1.0 + torch.erf(noise * 0.7071067811865476))).cpu().numpy()
        return self.turned_back(raster_walk(cell, mix, self.context_basis().cpu().numpy(), uniforms, loops=loops,
                                            closed_cells=self.closed_cells,
                                            window=self.window(*window) if window else None))

    def walked(self, grids: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` levels as the walk draws them: under ``walk_order``."""
        return grids if self._order == "identity" else transform(grids, self._order)

    def turned_back(self, grids: np.ndarray) -> np.ndarray:
        """The walk's ``(N, H, W)`` levels the right way round (the inverse of ``walk_order``)."""
        return turned_back(grids, self._order)
