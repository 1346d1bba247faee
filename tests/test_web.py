"""The browser game in a real browser (Debian's chromium + chromium-driver, selenium): the page loads the shipped
decoder with onnxruntime-web, its JavaScript level code and raster walk give exactly Python's levels, the chase runs
600 frames with the autopilot without a console error, and what it draws is not blank."""

import io
import subprocess
import sys

import numpy as np
import pytest

from daedalus.runtime import MazeGenerator
from web_browser import chromium, chromium_paths, served, severe, wait_for

binary, driver_path = chromium_paths()
pytestmark = pytest.mark.skipif(binary is None or driver_path is None,
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver)")
CODES = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 1000, 4242, 65535, 123456789, 2**31 - 1, 2**32 + 7, 2**53 - 1,
         2**53]


@pytest.fixture(scope="module")
def page():
    with served() as url, chromium() as driver:
        yield url, driver


def open_page(driver, url: str, query: str, state: str = "exported") -> None:
    driver.get(url + query)
    wait_for(driver, f"return ['{state}', 'error'].includes(document.body.dataset.state)")
    assert driver.execute_script("return window.daedalus.error") is None


def both_modes(driver, url: str, codes) -> dict:
    """The page's level texts of ``codes``: {str(code): {"perfect": text, "braid": text}}."""
    open_page(driver, url, "?code=0&export=1")
    texts = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const out = {};
          for (const code of arguments[0]) out[code] = await window.daedalus.exportBoth(code);
          return out;
        })().then(done, (e) => done({error: String(e)}));""", [str(code) for code in codes])
    assert "error" not in texts, texts
    return texts


def test_the_page_loads_the_decoder_and_shows_a_level(page):
    url, driver = page
    open_page(driver, url, "?code=11&mode=braid", "playing")
    assert driver.title.startswith("Daedalus")
    assert driver.find_element("id", "code").text == "11"
    assert driver.execute_script("return window.daedalus.ready") is True
    assert severe(driver) == []


def test_the_export_url_writes_what_daedalus_generate_writes(page, tmp_path):
    url, driver = page
    for code, mode in ((7, "perfect"), (2**53, "braid")):
        out = tmp_path / f"{mode}-{code}"
        subprocess.run([sys.executable, "-m", "daedalus", "generate", "--count", "1", "--seed", str(code), "--mode",
                        mode, "--format", "txt", "--out", str(out)], check=True, capture_output=True)
        (written,) = out.glob("*.txt")
        open_page(driver, url, f"?code={code}&mode={mode}&export=1")
        shown = driver.execute_script("return document.getElementById('level-text').textContent")
        assert shown == written.read_text(), f"level code {code} ({mode})"


def test_twenty_codes_give_python_s_levels_in_both_modes(page):
    url, driver = page
    texts = both_modes(driver, url, CODES)
    generator = MazeGenerator.load()
    for mode in ("perfect", "braid"):
        python = [generator.generate(1, seed=code, mode=mode)[0].to_text() for code in CODES]
        differ = [code for code, text in zip(CODES, python) if texts[str(code)][mode] != text]
        assert differ == [], f"{mode}: the browser's levels differ from Python's for codes {differ}"
    assert len({texts[str(code)]["perfect"] for code in CODES}) == len(CODES), "every code its own level"


def test_the_javascript_level_code_matches_the_documented_vectors(page):
    url, driver = page
    open_page(driver, url, "?code=0&export=1")
    bits = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('./levelcode.js').then((L) => done([0n, 1n, 12345n, (1n << 64n) - 1n].map((c) =>
          Array.from(new Uint32Array(L.latents(c, 4).buffer), (b) => b.toString(16)))));""")
    from daedalus.runtime import levelcode

    for code, got in zip((0, 1, 12345, 2**64 - 1), bits):
        want = [format(int(b), "x") for b in levelcode.latents(code, 1, 4)[0].view(np.uint32)]
        assert got == want, f"level code {code}"


def test_the_autopilot_plays_600_frames_without_a_console_error(page):
    url, driver = page
    severe(driver)
    open_page(driver, url, "?code=3&mode=braid&autopilot=1", "playing")
    frames = wait_for(driver, "const s = window.daedalus; return s.frames >= 600 && s.frames", timeout=120)
    stats = driver.execute_script("const s = window.daedalus; return {p99: s.frameP99(), ticks: s.world.ticks, "
                                  "levels: s.levelsPlayed, error: s.error, first: s.firstLevelMs}")
    assert frames >= 600 and stats["error"] is None
    assert stats["ticks"] > 0 or stats["levels"] > 1, "the world must advance"
    assert 0 <= stats["p99"] < 100 and stats["first"] > 0
    assert severe(driver) == []


