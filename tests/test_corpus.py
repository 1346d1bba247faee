"""``daedalus.maze.corpus``: levels written by the real writers read back identical; every refusal names the file,
the level and the bad value."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

from daedalus.cli import main
from daedalus.errors import UsageError
from daedalus.files import atomic_write
from daedalus.maze import corpus as corpus_module
from daedalus.maze.backtracker import backtracker, backtracker_batch
from daedalus.maze.corpus import (
    MAX_SIDE,
    Corpus,
    CorpusError,
    decode_png,
    image_to_level,
    read_corpus,
    validate_levels,
)
from daedalus.maze.draw import GAP_RGB, encode_png, maze_png, render, sheet_png
from daedalus.runtime.level import Level
from independent_bfs import bfs_reachable


def make_level(seed: int, shape=(28, 28), start=(0, 0), exit=None) -> Level:
    grid = backtracker(*shape, np.random.default_rng(seed))
    exit = (shape[0] - 2, shape[1] - 2) if exit is None else exit
    return Level(grid=grid, start=start, exit=exit, seed=seed, z=np.zeros(4, dtype=np.float32), index=seed)


def write_text(level: Level, path) -> None:
    atomic_write(path, level.to_text().encode("ascii"))  # as `generate --format txt` writes it


def save_levels_npz(path, grids, starts=None, exits=None, **extra) -> None:
    """A generated-levels npz as `generate --format npz` writes it (docs/formats.md)."""
    count = len(grids)
    starts = np.zeros((count, 2), dtype=np.int64) if starts is None else starts
    exits = np.tile(np.array([grids.shape[1] - 2, grids.shape[2] - 2], dtype=np.int64), (count, 1)) \
        if exits is None else exits
    np.savez_compressed(path, grids=grids, starts=starts, exits=exits, latents=np.zeros((count, 4), np.float32),
                        edits=np.zeros(count, np.int64), seed=7, mode="braid", count=count, **extra)


def refused(path, match: str) -> CorpusError:
    with pytest.raises(CorpusError, match=match) as info:
        read_corpus(path)
    assert "\n" not in str(info.value)
    return info.value


# ------------------------------------------------------------------------------------------------ round trips


def test_a_dataset_written_by_daedalus_dataset_reads_back_identical(tmp_path):
    out = tmp_path / "mazes.npz"
    assert main(["dataset", "--count", "20", "--size", "16x20", "--seed", "3", "--out", str(out)]) == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    corpus = read_corpus(out)
    assert isinstance(corpus, Corpus) and len(corpus) == 20
    assert corpus.grids.dtype == np.uint8 and corpus.starts.dtype == np.int64 and corpus.exits.dtype == np.int64
    assert np.array_equal(corpus.grids, backtracker_batch(20, 16, 20, rng=3))
    assert corpus.starts.tolist() == [[0, 0]] * 20 and corpus.exits.tolist() == [[14, 18]] * 20
    assert corpus.sources[:2] == ["mazes.npz#0", "mazes.npz#1"] and len(corpus.sources) == 20
    d = corpus.description
    assert (d["format"], d["count"], d["height"], d["width"], d["files"]) == ("npz", 20, 16, 20, 1)
    assert d["generator"] == str(np.load(out)["generator"]) and d["perfect"] == 20 and d["braid"] is False
    json.dumps(d)  # JSON-serialisable
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # reading writes nothing


def test_a_generated_levels_npz_reads_back_with_its_starts_exits_and_mode(tmp_path):
    grids = backtracker_batch(6, 28, 28, rng=1)
    grids[:, 0, 1] = 1  # braid-like: a loop in some levels (the link may already be open)
    grids[:, 1, 0] = 1
    exits = np.tile(np.array([[26, 0]], dtype=np.int64), (6, 1))
    save_levels_npz(tmp_path / "levels.npz", grids, exits=exits)
    corpus = read_corpus(tmp_path / "levels.npz")
    assert np.array_equal(corpus.grids, grids) and corpus.exits.tolist() == [[26, 0]] * 6
    assert corpus.description["mode"] == "braid" and "generator" not in corpus.description


def test_a_folder_of_json_txt_png_and_npz_reads_back_in_name_order(tmp_path):
    folder = tmp_path / "levels"
    folder.mkdir()
    levels = [make_level(s) for s in range(6)]
    levels[0].to_json(folder / "a.json")
    write_text(levels[1], folder / "b.txt")
    levels[2].to_png(folder / "c.png")  # as `generate --format png` writes it (scale 8)
    maze_png(levels[3].grid, folder / "d.png", levels[3].start, levels[3].exit, scale=3)
    save_levels_npz(folder / "e.npz", np.stack([levels[4].grid, levels[5].grid]))
    (folder / "README.md").write_text("notes")
    (folder / "sub").mkdir()
    corpus = read_corpus(folder)
    assert np.array_equal(corpus.grids, np.stack([lv.grid for lv in levels]))
    assert corpus.sources == ["a.json", "b.txt", "c.png", "d.png", "e.npz#0", "e.npz#1"]
    assert corpus.starts.tolist() == [[0, 0]] * 6 and corpus.exits.tolist() == [[26, 26]] * 6
    d = corpus.description
    assert (d["format"], d["count"], d["files"]) == ("folder", 6, 5)
    assert d["ignored"] == ["README.md", "sub/"] and "README.md" in d["warnings"][0]


def test_start_and_exit_markers_are_read_from_text_and_png(tmp_path):
    level = make_level(8, start=(4, 6), exit=(12, 2))
    write_text(level, tmp_path / "a.txt")
    level.to_png(tmp_path / "b.png")
    level.to_json(tmp_path / "c.json")
    corpus = read_corpus(tmp_path)
    assert corpus.starts.tolist() == [[4, 6]] * 3 and corpus.exits.tolist() == [[12, 2]] * 3
    assert all(np.array_equal(g, level.grid) for g in corpus.grids)


def test_the_same_levels_give_the_same_hash_whatever_the_format(tmp_path):
    grids = backtracker_batch(3, 28, 28, rng=5)
    save_levels_npz(tmp_path / "all.npz", grids)
    folder = tmp_path / "files"
    folder.mkdir()
    for i, grid in enumerate(grids):
        Level(grid=grid, start=(0, 0), exit=(26, 26), seed=None, z=np.zeros(2, np.float32)).to_json(
            folder / f"{i}.json")
    assert read_corpus(tmp_path / "all.npz").description["sha256"] == read_corpus(folder).description["sha256"]
    grids[2, 0, 1] ^= 1
    save_levels_npz(tmp_path / "other.npz", grids)
    assert read_corpus(tmp_path / "other.npz").description["sha256"] != read_corpus(folder).description["sha256"]


def test_a_single_level_file_is_a_corpus_too(tmp_path):
    level = make_level(2, shape=(10, 16))
    write_text(level, tmp_path / "one.txt")
    corpus = read_corpus(tmp_path / "one.txt")
    assert corpus.grids.shape == (1, 10, 16) and corpus.sources == ["one.txt"]
    assert corpus.description["format"] == "txt"


def test_a_grid_without_start_or_exit_gets_the_lattice_defaults(tmp_path):
    grids = backtracker_batch(2, 12, 12, rng=0)
    np.savez(tmp_path / "bare.npz", grids=grids)
    corpus = read_corpus(tmp_path / "bare.npz")
    assert corpus.starts.tolist() == [[0, 0]] * 2 and corpus.exits.tolist() == [[10, 10]] * 2
    text = make_level(1).to_text().replace("S", ".").replace("E", ".")
    (tmp_path / "t.txt").write_text(text)
    assert read_corpus(tmp_path / "t.txt").exits.tolist() == [[26, 26]]


# ------------------------------------------------------------------------------------------------------- PNG


def png_with_filters(image: np.ndarray, colour: int) -> bytes:
    """An independent PNG encoder that cycles through the five filter types row by row."""
    height, width = image.shape[:2]
    bpp = image.shape[2] if image.ndim == 3 else 1
    rows = image.reshape(height, width * bpp).astype(np.int64)
    out = bytearray()
    prev = np.zeros(width * bpp, dtype=np.int64)
    for r in range(height):
        kind, line = r % 5, rows[r]
        left = np.concatenate([np.zeros(bpp, np.int64), line[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        if kind == 0:
            filtered = line
        elif kind == 1:
            filtered = line - left
        elif kind == 2:
            filtered = line - prev
        elif kind == 3:
            filtered = line - (left + prev) // 2
        else:
            p = left + prev - up_left
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - up_left)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, up_left))
            filtered = line - pred
        out.append(kind)
        out.extend((filtered % 256).astype(np.uint8).tobytes())
        prev = line

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(out)))
            + chunk(b"IEND", b""))


def with_header(data: bytes, depth: int | None = None, interlace: int | None = None) -> bytes:
    """``data`` (a PNG) with its IHDR's bit depth or interlace method changed, CRC recomputed."""
    fields = list(struct.unpack(">IIBBBBB", data[16:29]))
    fields[2] = fields[2] if depth is None else depth
    fields[6] = fields[6] if interlace is None else interlace
    body = b"IHDR" + struct.pack(">IIBBBBB", *fields)
    return data[:12] + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + data[33:]


