"""The package's imports follow the layers of docs/design.md, with no cycle between modules.

Every import is read from the source (at module level, inside functions and under
``TYPE_CHECKING`` alike), so an import hidden in a function cannot close a cycle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dpquilt"
DESIGN = ROOT / "docs" / "design.md"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``from .x import f``: the module is ``.x``
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def room(name: str) -> str:
    """The subpackage a module belongs to; ``top`` for the package's own modules."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "top"


def layers() -> dict[str, int]:
    """Each room's layer (0 lowest), read from the design page's layer block."""
    text = DESIGN.read_text()
    block = re.search(r"<!-- layers: .*?-->\s*```text\n(.*?)```", text, re.S)
    assert block, f"{DESIGN} has no layer block"
    lines = [line.split() for line in block.group(1).strip().splitlines()]
    return {r: len(lines) - 1 - i for i, line in enumerate(lines) for r in line}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_every_room_is_in_the_design_page():
    rooms = {room(name) for name in modules()}
    assert rooms == set(layers()), f"rooms in the code {sorted(rooms)} vs the design page {sorted(layers())}"


def test_imports_only_go_down_the_layers():
    level = layers()
    wrong = [
        f"{a} imports {b}"
        for a, targets in graph().items()
        for b in sorted(targets)
        if room(a) != room(b) and level[room(b)] >= level[room(a)]
    ]
    assert not wrong, "imports against docs/design.md's layers:\n" + "\n".join(wrong)


def test_no_module_imports_itself_through_others():
    """Tarjan's strongly connected components over modules (package ``__init__`` files,
    which only gather names, left out)."""
    plain = {name for name, path in modules().items() if path.name != "__init__.py"}
    g = {a: bs & plain for a, bs in graph().items() if a in plain}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("source, expected", [
    ("from ..marginals.tables import marginalise\n", {"dpquilt.marginals.tables"}),
    ("def f():\n    from ..schema import Schema\n", {"dpquilt.schema"}),
    ("from . import plots\n", {"dpquilt.evaluation", "dpquilt.evaluation.plots"}),
])
def test_the_reader_sees_relative_and_hidden_imports(tmp_path, source, expected):
    path = tmp_path / "compare.py"
    path.write_text(source)
    known = {"dpquilt.marginals.tables": path, "dpquilt.schema": path, "dpquilt.evaluation.plots": path, "dpquilt.evaluation": path}
    assert imports_of("dpquilt.evaluation.compare", path, known) == expected
