"""The raster walk and its decoder: every walk is a maze, every maze is a walk, the likelihood is exact, and the
exported decoder walks the same levels in torch, onnxruntime and the runtime."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.maze import generators
from daedalus.maze.raster_walk import BACKENDS, CONTEXTS, choose, raster_events, raster_walk
from daedalus.maze.stats import is_lattice, is_perfect, loops, pieces


def _flat(count, rows, cols, mix=2, seed=0, scale=0.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(count, rows, cols, 4)), scale * rng.normal(size=(count, mix)),
            scale * rng.normal(size=(CONTEXTS, mix, 4)), rng.random((count, rows * cols)))


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(2, 7), cols=st.integers(2, 7), seed=st.integers(0, 10_000), scale=st.sampled_from([0, 1, 8]))
def test_every_walk_is_a_perfect_maze_at_any_size(rows, cols, seed, scale):
    grids = raster_walk(*_flat(20, rows, cols, seed=seed, scale=scale))
    assert grids.shape == (20, 2 * rows, 2 * cols)
    assert is_perfect(grids).all() and is_lattice(grids).all()


def test_braid_walks_keep_every_cell_connected_and_close_loops():
    grids = raster_walk(*_flat(200, 14, 14, scale=1.0), loops=True)
    assert (pieces(grids) == 1).all() and (grids[:, ::2, ::2] == 1).all()
    assert loops(grids).mean() > 1


def test_every_spanning_tree_of_a_small_grid_is_a_walk_and_the_likelihood_sums_to_one():
    # 3 x 2 cells: enumerate every subset of the 7 links, keep the spanning trees, sum the flat walk's probability.
    rows, cols = 2, 3
    shape = (2 * rows, 2 * cols)
    from daedalus.maze.grid import links_to_grid, num_links

    trees = []
    for bits in itertools.product([0, 1], repeat=num_links(shape)):
        grid = links_to_grid(np.array(bits, dtype=np.uint8), shape)
        if is_perfect(grid):
            trees.append(grid)
    assert len(trees) == 15  # the matrix-tree count for a 2 x 3 grid graph
    contexts, allowed, options = raster_events(np.stack(trees), loops=False)
    probability = np.prod(1.0 / allowed.sum(axis=2), axis=1)  # flat scores: uniform over the allowed options
    assert np.isclose(probability.sum(), 1.0)


@pytest.mark.parametrize("name", sorted(generators.GENERATORS))
def test_every_generator_maze_is_a_walk_the_walk_can_repeat(name):
    grids = generators.generate_batch(name, 20, 12, 16, np.random.default_rng(1), braid=0.5 if name == "prim" else 0)
    contexts, allowed, options = raster_events(grids, loops=True)
    assert allowed[np.arange(20)[:, None], np.arange(options.shape[1]), options].all()
    # Forcing the recorded options through the walk (uniforms inside each option's CDF slot) rebuilds the mazes.
    scores = np.where(np.arange(4) == options[..., None], 0.0, -50.0).reshape(20, 6, 8, 4)
    walked = raster_walk(scores, np.zeros((20, 1)), np.zeros((CONTEXTS, 1, 4)), np.full((20, 48), 0.5), loops=True)
    assert np.array_equal(walked, grids)


@pytest.mark.parametrize("loops", [False, True])
def test_raster_events_read_the_contexts_the_walk_read_in_both_groups(loops):
    """Walk with random tables of two context groups, then replay: the contexts raster_events records give, cell by
    cell, the scores and so the choices the walk made (a context read differently would change them)."""
    from daedalus.maze.raster_walk import option_scores

    rng = np.random.default_rng(5)
    count, rows, cols, mix = 40, 7, 9, 3
    cell, weights = 2 * rng.normal(size=(count, rows, cols, 4)), rng.normal(size=(count, mix))
    basis, uniforms = 2 * rng.normal(size=(2 * CONTEXTS, mix, 4)), rng.random((count, rows * cols))
    grids = raster_walk(cell, weights, basis, uniforms, loops=loops)
    contexts, allowed, options = raster_events(grids, loops=loops, groups=2)
    assert contexts.shape == (count, rows * cols, 2)
    assert (contexts[..., 0] < CONTEXTS).all() and (contexts[..., 1] >= CONTEXTS).all()
    flat = cell.reshape(count, rows * cols, 4)
    for k in range(rows * cols):
        scores = option_scores(flat[:, k], weights, basis, contexts[:, k])
        np.testing.assert_array_equal(choose(scores, allowed[:, k], uniforms[:, k]), options[:, k])
    # The second group matters: the same walk with its tables zeroed draws other mazes.
    assert not np.array_equal(raster_walk(cell, weights, np.concatenate([basis[:CONTEXTS], 0 * basis[CONTEXTS:]]),
                                          uniforms, loops=loops), grids)


def test_a_context_basis_of_neither_one_nor_two_groups_is_refused():
    cell, mix, basis, uniforms = _flat(2, 3, 3)
    with pytest.raises(ValueError, match=r"context_basis must be \(16384 x groups, mix, 4\) with 1 or 2"):
        raster_walk(cell, mix, np.zeros((3 * CONTEXTS, 2, 4)), uniforms)
    with pytest.raises(ValueError, match="groups must be 1 or 2"):
        raster_events(raster_walk(cell, mix, basis, uniforms), groups=3)


def test_a_maze_the_walk_cannot_draw_is_refused_naming_the_maze_and_cell():
    grids = generators.generate_batch("kruskal", 3, 8, 8, np.random.default_rng(2))
    grids[1, 2, 2] = 0  # a closed cell
    with pytest.raises(ValueError, match=r"maze 1: cell \(2, 2\) is wall"):
        raster_events(grids)
    braided = generators.generate_batch("prim", 3, 8, 8, np.random.default_rng(2), braid=1.0)
    with pytest.raises(ValueError, match="closes a loop"):
        raster_events(braided, loops=False)


def test_choose_draws_only_allowed_options_in_proportion():
    scores = np.tile(np.log([1.0, 2.0, 3.0, 4.0]), (100_000, 1))
    allowed = np.tile([True, False, True, True], (100_000, 1))
    picked = choose(scores, allowed, np.random.default_rng(0).random(100_000))
    counts = np.bincount(picked, minlength=4) / 100_000
    assert counts[1] == 0
    assert np.allclose(counts[[0, 2, 3]], np.array([1, 3, 4]) / 8, atol=0.01)
    assert (choose(scores[:3], allowed[:3], np.array([0.0, 0.999999999, 1.0])) != 1).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_scores_are_refused_naming_the_maze_and_cell(backend):
    cell, mix, basis, uniforms = (np.asarray(a, dtype=np.float32) for a in _flat(3, 3, 3))
    cell[2, 1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"maze 2: the scores of cell \(2, 4\) are not finite"):
        raster_walk(cell, mix, basis, uniforms, backend=backend)
    cell[2, 1, 2, 3] = 0.0
    basis[:, 0, 1] = np.inf  # every context row: the first cell reads one
    with pytest.raises(ValueError, match=r"maze 0: the scores of cell \(0, 0\) are not finite"):
        raster_walk(cell, mix, basis, uniforms, backend=backend)


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_uniforms_outside_the_unit_interval_are_refused(bad):
    cell, mix, basis, uniforms = _flat(2, 3, 3)
    uniforms[1, 4] = bad
    with pytest.raises(ValueError, match=r"uniforms must lie in \[0, 1\]; maze 1 cell 4"):
        raster_walk(cell, mix, basis, uniforms)


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("groups", [1, 2])
def test_flat_model_likelihood_is_the_count_of_allowed_options_in_either_group_count(groups):
    from daedalus.trainer.raster_model import RasterVAE

    model = RasterVAE(latent_dim=4, hidden=[16], height=12, width=12, mix=2, context_hidden=8,
                      context_groups=groups)
    assert model.context_basis().shape == (groups * CONTEXTS, 2, 4)
    for parameter in model.parameters():
        torch.nn.init.zeros_(parameter)
    grids = torch.from_numpy(generators.generate_batch("prim", 6, 12, 12, np.random.default_rng(3)))
    out = model(grids)
    assert out["target"].shape[-1] == groups + 5
    nll = model.reconstruction(out["logits"], out["target"]).detach().numpy()
    _, allowed, _ = raster_events(grids.numpy())
    assert np.allclose(nll, np.log(allowed.sum(axis=2)).sum(axis=1), rtol=1e-5)


def test_the_training_likelihood_adds_both_groups_tables_as_the_walk_does():
    """The reconstruction term of a two-group model with random weights equals the walk's own log-likelihood of the
    maze computed in numpy from the exported tables (option_scores over raster_events' rows)."""
    from daedalus.maze.raster_walk import option_scores
    from daedalus.trainer.raster_model import RasterVAE

    torch.manual_seed(0)
    model = RasterVAE(latent_dim=4, hidden=[16], height=10, width=12, mix=3, context_hidden=8, context_groups=2)
    model.eval()
    grids = generators.generate_batch("kruskal", 5, 10, 12, np.random.default_rng(6))
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(grids))
        logits = model.tables(mu)
        target = model.target(torch.from_numpy(grids))
        nll = model.reconstruction(logits, target).numpy()
    cell, weights = (t.numpy().astype(np.float64) for t in logits)
    basis = model.context_basis().numpy().astype(np.float64)
    contexts, allowed, options = raster_events(grids, groups=2)
    flat = cell.reshape(5, -1, 4)
    expected = np.zeros(5)
    for k in range(flat.shape[1]):
        scores = np.where(allowed[:, k], option_scores(flat[:, k], weights, basis, contexts[:, k]), -np.inf)
        top = scores.max(axis=1, keepdims=True)
        log_total = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0]
        expected += log_total - scores[np.arange(5), options[:, k]]
    np.testing.assert_allclose(nll, expected, rtol=1e-4)