def test_a_screenshot_is_not_blank(page):
    from PIL import Image

    url, driver = page
    open_page(driver, url, "?code=9&mode=braid", "playing")
    wait_for(driver, "return window.daedalus.frames >= 5")
    canvas = driver.find_element("id", "board")
    image = np.asarray(Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("RGB"))
    colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    assert image.shape[0] >= 500 and image.shape[1] >= 500
    # Wall and floor both cover a large share of the maze; start, exit, player and minotaur are drawn too.
    share = dict(zip(map(tuple, colours), counts / counts.sum()))
    assert share.get((24, 26, 38), 0) > 0.2 and share.get((232, 226, 208), 0) > 0.3, sorted(share.items())[:8]
    assert share.get((214, 55, 46), 0) > 0 and share.get((46, 160, 67), 0) > 0


def test_arrows_and_wasd_move_the_player(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    url, driver = page
    for code, keys in ((11, {"right": Keys.ARROW_RIGHT, "down": Keys.ARROW_DOWN}), (12, {"right": "d", "down": "s"})):
        open_page(driver, url, f"?code={code}&mode=braid", "playing")
        grid = driver.execute_script("return Array.from(window.daedalus.world.board.grid)")
        width = driver.execute_script("return window.daedalus.world.board.width")
        direction = "right" if grid[1] else "down"  # the start (0, 0) has one of the two open
        assert grid[1] or grid[width]
        body = driver.find_element("tag name", "body")
        ActionChains(driver).key_down(keys[direction], body).pause(0.6).key_up(keys[direction], body).perform()
        pos = driver.execute_script("const p = window.daedalus.world.player; return p.target || p.pos")
        assert pos != [0, 0], f"code {code}: {direction} did not move the player"
        assert (pos[0] == 0) == (direction == "right"), f"code {code}: moved {pos}, wanted {direction}"


def test_the_web_command_refuses_a_bad_port_and_a_missing_page(tmp_path):
    from daedalus.errors import UsageError
    from daedalus.web import make_server

    with pytest.raises(UsageError, match="port must be"):
        make_server(port=70000)
    with pytest.raises(UsageError, match="no web page"):
        make_server(port=0, folder=tmp_path)
    (tmp_path / "index.html").write_text("<!doctype html>")
    with pytest.raises(UsageError, match="npm ci"):
        make_server(port=0, folder=tmp_path)


def test_the_web_command_refuses_a_file_that_is_not_a_decoder_before_serving(tmp_path):
    import onnx

    from daedalus.errors import ModelError
    from daedalus.runtime.session import DEFAULT_MODEL
    from daedalus.web import make_server

    levels = tmp_path / "levels.npz"
    np.savez(levels, grids=np.zeros((2, 4, 4), dtype=np.uint8))
    with pytest.raises(ModelError, match="levels.npz.*not a valid ONNX model"):
        make_server(port=0, model=levels)
    plain = onnx.load(DEFAULT_MODEL)
    del plain.metadata_props[:]  # a real ONNX graph, but no Daedalus contract in it
    onnx.save(plain, tmp_path / "plain.onnx")
    with pytest.raises(ModelError, match="plain.onnx"):
        make_server(port=0, model=tmp_path / "plain.onnx")
    make_server(port=0).server_close()  # the shipped decoder is served


@pytest.fixture(scope="module")
def carve_model(tmp_path_factory):
    """A carve decoder (what the one configuration trains on a depth-first corpus), 12 x 16, one epoch."""
    from daedalus.cli import main

    tmp = tmp_path_factory.mktemp("carve")
    assert main(["train", "--model", "carve", "--size", "12x16", "--count", "64", "--latent", "4", "--hidden", "32",
                 "--holdout", "8", "--epochs", "2", "--cycles", "1", "--eval-samples", "0", "--no-figures",
                 "--quiet", "--out", str(tmp / "run")]) == 0
    assert main(["export", str(tmp / "run"), "--out", str(tmp / "carve.onnx"), "--quality-samples", "8"]) == 0
    return tmp / "carve.onnx"


def test_a_carve_decoder_gives_python_s_levels_in_both_modes(carve_model):
    generator = MazeGenerator.load(carve_model, device="cpu")
    with served(carve_model) as url, chromium() as driver:
        texts = both_modes(driver, url, CODES)
        open_page(driver, url, "?code=3&mode=braid&autopilot=1", "playing")
        assert severe(driver) == []
    loops = 0
    for mode in ("perfect", "braid"):
        levels = [generator.generate(1, seed=code, mode=mode)[0] for code in CODES]
        differ = [code for code, level in zip(CODES, levels) if texts[str(code)][mode] != level.to_text()]
        assert differ == [], f"{mode}: the browser's carve levels differ from Python's for codes {differ}"
        if mode == "braid":
            loops = sum(text_a != text_b for text_a, text_b in
                        ((texts[str(c)]["perfect"], texts[str(c)]["braid"]) for c in CODES))
    assert len({texts[str(code)]["perfect"] for code in CODES}) == len(CODES), "every code its own level"
    assert loops > 0, "braid mode opened no link of p_open >= 0.75 in twenty levels: the braid path is untested"


@pytest.fixture(scope="module")
def closed_cells_model(tmp_path_factory):
    """A raster decoder of levels with wall cells (closed_cells "learned"), 12 x 12, three epochs."""
    from daedalus.cli import main
    from test_closed_cells import TINY, sparse

    tmp = tmp_path_factory.mktemp("closed")
    np.savez(tmp / "sparse.npz", grids=sparse(200))
    assert main(["train", "--data", str(tmp / "sparse.npz"), *TINY, "--out", str(tmp / "run")]) == 0
    assert main(["export", str(tmp / "run"), "--out", str(tmp / "closed.onnx"), "--quality-samples", "8"]) == 0
    return tmp / "closed.onnx"


def assert_the_browser_draws_python_s_levels(model) -> dict:
    """The page's levels of every code in CODES, both modes, equal to Python's; returns Python's {mode: levels}."""
    generator = MazeGenerator.load(model, device="cpu")
    with served(model) as url, chromium() as driver:
        texts = both_modes(driver, url, CODES)
    python = {}
    for mode in ("perfect", "braid"):
        levels = python[mode] = [generator.generate(1, seed=code, mode=mode)[0] for code in CODES]
        differ = [code for code, level in zip(CODES, levels) if texts[str(code)][mode] != level.to_text()]
        assert differ == [], f"{mode}: the browser's levels differ from Python's for codes {differ}"
    return python


def test_a_decoder_that_closes_cells_gives_python_s_levels_in_both_modes(closed_cells_model):
    assert MazeGenerator.load(closed_cells_model, device="cpu").metadata["closed_cells"] == "learned"
    for mode, levels in assert_the_browser_draws_python_s_levels(closed_cells_model).items():
        assert any((level.grid[::2, ::2] == 0).any() for level in levels), f"{mode}: no level closed a cell"


@pytest.fixture(scope="module")
def window_model(tmp_path_factory):
    """A raster decoder with a window network (metadata window_hidden), 12 x 12, two epochs."""
    from test_window import train_window_model

    return train_window_model(tmp_path_factory.mktemp("window"), "prim", "24,8")


def test_a_decoder_with_a_window_network_gives_python_s_levels_in_both_modes(window_model):
    assert MazeGenerator.load(window_model, device="cpu").metadata["window_hidden"] == "24,8"
    assert_the_browser_draws_python_s_levels(window_model)


def test_a_decoder_whose_walk_has_a_temperature_gives_python_s_levels_in_both_modes(window_model, tmp_path):
    """The prior's walk_temperature (docs/formats.md "Raster decoders", step 0): the page scales the same numbers
    Python does, the window network's output layer included, and the levels are not those at T = 1."""
    import onnx

    proto = onnx.load(str(window_model))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "walk_temperature", "0.6"
    next(e for e in proto.metadata_props if e.key == "daedalus_format").value = "4"
    onnx.save(proto, str(tmp_path / "tempered.onnx"))
    tempered = assert_the_browser_draws_python_s_levels(tmp_path / "tempered.onnx")
    plain = MazeGenerator.load(window_model, device="cpu")
    for mode, levels in tempered.items():
        moved = sum(level.to_text() != plain.generate(1, seed=code, mode=mode)[0].to_text()
                    for code, level in zip(CODES, levels))
        assert moved >= len(CODES) // 2, f"{mode}: T 0.6 changed only {moved} of {len(CODES)} levels"


def test_the_browser_s_window_network_walks_random_scores_as_numpy_does(page):
    """web/walk.js against the numpy reference on random scores and a strong random two-layer window network:
    every level equal (the page's decoder levels above are a weaker check, its window being barely trained)."""
    from daedalus.maze.raster_walk import CONTEXTS, Window, raster_walk, window_weight_count

    url, driver = page
    open_page(driver, url, "?code=0&export=1")
    rng = np.random.default_rng(17)
    count, rows, cols, hidden = 24, 6, 7, (12, 5)
    cell = rng.normal(size=(count, rows, cols, 4)).astype(np.float32)
    mix = rng.normal(size=(count, 1)).astype(np.float32)
    basis = (0.3 * rng.normal(size=(CONTEXTS, 1, 4))).astype(np.float32)
    uniforms = rng.random((count, rows * cols))
    bias = (2 * rng.normal(size=(count, hidden[0]))).astype(np.float32)
    weights = (2 * rng.normal(size=window_weight_count(hidden))).astype(np.float32)
    expected = raster_walk(cell, mix, basis, uniforms, loops=True, window=Window(bias, weights, hidden),
                           backend="numpy")
    assert not np.array_equal(expected, raster_walk(cell, mix, basis, uniforms, loops=True))
    grids = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const [cell, mix, basis, uniforms, bias, weights, count, rows, cols, hidden] = arguments;
        import(new URL("walk.js", document.baseURI).href).then(({ rasterWalk }) => {
          const basisArray = Float32Array.from(basis), weightArray = Float32Array.from(weights);
          const out = [];
          for (let n = 0; n < count; n++) {
            const cells = rows * cols;
            out.push(Array.from(rasterWalk({
              cellLogits: Float32Array.from(cell.slice(n * cells * 4, (n + 1) * cells * 4)),
              contextMix: Float32Array.from(mix.slice(n, n + 1)), contextBasis: basisArray,
              uniforms: Float64Array.from(uniforms.slice(n * cells, (n + 1) * cells)),
              windowBias: Float32Array.from(bias.slice(n * hidden[0], (n + 1) * hidden[0])),
              windowWeights: weightArray,
            }, rows, cols, true, 0, false, hidden)));
          }
          done(out);
        }, (e) => done({error: String(e)}));""", cell.ravel().tolist(), mix.ravel().tolist(), basis.ravel().tolist(),
        uniforms.ravel().tolist(), bias.ravel().tolist(), weights.tolist(), count, rows, cols, list(hidden))
    assert not isinstance(grids, dict), grids
    np.testing.assert_array_equal(np.array(grids, dtype=np.uint8).reshape(expected.shape), expected)


def test_the_browser_s_window_scores_equal_numpy_s_to_the_bit(page):
    """The window network's float32 scores themselves (a level changes only when a score crosses a draw, so equal
    levels say little about the last bits): web/walk.js's windowTables and windowScores against the numpy
    reference on 300 random bit patterns, bit for bit."""
    from daedalus.maze.raster_walk import window_layers, window_scores, window_weight_count

    url, driver = page
    open_page(driver, url, "?code=0&export=1")
    rng = np.random.default_rng(23)
    hidden = (16, 9, 3)
    weights = rng.normal(size=window_weight_count(hidden)).astype(np.float32)
    bias = rng.normal(size=(300, hidden[0])).astype(np.float32)
    bits = rng.random((300, 65)) < rng.random((300, 1))
    expected = window_scores(bits, bias, window_layers(weights, hidden))
    got = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const [bits, bias, weights, hidden] = arguments;
        import(new URL("walk.js", document.baseURI).href).then(({ windowScores, windowTables }) => {
          const w = Float32Array.from(weights), tables = windowTables(w, hidden[0]);
          done(bits.map((row, n) => Array.from(windowScores(Uint8Array.from(row),
            Float32Array.from(bias.slice(n * hidden[0], (n + 1) * hidden[0])), w, tables, hidden))));
        }, (e) => done({error: String(e)}));""", bits.astype(int).tolist(), bias.ravel().tolist(), weights.tolist(),
        list(hidden))
    assert not isinstance(got, dict), got
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), expected)


