"""The tutorial notebooks are tests: each one is run as a plain Python script (its code cells in order) in a
fresh interpreter, and must exit cleanly. The notebooks assert their own numbers inside their code cells.

Also checked: every notebook is valid nbformat-4 JSON and is committed without stored outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
EXPECTED = {"01_quickstart.ipynb", "02_autodiff.ipynb", "03_jit.ipynb"}
TIMEOUT_S = 120  # each notebook takes a few seconds; the limit only guards against a hang


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _code_cells_as_script(nb: dict) -> str:
    chunks = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        lines = source.splitlines()
        assert not any(line.lstrip().startswith(("%", "!")) for line in lines), (
            f"code cell {i} uses IPython syntax (% or !), which plain Python cannot run"
        )
        chunks.append(f"# ---- cell {i} ----\n{source}\n")
    return "\n".join(chunks)


def test_all_tutorials_present() -> None:
    assert EXPECTED <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_nbformat4_without_outputs(path: Path) -> None:
    nb = _load(path)
    assert set(nb) == {"cells", "metadata", "nbformat", "nbformat_minor"}, sorted(nb)
    assert nb["nbformat"] == 4
    assert isinstance(nb["nbformat_minor"], int) and nb["nbformat_minor"] >= 0
    assert isinstance(nb["metadata"], dict)
    cells = nb["cells"]
    assert isinstance(cells, list) and cells
    kinds = {cell["cell_type"] for cell in cells}
    assert kinds <= {"markdown", "code", "raw"}, kinds
    assert {"markdown", "code"} <= kinds
    ids = []
    for i, cell in enumerate(cells):
        where = f"{path.name} cell {i}"
        assert isinstance(cell.get("metadata"), dict), where
        assert isinstance(cell["source"], (str, list)), where
        if isinstance(cell["source"], list):
            assert all(isinstance(line, str) for line in cell["source"]), where
        assert _source(cell).strip(), f"{where} is empty"
        if nb["nbformat_minor"] >= 5:
            assert isinstance(cell.get("id"), str) and cell["id"], f"{where} needs an id (nbformat 4.5)"
            ids.append(cell["id"])
        if cell["cell_type"] == "code":
            assert set(cell) <= {"cell_type", "execution_count", "id", "metadata", "outputs", "source"}, where
            assert cell["outputs"] == [], f"{where} has stored outputs; clear them before committing"
            assert cell["execution_count"] is None, f"{where} has an execution count; clear outputs"
        else:
            assert "outputs" not in cell and "execution_count" not in cell, where
    assert len(ids) == len(set(ids)), f"{path.name}: cell ids must be unique"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    script = tmp_path / f"{path.stem}.py"
    script.write_text(_code_cells_as_script(_load(path)), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("FUNCTORCH_LITE_DISABLE_JIT", None)  # the jit notebook needs jit on
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"{path.name} failed (exit code {result.returncode}).\n"
        f"--- stderr ---\n{result.stderr[-8000:]}\n--- stdout (tail) ---\n{result.stdout[-3000:]}"
    )
