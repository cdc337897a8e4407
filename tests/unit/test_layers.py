"""The facade stays thin and imports point down the layers (STYLE.md)."""

import ast
from pathlib import Path

import pydist

PKG = Path(pydist.__file__).parent

# lower number = lower layer; a module may import only from its own layer or below
LAYER = {
    "_errors": 0, "_terms": 0, "_names": 0, "_cookie": 0, "_wire": 0,
    "_nameserver": 1, "_transport": 1,
    "_process": 2, "_runtime": 2, "_iofwd": 2, "_pickling": 2, "_dist": 2,
    "_kernel": 3, "_node": 3, "_rpc": 3,
    "_genserver": 4, "_supervisor": 4,
    "_application": 5, "_cluster": 5,
    "_namespace": 6, "_help": 6,
}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            yield node.module.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                yield alias.name


def test_imports_point_down():
    bad = []
    for path in PKG.glob("_*.py"):
        mod = path.stem
        if mod not in LAYER:
            continue  # the prompt and the CLI sit on top of everything
        for imported in _imports(path):
            if imported in LAYER and LAYER[imported] > LAYER[mod]:
                bad.append(f"{mod} imports {imported}")
    assert not bad, "imports that point up the layers: " + ", ".join(bad)


def test_facade_only_reexports():
    tree = ast.parse((PKG / "__init__.py").read_text())
    assert {n.__class__.__name__ for n in tree.body} <= {"Expr", "ImportFrom", "Assign", "FunctionDef"}
    for name in pydist.__all__:
        assert getattr(pydist, name) is not None