@pytest.mark.parametrize("cell_decoder", ["dense", "shared", "modulated"])
def test_a_short_run_learns_a_corpus_and_its_export_walks_the_same_levels_everywhere(tmp_path, cell_decoder):
    from daedalus.export.onnx_export import export_decoder
    from daedalus.runtime import MazeGenerator
    from daedalus.trainer.checkpoint import load_model
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.train import train

    corpus = tmp_path / "binary.npz"
    grids = generators.generate_batch("binary-tree", 300, 12, 12, np.random.default_rng(4))
    np.savez(corpus, grids=grids)
    config = resolve_config({"data": str(corpus), "epochs": 3, "hidden": "32", "latent": 4, "eval_samples": 0,
                             "figures": False, "batch_size": 32, "lr": 3e-3, "cell_decoder": cell_decoder})
    assert config["model"]["cell_decoder"] == cell_decoder
    record = train(config, tmp_path / "run", progress=False)
    model, _ = load_model(tmp_path / "run")
    untrained_nll = float(np.log(raster_events(grids)[1].sum(axis=2)).sum(axis=1).mean())
    # A binary tree is nearly deterministic given its links to the north and west: the model must beat flat scores.
    assert record["holdout_rec"] < 0.8 * untrained_nll
    path = tmp_path / "binary.onnx"
    export_decoder(tmp_path / "run", path, quality_samples=50)
    generator = MazeGenerator.load(path)
    levels = generator.generate(64, seed=3)
    assert all(is_perfect(level.grid) for level in levels)
    z = np.stack([level.z for level in levels])
    code, noise = z[:, :4], z[:, 4:]
    walked = model.sample_grids(code, np.random.default_rng(0))  # other noise: only compare styles here
    assert is_perfect(walked).all()
    # The same z gives the same level through from_latents, and torch's outputs walk the same mazes.
    from daedalus.runtime.eval_cli import untrained_levels  # noqa: F401 (the eval path imports cleanly)

    again = generator.from_latents(z)
    assert all(np.array_equal(a.grid, b.grid) for a, b in zip(levels, again))
    with torch.no_grad():
        outputs = [t.numpy() for t in model.export_outputs(torch.from_numpy(z))]
    assert np.array_equal(generator.decoding.raw(outputs, "perfect"), np.stack([level.grid for level in levels]))
    # Binary-tree style: every cell but the first links north or west, so the top row is one corridor.
    top_row_open = np.mean([level.grid[0, 1:-2:2].all() for level in levels])
    untrained_top = np.mean([g[0, 1:-2:2].all() for g in raster_walk(*_flat(64, 6, 6))])
    assert top_row_open > untrained_top + 0.2
    assert noise.shape[1] == 36
    assert generator.decoding.groups == 2  # the recommended configuration reads two context groups
    assert generator.metadata["default_mode"] == "perfect" and generator.mode_for() == "perfect"
    if cell_decoder != "dense":  # one set of weights draws every size
        other = tmp_path / "other-size.onnx"
        meta = export_decoder(tmp_path / "run", other, quality_samples=50, size=(16, 10))
        assert (meta["height"], meta["width"], meta["trained_size"]) == ("16", "10", "12x12")
        wide = MazeGenerator.load(other)
        levels = wide.generate(32, seed=1)
        assert all(level.grid.shape == (16, 10) and is_perfect(level.grid) for level in levels)
        resized = model.resized(16, 10).eval()
        np.testing.assert_array_equal(resized.context_basis().numpy(), model.eval().context_basis().numpy())
        z = torch.from_numpy(np.stack([level.z for level in levels]))
        with torch.no_grad():
            outputs = [t.numpy() for t in resized.export_outputs(z)]
        assert np.array_equal(wide.decoding.raw(outputs, "perfect"), np.stack([level.grid for level in levels]))
        # The style carries over: binary-tree's top row stays one corridor at the other size.
        assert np.mean([level.grid[0, 1:-2:2].all() for level in levels]) > untrained_top + 0.2
    else:
        from daedalus.errors import UsageError

        with pytest.raises(UsageError, match="cell_decoder 'dense'"):
            model.resized(16, 10)


