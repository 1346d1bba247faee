"""Figures cannot drift from the code: scripts/figures.sh rebuilds every figure the README and docs/ show, its fast
part draws exactly the committed files, and each caption says what its picture shows."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCRIPT = ROOT / "scripts" / "figures.sh"
IMAGE = re.compile(r"!\[([^\]]*)\]\(((?:docs/)?figures/([\w.-]+))\)")


def shown() -> dict[str, list[tuple[Path, str]]]:
    """Every figure the README and docs show: name → [(document, alt text)]."""
    found: dict[str, list[tuple[Path, str]]] = {}
    for doc in DOCS:
        for alt, _, name in IMAGE.findall(doc.read_text(encoding="utf-8")):
            found.setdefault(name, []).append((doc, alt))
    return found


def test_every_figure_shown_is_rebuilt_by_figures_sh_and_exists():
    script = SCRIPT.read_text()
    figures = shown()
    assert len(figures) >= 10
    missing = [name for name in figures if f'"$OUT/{name}"' not in script and name not in script]
    assert not missing, f"scripts/figures.sh does not rebuild {missing}"
    assert all((ROOT / "docs" / "figures" / name).is_file() for name in figures)


def test_every_figure_has_a_caption_that_says_what_it_shows():
    for name, places in shown().items():
        for doc, alt in places:
            assert len(alt.split()) >= 4, f"{doc.name}: {name} needs alt text saying what it shows, got {alt!r}"


def test_game_captions_name_the_levels_the_script_draws():
    source = (ROOT / "scripts" / "game_figures.py").read_text()
    shot = int(re.search(r'"--shot-level", type=int, default=(\d+)', source).group(1))
    gif = int(re.search(r'"--gif-level", type=int, default=(\d+)', source).group(1))
    for doc, alt in shown()["game.png"]:
        assert f"level {shot}" in alt, f"{doc.name}: game.png caption {alt!r} does not name level {shot}"
    for doc, alt in shown()["game.gif"]:
        assert f"level {gif}" in alt, f"{doc.name}: game.gif caption {alt!r} does not name level {gif}"
    assert "--seed 1" in SCRIPT.read_text() and "--seed 1" in (ROOT / "docs" / "game.md").read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_the_fast_figures_are_exactly_what_the_script_draws(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), "--fast", str(tmp_path)], capture_output=True, text=True,
                          env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr
    drawn = sorted(p.name for p in tmp_path.iterdir())
    assert drawn == ["backtracker-sheet.png", "levels-braid.png", "levels-perfect.png"]
    stale = [name for name in drawn if (tmp_path / name).read_bytes() != (ROOT / "docs/figures" / name).read_bytes()]
    assert not stale, f"docs/figures/{stale} no longer match the code: run scripts/figures.sh --fast and commit"