@pytest.mark.parametrize("channels, colour", [(1, 0), (2, 4), (3, 2), (4, 6)])
def test_png_decoding_handles_every_filter_type(channels, colour):
    image = np.random.default_rng(channels).integers(0, 256, (23, 17, channels)).astype(np.uint8)
    assert np.array_equal(decode_png(png_with_filters(image, colour)), image)


def test_png_decoding_matches_an_independent_encoder():
    pil = pytest.importorskip("PIL.Image")
    image = render(make_level(3).grid, scale=5)
    for mode, array in (("RGB", image), ("RGBA", np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]))):
        buffer = io.BytesIO()
        pil.fromarray(array, mode).save(buffer, "PNG", optimize=True)
        decoded = decode_png(buffer.getvalue())
        assert np.array_equal(decoded, array)
        grid, start, exit = image_to_level(decoded)
        assert np.array_equal(grid, make_level(3).grid) and start.tolist() == [0, 0] and exit.tolist() == [26, 26]


@pytest.mark.parametrize("scale", [1, 2, 5, 8])
def test_any_render_scale_maps_back_to_the_grid(scale):
    level = make_level(scale, shape=(12, 20), start=(2, 4), exit=(10, 0))
    grid, start, exit = image_to_level(decode_png(encode_png(level.render(scale))))
    assert np.array_equal(grid, level.grid) and start.tolist() == [2, 4] and exit.tolist() == [10, 0]