def test_the_browser_turns_a_walked_level_back_as_python_does(page):
    """web/walk.js's turnBack against daedalus.maze.symmetry: every walk order's inverse on random 10 x 14 and
    12 x 12 grids (quarter turns and transposes on the square one only), cell for cell."""
    from daedalus.maze.symmetry import INVERSES, TRANSFORMS, square_only, transform

    url, driver = page
    open_page(driver, url, "?code=0&export=1")
    rng = np.random.default_rng(5)
    for height, width in ((10, 14), (12, 12)):
        grid = (rng.random((height, width)) < 0.5).astype(np.uint8)
        grid[-1, :] = grid[:, -1] = 0
        for order in TRANSFORMS:
            if square_only(order) and height != width:
                continue
            got = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                import('./walk.js').then((W) => done(Array.from(
                  W.turnBack(Uint8Array.from(arguments[0]), arguments[1], arguments[2], arguments[3]))));""",
                grid.ravel().tolist(), height, width, order)
            want = transform(grid[None], INVERSES[order])[0]
            assert np.array_equal(np.array(got).reshape(height, width), want), f"{order} at {height}x{width}"


@pytest.fixture(scope="module")
def turned_model(tmp_path_factory):
    """A raster decoder that walks column by column from the right (walk_order rot90), 12 x 12, two epochs."""
    from daedalus.cli import main
    from test_window import TINY

    tmp = tmp_path_factory.mktemp("turned")
    assert main(["dataset", "--generator", "sidewinder", "--count", "120", "--size", "12", "--seed", "3",
                 "--out", str(tmp / "sidewinder.npz")]) == 0
    assert main(["train", "--data", str(tmp / "sidewinder.npz"), *TINY, "--model", "raster", "--walk-order", "rot90",
                 "--out", str(tmp / "run")]) == 0
    assert main(["export", str(tmp / "run"), "--out", str(tmp / "turned.onnx"), "--quality-samples", "8"]) == 0
    return tmp / "turned.onnx"


def test_a_decoder_with_a_walk_order_gives_python_s_levels_in_both_modes(turned_model):
    assert MazeGenerator.load(turned_model, device="cpu").metadata["walk_order"] == "rot90"
    assert_the_browser_draws_python_s_levels(turned_model)


@pytest.fixture(scope="module")
def shipped_critic(tmp_path_factory):
    """A critic for the shipped decoder against a small Prim corpus (a few seconds of training)."""
    from daedalus.cli import main
    from daedalus.runtime import DEFAULT_MODEL
    from daedalus.trainer.critic import build_critic

    tmp = tmp_path_factory.mktemp("critic")
    assert main(["dataset", "--generator", "prim", "--count", "60", "--seed", "5", "--out", str(tmp / "p.npz")]) == 0
    build_critic(DEFAULT_MODEL, tmp / "p.npz", tmp / "default.critic.onnx", steps=40, mode="perfect", threads=2)
    return tmp / "default.critic.onnx"


def test_resampling_by_a_critic_gives_python_s_levels(shipped_critic):
    from daedalus.runtime import DEFAULT_MODEL

    resampler = MazeGenerator.load(DEFAULT_MODEL, device="cpu", critic=shipped_critic)
    plain = MazeGenerator.load()
    codes = CODES[:12]
    with served(critic=shipped_critic) as url, chromium() as driver:
        open_page(driver, url, "?code=0&export=1&resample=4")
        texts = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            (async () => {
              const out = {};
              for (const code of arguments[0]) out[code] = await window.daedalus.exportText(code, "perfect");
              return out;
            })().then(done, (e) => done({error: String(e)}));""", [str(code) for code in codes])
        assert "error" not in texts, texts
        for query, message in (("?code=0&export=1&resample=4&mode=braid", 'trained on perfect levels, got mode'),
                               ("?code=0&export=1&resample=0", "resample must be an integer from 1 to 64")):
            driver.get(url + query)
            wait_for(driver, "return document.body.dataset.state === 'error'")
            assert message in driver.execute_script("return window.daedalus.error")
        # Playing resampled levels, the form's switch to the other mode draws that mode without the critic.
        severe(driver)  # the two refusals above logged their errors; read them out of the log
        open_page(driver, url, "?code=3&resample=4", "playing")
        driver.execute_script("document.getElementById('mode-input').value = 'braid';"
                              "document.getElementById('code-form').requestSubmit();")
        wait_for(driver, "return document.getElementById('status').textContent.includes('not resampled')")
        assert driver.execute_script("return window.daedalus.error") is None
        assert driver.execute_script("return window.daedalus.mode") == "braid"
        assert severe(driver) == []
    python = [resampler.generate(1, seed=code, mode="perfect", resample=4)[0].to_text() for code in codes]
    differ = [code for code, text in zip(codes, python) if texts[str(code)] != text]
    assert differ == [], f"the browser's resampled levels differ from Python's for codes {differ}"
    unchanged = sum(text == plain.generate(1, seed=code, mode="perfect")[0].to_text()
                    for code, text in zip(codes, python))
    assert unchanged < len(codes), "every kept level was the plain one: the choice is untested"
