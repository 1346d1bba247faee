"""Pictures: PNG and GIF files that a real decoder (Pillow) reads back pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest

from daedalus import maze
from daedalus.maze import draw

Image = pytest.importorskip("PIL.Image")


def test_png_round_trips_through_pillow(tmp_path):
    grid = maze.backtracker(12, 14, rng=1)
    image = draw.render(grid, scale=3)
    assert image.shape == (36, 42, 3)
    path = tmp_path / "maze.png"
    draw.save_png(image, path)
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), image)
    # Walls and floor where the grid says, start and exit marked.
    assert tuple(image[0, 0]) == draw.START_RGB
    assert tuple(image[-4, -4]) == draw.EXIT_RGB
    assert tuple(image[3 * 1 + 1, 3 * 1 + 1]) == draw.WALL_RGB


def test_sheet_lays_out_every_maze(tmp_path):
    batch = maze.backtracker_batch(5, rng=0)
    path = tmp_path / "sheet.png"
    draw.sheet_png(batch, path, columns=3, scale=2)
    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape == (2 * 56 + 3 * 4, 3 * 56 + 4 * 4, 3)


def test_carving_gif_plays_back_to_the_finished_maze(tmp_path):
    frames = maze.carve_frames(10, 10, rng=4)
    path = tmp_path / "carve.gif"
    draw.carve_gif(frames, path, scale=2)
    gif = Image.open(path)
    assert gif.n_frames == len(frames)
    gif.seek(gif.n_frames - 1)
    last = np.asarray(gif.convert("RGB"))
    expected = draw.render(frames[-1][0], head=frames[-1][1], scale=2)
    assert np.array_equal(last, expected)


def test_render_refuses_a_batch():
    with pytest.raises(ValueError, match="one grid"):
        draw.render(np.zeros((2, 4, 4)))