def test_a_black_and_white_grey_png_is_a_grid():
    grid = make_level(4).grid
    read, start, exit = image_to_level(decode_png(encode_png(np.repeat(np.repeat(grid * 255, 4, 0), 4, 1))))
    assert np.array_equal(read, grid) and start is None and exit is None


def test_png_kinds_not_read_are_refused_clearly(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    image = render(make_level(0).grid, scale=2)
    pil.fromarray(image).convert("P").save(tmp_path / "palette.png")
    refused(tmp_path / "palette.png", r"palette.png: palette PNG of bit depth 8; only 8-bit grey, RGB or RGBA")
    (tmp_path / "interlaced.png").write_bytes(with_header(encode_png(image), interlace=1))
    refused(tmp_path / "interlaced.png", r"interlaced.png: an interlaced PNG")
    (tmp_path / "bits.png").write_bytes(with_header(encode_png(image), depth=4))
    refused(tmp_path / "bits.png", r"bits.png: RGB PNG of bit depth 4")
    pil.fromarray(image[..., 0].astype(np.uint16) * 256).save(tmp_path / "deep.png")
    refused(tmp_path / "deep.png", r"deep.png: grey PNG of bit depth 16")


def test_damaged_or_foreign_pngs_are_refused(tmp_path):
    data = encode_png(make_level(0).render())
    (tmp_path / "crc.png").write_bytes(data[:50] + bytes([data[50] ^ 1]) + data[51:])  # inside IDAT's data
    refused(tmp_path / "crc.png", r"crc.png: damaged PNG \(chunk b'IDAT' fails its CRC check\)")
    (tmp_path / "cut.png").write_bytes(data[:60])
    refused(tmp_path / "cut.png", r"cut.png: truncated PNG")
    (tmp_path / "fake.png").write_bytes(b"GIF89a" + data)
    refused(tmp_path / "fake.png", r"fake.png: not a PNG file")


def test_a_preview_sheet_or_a_foreign_colour_is_refused(tmp_path):
    sheet_png(backtracker_batch(4, 28, 28, rng=0), tmp_path / "sheet.png")
    refused(tmp_path / "sheet.png", rf"sheet.png: position \(0, 0\) .* has colour \({GAP_RGB[0]}, .*preview sheet")
    image = make_level(0).render(4)
    image[40:44, 40:44] = (1, 2, 3)
    (tmp_path / "odd.png").write_bytes(encode_png(image))
    refused(tmp_path / "odd.png", r"odd.png: position \(10, 10\) \(pixel \(40, 40\), scale 4\) has colour \(1, 2, 3\)")
    image = make_level(0).render(4)
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    rgba[5, 6, 3] = 0
    (tmp_path / "alpha.png").write_bytes(png_with_filters(rgba, 6))
    refused(tmp_path / "alpha.png", r"alpha.png: pixel \(5, 6\) is transparent")


def test_two_start_markers_are_refused(tmp_path):
    level = make_level(0)
    image = render(level.grid, (0, 0), (26, 26), 8)
    image[8 * 4 : 8 * 5, 8 * 4 : 8 * 5] = image[0, 0]
    (tmp_path / "two.png").write_bytes(encode_png(image))
    refused(tmp_path / "two.png", r"two.png: 2 start markers .* at \(0, 0\), \(4, 4\); a level has one")


# -------------------------------------------------------------------------------------------------- refusals


def test_a_lattice_break_names_the_file_and_the_level(tmp_path):
    folder = tmp_path / "levels"
    folder.mkdir()
    grids = backtracker_batch(20, 28, 28, rng=2)
    grids[17, 3, 3] = 1
    save_levels_npz(folder / "a.npz", grids)
    refused(folder, r"levels/a.npz level 17: position \(3, 3\) is 1 but the lattice rule keeps odd-odd positions wall$")


def test_a_start_outside_the_grid_names_the_file(tmp_path):
    make_level(0).to_json(tmp_path / "a.json")
    data = json.loads(make_level(1).to_json())
    (tmp_path / "b.json").write_text(json.dumps({**data, "start": [99, 99]}))
    refused(tmp_path, r"b.json: start \[99, 99\] is outside the 28x28 grid$")
    (tmp_path / "b.json").write_text(json.dumps({**data, "exit": [-1, -1]}))
    refused(tmp_path, r"b.json: exit \[-1, -1\] is outside the 28x28 grid$")


def test_mixed_sizes_are_refused_naming_the_first_file(tmp_path):
    make_level(0).to_json(tmp_path / "a.json")
    make_level(1).to_png(tmp_path / "b.png")
    write_text(make_level(2, shape=(30, 28)), tmp_path / "c.txt")
    refused(tmp_path, r"c.txt: 30x28 but the corpus is 28x28 \(first file a.json\)$")


def test_an_empty_folder_or_one_without_level_files_is_refused(tmp_path):
    refused(tmp_path, r"no level files \(it is empty\)")
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "level.json.bak").write_text("x")
    refused(tmp_path, r"no level files \(it holds 2 other entries: level.json.bak, notes.md\)")
    refused(tmp_path / "missing", r"missing: no such file or folder")