def test_position_features_say_how_far_each_border_is_the_same_way_at_every_size():
    from daedalus.trainer.raster_model import BORDER_REACH, position_features

    small, large = position_features(6, 9), position_features(20, 13)
    assert small.shape == (54, large.shape[1]) and np.isfinite(small).all()
    width = BORDER_REACH + 1
    borders = slice(2, 2 + 4 * width)

    def cell(features, rows, cols, r, c):
        return features[r * cols + c]

    # The corner cell is at distance 0 from the top and left borders at both sizes; a cell far inside is at the cap.
    for features, rows, cols in ((small, 6, 9), (large, 20, 13)):
        corner = cell(features, rows, cols, 0, 0)[borders].reshape(4, width)
        assert corner[0, 0] == 1 and corner[2, 0] == 1 and corner.sum() == 4
        assert cell(features, rows, cols, rows - 1, cols - 1)[0:2].tolist() == [1.0, 1.0]
    inside = cell(large, 20, 13, 10, 6)[borders].reshape(4, width)
    assert (inside[:, BORDER_REACH] == 1).all() and inside.sum() == 4
    # The border features of the second row are the same at both sizes (what carries a border rule over).
    np.testing.assert_array_equal(cell(small, 6, 9, 1, 4)[borders][:2 * width],
                                  cell(large, 20, 13, 1, 6)[borders][:2 * width])
    # Every cell's features differ from every other cell's.
    assert len(np.unique(large, axis=0)) == len(large)


