"""Levels from 16 x 16 to 64 x 64, square or not, on the seed's lattice rule (H = 2 * rows, W = 2 * cols), through
every part: ``daedalus dataset`` -> ``train --size HxW`` (or ``--data`` the dataset) -> ``export`` -> the runtime
-> ``eval`` -> the game -> the web page. One model per size: the decoder's last layer has one block per cell.
Tiny models (one epoch), so the sizes, not the quality, are under test."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from daedalus.cli import main
from daedalus.maze.stats import is_lattice, is_perfect, is_solvable
from daedalus.runtime import MazeGenerator

ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "OMP_NUM_THREADS": "1"}
TINY = ["--latent", "4", "--hidden", "32", "--holdout", "8", "--batch-size", "16", "--epochs", "1", "--cycles", "1",
        "--eval-samples", "8", "--no-figures", "--quiet", "--threads", "1"]


def trained(tmp_path, size, *data):
    """A one-epoch raster model of ``size`` exported to ONNX."""
    run = tmp_path / f"run-{size}"
    assert main(["train", *(data or ["--size", size]), "--count", "32", *TINY, "--out", str(run)]) == 0
    model = tmp_path / f"{size}.onnx"
    assert main(["export", str(run), "--out", str(model), "--quality-samples", "16"]) == 0
    return model


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """40 x 24 (H x W): a level for a portrait screen, from ``daedalus dataset`` through ``train --data``."""
    tmp_path = tmp_path_factory.mktemp("sizes")
    data = tmp_path / "wide.npz"
    assert main(["dataset", "--count", "48", "--size", "40x24", "--seed", "5", "--out", str(data)]) == 0
    return trained(tmp_path, "40x24", "--data", str(data))


def check_levels(levels, shape):
    grids = np.stack([level.grid for level in levels])
    assert grids.shape == (len(levels), *shape)
    assert is_lattice(grids).all() and is_solvable(grids).all()
    return grids


@pytest.mark.parametrize("size", ["16x16", "64x64", "20x48"])
def test_train_export_generate_at_a_size(tmp_path, size):
    model = trained(tmp_path, size)
    shape = tuple(int(v) for v in size.split("x"))
    generator = MazeGenerator.load(model, device="cpu")
    assert generator.shape == shape
    grids = check_levels(generator.generate(6, seed=3, mode="perfect"), shape)
    assert is_perfect(grids).all()  # valid by construction: the walk draws spanning trees in perfect mode
    check_levels(generator.generate(6, seed=3, mode="braid"), shape)


def test_a_non_square_level_goes_through_every_command(wide, tmp_path):
    out = tmp_path / "levels"
    assert main(["generate", "--model", str(wide), "--count", "3", "--seed", "9", "--format", "txt",
                 "--out", str(out)]) == 0
    rows = sorted(out.glob("*.txt"))[0].read_text().splitlines()
    assert len(rows) == 40 and {len(row) for row in rows} == {24}
    report = subprocess.run([sys.executable, "-m", "daedalus", "eval", "--model", str(wide), "--samples", "40",
                             "--no-two-sample", "--no-untrained", "--json"], capture_output=True, text=True, env=ENV)
    assert report.returncode == 0, report.stderr[-2000:]
    assert json.loads(report.stdout)  # every statistic was computed at 40 x 24


def test_the_game_plays_a_non_square_level_headless(wide, tmp_path):
    pytest.importorskip("pygame")
    shot = tmp_path / "shot.png"
    out = subprocess.run([sys.executable, "-m", "daedalus", "play", "--model", str(wide), "--autopilot", "--levels",
                          "1", "--fast", "--headless", "--window", "1280x720", "--screenshot", str(shot)],
                         capture_output=True, text=True, env=ENV, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cleared" in out.stdout and "backtracker" not in out.stdout  # the model's levels, not the fallback
    pygame = pytest.importorskip("pygame")
    assert pygame.image.load(str(shot)).get_size() == (1280, 720)


@pytest.mark.parametrize("window, shape", [((1280, 720), (40, 24)), ((1280, 720), (24, 40)), ((800, 800), (64, 64)),
                                           ((800, 800), (16, 16)), ((640, 480), (64, 64))])
def test_the_game_scales_its_tiles_to_the_window(window, shape):
    from daedalus.game_demo.render import Layout

    layout = Layout.fit(window, shape)
    rows, cols = shape
    width, height = window
    assert layout.tile >= 2
    assert layout.origin[0] >= 0 and layout.origin[0] + cols * layout.tile <= width
    assert layout.hud <= layout.origin[1] and layout.origin[1] + rows * layout.tile <= height - layout.foot
    # The tile is as large as fits: one pixel more would overflow one side.
    bigger = layout.tile + 1
    assert cols * bigger > width - 16 or rows * bigger > height - layout.hud - layout.foot - 16


def test_the_web_page_draws_and_plays_a_non_square_level(wide):
    """The page reads height and width from the ONNX metadata: the same 40 x 24 levels as Python, on a canvas of
    24 x 40 tiles that fits the window."""
    from web_browser import chromium, chromium_paths, served, severe, wait_for

    if None in chromium_paths():
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    generator = MazeGenerator.load(wide, device="cpu")
    with served(wide) as url, chromium() as driver:
        for code, mode in ((4, "perfect"), (77, "braid")):
            driver.get(url + f"?code={code}&mode={mode}&export=1")
            wait_for(driver, "return ['exported', 'error'].includes(document.body.dataset.state)")
            shown = driver.execute_script("return document.getElementById('level-text').textContent")
            assert shown == generator.generate(1, seed=code, mode=mode)[0].to_text()
        driver.get(url + "?code=5&mode=braid&autopilot=1")
        wait_for(driver, "const s = window.daedalus; return s.error !== null || s.frames >= 60")
        state = driver.execute_script("const s = window.daedalus, b = document.getElementById('board'); return "
                                      "{error: s.error, tile: s.tile, w: b.width, h: b.height, "
                                      "rows: s.world.board.height, cols: s.world.board.width, "
                                      "room: [window.innerWidth, window.innerHeight]}")
        assert state["error"] is None and (state["rows"], state["cols"]) == (40, 24)
        assert (state["h"], state["w"]) == (40 * state["tile"], 24 * state["tile"]) and 4 <= state["tile"] <= 32
        assert state["h"] <= state["room"][1] and state["w"] <= state["room"][0]
        assert severe(driver) == []