@pytest.mark.parametrize("value, shown", [(2, "2"), (0.5, "0.5"), (np.nan, "nan"), (-1, "-1"), (1e-9, "1e-09")])
def test_non_binary_values_are_refused_with_the_position_and_value(tmp_path, value, shown):
    grids = backtracker_batch(5, 28, 28, rng=3).astype(np.float64)
    grids[3, 1, 1] = value
    save_levels_npz(tmp_path / "f.npz", grids)
    refused(tmp_path / "f.npz", rf"f.npz level 3: position \(1, 1\) is {shown}; a level holds only 0 \(wall\) and 1")


@pytest.mark.parametrize("where, rule", [((27, 2), "the last row"), ((4, 27), "the last column"),
                                         ((5, 9), "odd-odd positions")])
def test_each_lattice_rule_is_named(where, rule):
    grid = backtracker(28, 28, np.random.default_rng(0))
    grid[where] = 1
    with pytest.raises(CorpusError, match=rf"x.txt: position \({where[0]}, {where[1]}\) is 1 .* keeps {rule} wall"):
        validate_levels(grid, source="x.txt")


def test_endpoints_on_walls_links_and_unreachable_cells_are_refused(tmp_path):
    grids = backtracker_batch(4, 28, 28, rng=4)
    starts = np.zeros((4, 2), np.int64)
    exits = np.full((4, 2), 26, np.int64)
    grids[1, 12, 12] = 0
    starts[1] = (12, 12)
    save_levels_npz(tmp_path / "w.npz", grids, starts, exits)
    refused(tmp_path / "w.npz", r"w.npz level 1: start \[12, 12\] is on a wall")
    grids = backtracker_batch(4, 28, 28, rng=4)
    exits[2] = (3, 4)
    save_levels_npz(tmp_path / "l.npz", grids, np.zeros((4, 2), np.int64), exits)
    refused(tmp_path / "l.npz", r"l.npz level 2: exit \[3, 4\] is not a cell: cells sit on even coordinates")
    grids[0, 25, 26] = grids[0, 26, 25] = 0
    save_levels_npz(tmp_path / "u.npz", grids)
    refused(tmp_path / "u.npz", r"u.npz level 0: exit \[26, 26\] cannot be reached from start \[0, 0\]")