@pytest.mark.parametrize("kind", ["shared", "modulated"])
def test_a_shared_cell_decoder_scores_every_cell_with_one_network_of_few_weights(kind):
    from daedalus.errors import UsageError
    from daedalus.trainer.raster_model import RasterVAE

    torch.manual_seed(0)
    dense = RasterVAE(latent_dim=8, hidden=[64], height=28, width=28, mix=2, context_hidden=8)
    shared = RasterVAE(latent_dim=8, hidden=[64], height=28, width=28, mix=2, context_hidden=8,
                       cell_decoder=kind, cell_hidden=16)
    assert shared.config()["cell_decoder"] == kind and dense.config()["cell_decoder"] == "dense"
    cell, mix = shared.tables(torch.randn(3, 8))
    assert cell.shape == (3, 14, 14, 4) and mix.shape == (3, 2)
    # Different cells get different scores (the position features reach them), different codes too.
    assert not torch.allclose(cell[0, 0, 0], cell[0, 5, 5]) and not torch.allclose(cell[0], cell[1])
    count = lambda m: sum(p.numel() for p in m.decoder.parameters())  # noqa: E731
    assert count(shared) < count(dense) / 10
    with pytest.raises(UsageError, match="cell_decoder must be one of dense, shared, modulated, got 'conv'"):
        RasterVAE(cell_decoder="conv")
    with pytest.raises(UsageError, match="cell_hidden must be a positive integer, got 0"):
        RasterVAE(cell_decoder="shared", cell_hidden=0)


def test_a_model_of_levels_with_loops_draws_them_when_not_told_the_mode(tmp_path, capsys):
    from daedalus.cli import main
    from daedalus.export.onnx_export import export_decoder
    from daedalus.runtime import MazeGenerator
    from daedalus.trainer.config import resolve_config
    from daedalus.trainer.train import train

    corpus = tmp_path / "braided.npz"
    np.savez(corpus, grids=generators.generate_batch("backtracker", 200, 12, 12, np.random.default_rng(2), 0.5))
    config = resolve_config({"data": str(corpus), "epochs": 2, "hidden": "32", "latent": 4, "eval_samples": 0,
                             "figures": False, "batch_size": 32, "lr": 3e-3})
    train(config, tmp_path / "run", progress=False)
    path = tmp_path / "braided.onnx"
    meta = export_decoder(tmp_path / "run", path, quality_samples=50)
    assert meta["default_mode"] == "braid"
    # The export's quality figures are those of the levels it draws by default: with their loops.
    quality = json.loads(meta["quality"])
    assert quality["mode"] == "braid" and quality["loops"] > 0 and quality["perfect"] < 1
    assert MazeGenerator.load(path).mode_for() == "braid"
    out = tmp_path / "levels.npz"
    assert main(["generate", "--model", str(path), "--count", "32", "--seed", "1", "--format", "npz",
                 "--out", str(out)]) == 0
    assert "32 braid levels" in capsys.readouterr().out
    written = np.load(out)
    assert str(written["mode"]) == "braid" and loops(written["grids"]).mean() > 0
    # Told otherwise, it draws spanning trees; the shipped decoder (no default_mode) stays perfect.
    assert main(["generate", "--model", str(path), "--count", "8", "--seed", "1", "--mode", "perfect",
                 "--format", "npz", "--out", str(out)]) == 0
    assert (loops(np.load(out)["grids"]) == 0).all()
    assert MazeGenerator.load().mode_for() == "perfect"
