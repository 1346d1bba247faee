"""Install paths: the runtime comes from exactly one extra (cpu or gpu), never both, and a missing runtime is one
clear line naming the extra."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = {"onnxruntime", "onnxruntime-gpu"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()


def _resolve(extras: dict[str, list[str]], chosen: set[str]) -> set[str]:
    """Requirement names of the base package plus ``chosen`` extras, self-references expanded."""
    names, todo, seen = set(), list(chosen), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in extras[extra]:
            match = re.match(r"daedalus\[([^\]]+)\]", requirement)
            if match:
                todo.extend(part.strip() for part in match.group(1).split(","))
            else:
                names.add(_name(requirement))
    return names


def test_no_install_path_puts_both_onnxruntimes_in_one_environment():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert not base & RUNTIMES, "the base package must leave the runtime to the cpu/gpu extras"
    assert _resolve(extras, {"cpu"}) & RUNTIMES == {"onnxruntime"}
    assert _resolve(extras, {"gpu"}) & RUNTIMES == {"onnxruntime-gpu"}
    for extra in extras:
        if extra not in ("cpu", "gpu"):
            assert len(_resolve(extras, {extra, "gpu"}) & RUNTIMES) == 1, f"[{extra},gpu] would mix the runtimes"
            assert len(_resolve(extras, {extra, "cpu"}) & RUNTIMES) == 1, f"[{extra},cpu] would mix the runtimes"


def test_the_readme_commands_take_one_runtime_extra():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[cpu,game]"' in readme
    assert (ROOT / ".ci" / "run").read_text().count('pip install -e ".[cpu,game]"') == 1


BLOCK = "import sys; sys.modules['onnxruntime'] = None; "


@pytest.mark.parametrize("code", [
    "from daedalus.runtime import MazeGenerator; MazeGenerator.load()",
    "from daedalus.cli import main; sys.exit(main(['generate', '--count', '1', '--format', 'npz', '--out', 'x.npz']))",
])
def test_a_missing_runtime_is_one_line_naming_the_extra(code, tmp_path):
    result = subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert "pip install 'daedalus[cpu]' (or 'daedalus[gpu]' for CUDA; never both)" in result.stderr
    if "cli" in code:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not (tmp_path / "x.npz").exists()