def test_fractional_starts_in_an_npz_are_refused(tmp_path):
    grids = backtracker_batch(3, 28, 28, rng=4)
    starts = np.zeros((3, 2))
    starts[2] = (0.5, 0)
    save_levels_npz(tmp_path / "s.npz", grids, starts)
    refused(tmp_path / "s.npz", r"s.npz level 2: start \[0.5, 0\] is not a pair of integers")


def test_the_first_bad_level_is_reported_whatever_its_problem(tmp_path):
    grids = backtracker_batch(10, 28, 28, rng=6)
    grids[8, 1, 1] = 1  # lattice
    grids[5, 25, 26] = grids[5, 26, 25] = 0  # unsolvable: found by a later check, but an earlier level
    with pytest.raises(CorpusError, match=r"^m.npz level 5: exit"):
        validate_levels(grids, source="m.npz")
    with pytest.raises(CorpusError, match=r"^b.json: exit"):
        validate_levels(grids, source=[f"{i}.json" if i != 5 else "b.json" for i in range(10)])


def test_validation_agrees_with_an_independent_search():
    rng = np.random.default_rng(0)
    grids = backtracker_batch(60, 12, 12, rng=1)
    links = np.argwhere(corpus_module.wall_mask((12, 12)) == 0)
    for grid in grids:
        for r, c in links[rng.choice(len(links), 12, replace=False)]:
            if (r % 2) != (c % 2):  # links only: cells stay open
                grid[r, c] = rng.integers(0, 2)
    for grid in grids:
        expected = (10, 10) in bfs_reachable(grid, (0, 0))
        try:
            validate_levels(grid, (0, 0), (10, 10), "g")
            assert expected
        except CorpusError as error:
            assert not expected and "cannot be reached" in str(error)


def test_npz_shape_and_content_refusals(tmp_path):
    np.savez(tmp_path / "flat.npz", grids=backtracker(28, 28, 0))
    refused(tmp_path / "flat.npz",
            r"flat.npz: grids must be a 3-D array \(count, height, width\), got shape \(28, 28\)")
    np.savez(tmp_path / "nogrids.npz", mazes=backtracker_batch(2, 28, 28, 0))
    refused(tmp_path / "nogrids.npz", r"nogrids.npz: no 'grids' array \(it holds mazes\)")
    np.savez(tmp_path / "empty.npz", grids=np.zeros((0, 28, 28), np.uint8))
    refused(tmp_path / "empty.npz", r"empty.npz: holds no level")
    np.savez(tmp_path / "text.npz", grids=np.full((1, 28, 28), "1"))
    refused(tmp_path / "text.npz", r"text.npz: grids must hold the numbers 0 and 1, got dtype <U1")
    np.savez(tmp_path / "count.npz", grids=backtracker_batch(2, 28, 28, 0), count=3)
    refused(tmp_path / "count.npz", r"count.npz: its count says 3 but grids is 2x28x28")
    np.savez(tmp_path / "odd.npz", grids=np.zeros((2, 27, 28), np.uint8))
    refused(tmp_path / "odd.npz", r"odd.npz level 0: grid is 27x28; maze height must be an even integer >= 4, got 27")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    refused(tmp_path / "junk.npz", r"junk.npz: not a readable npz file")


def fake_npz(path, shape) -> None:
    """An npz whose grids header claims ``shape`` but that holds no data: reading it must stop at the header."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("grids.npy", header.getvalue())


def test_absurd_sizes_are_refused_before_allocating(tmp_path):
    fake_npz(tmp_path / "wide.npz", (1, 28, 100_000))
    refused(tmp_path / "wide.npz", rf"wide.npz: a 28x100000 level is larger than a corpus allows \(sides up to "
                                   rf"{MAX_SIDE}\)")
    fake_npz(tmp_path / "many.npz", (10**9, 28, 28))
    refused(tmp_path / "many.npz", r"many.npz: 1000000000 levels of 28x28 would take the corpus past")
    data = json.loads(make_level(0).to_json())
    (tmp_path / "big.json").write_text(json.dumps({**data, "height": 100_000}))
    refused(tmp_path / "big.json", r"big.json: a 100000x28 level is larger than a corpus allows")


def test_text_form_refusals(tmp_path):
    text = make_level(0).to_text()
    (tmp_path / "x.txt").write_text(text.replace(".", "o", 1))
    refused(tmp_path / "x.txt", r"x.txt: position \(0, \d+\) is 'o'; the text form uses '#' wall")
    lines = text.splitlines()
    (tmp_path / "r.txt").write_text("\n".join(lines[:3] + [lines[3][:-1]] + lines[4:]))
    refused(tmp_path / "r.txt", r"r.txt: line 4 has 27 characters but line 1 has 28")
    (tmp_path / "s.txt").write_text(text.replace("E", "S"))
    refused(tmp_path / "s.txt", r"s.txt: 2 start markers \('S'\) at \(0, 0\), \(26, 26\)")
    (tmp_path / "n.txt").write_bytes(text.encode() + "é".encode())
    refused(tmp_path / "n.txt", r"n.txt: not ASCII text")
    (tmp_path / "e.txt").write_text("\n\n")
    refused(tmp_path / "e.txt", r"e.txt: no rows")


def test_json_refusals(tmp_path):
    data = json.loads(make_level(0).to_json())
    cases = {
        "list.json": [1, 2],
        "format.json": {**data, "format": "other"},
        "grid.json": {**data, "grid": [["1"] * 28] * 28},
        "rows.json": {**data, "grid": data["grid"][:27]},
        "start.json": {**data, "start": [0, 0, 0]},
        "frac.json": {**data, "start": [0.5, 0]},
        "nostart.json": {k: v for k, v in data.items() if k != "start"},
    }
    messages = {
        "list.json": r"a level must be a JSON object, got list",
        "format.json": r"format/version must be 'daedalus-level' 1, got 'other' 1",
        "grid.json": r"grid values must be the numbers 0 and 1",
        "rows.json": r"grid must be 28 lists \(rows\) of 28 numbers",
        "start.json": r"start must be \[row, col\] integers, got \[0, 0, 0\]",
        "frac.json": r"start \[0.5, 0\] is not a pair of integers",
        "nostart.json": r"no 'start' field",
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        refused(tmp_path / name, rf"^{tmp_path / name}: {messages[name]}")
    (tmp_path / "broken.json").write_text("{")
    refused(tmp_path / "broken.json", r"broken.json: not valid JSON")


def test_corpus_error_is_a_usage_error():
    assert issubclass(CorpusError, UsageError) and issubclass(CorpusError, ValueError)
    validate_levels(backtracker_batch(3, 28, 28, rng=0))  # valid: returns None
    validate_levels(np.zeros((0, 28, 28), np.uint8))


def test_the_corpus_reader_imports_neither_the_runtime_nor_torch():
    code = ("import sys, daedalus.maze.corpus; "
            "bad = [m for m in ('torch', 'onnxruntime', 'daedalus.runtime') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
