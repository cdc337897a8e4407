"""The folders are the layers: imports point down only, package by package.

    _cli ─► _repl ─► _otp ─► _api ─► _core ─► _net ─► _base
            _ipython ─┘   (beside _repl: neither imports the other)

A module may import from its own package and from any package below it;
the OTP layer and ``rpc`` are built on the public process API only (they may
not reach into ``_core`` or ``_net``); nothing imports upwards, and there are
no import cycles between modules.
"""

import ast
from pathlib import Path

import pydist

PKG = Path(pydist.__file__).parent

# Packages on one level (a tuple) sit side by side: neither may import the other.
# _ipython (IPython and Jupyter as a node) is a front end beside the prompt.
ORDER = ["_base", "_net", "_core", "_api", "_otp", ("_repl", "_ipython"), "_cli"]
RANK = {name: i for i, level in enumerate(ORDER) for name in (level if isinstance(level, tuple) else (level,))}

# Packages a package may use beyond those strictly below it being allowed:
# the OTP layer is built on the public API (and _base) only, as OTP is on
# Erlang's BIFs; rpc (in _api) likewise does not reach past the process API.
ONLY = {
    "_otp": {"_base", "_api", "_otp"},
    "_api.rpc": {"_base", "_api"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    return ".".join(rel.parts)


def _imported(path: Path) -> set[str]:
    """Dotted module names (relative to ``pydist``) that ``path`` imports."""
    mod = _module_name(path)
    package = mod.split(".")[:-1] if path.name != "__init__.py" else mod.split(".")
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            base = list(base)
            if node.module:
                base += node.module.split(".")
                out.add(".".join(base))
            else:
                for alias in node.names:
                    out.add(".".join([*base, alias.name]))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pydist."):
            out.add(node.module[len("pydist.") :])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pydist."):
                    out.add(alias.name[len("pydist.") :])
    return {m for m in out if m}


def _package(mod: str) -> str:
    return mod.split(".")[0]


def _modules():
    return [p for p in PKG.rglob("*.py") if p.parent != PKG or p.stem == "_cli"]


def test_every_module_lives_in_a_layer():
    loose = [p.name for p in PKG.glob("*.py") if p.stem not in ("__init__", "__main__", "_cli")]
    assert not loose, (
        f"modules outside the layer packages: {loose} (put each in _base/_net/_core/_api/_otp/_repl/_ipython)"
    )
    for sub in PKG.iterdir():
        if sub.is_dir() and sub.name.startswith("_") and sub.name != "__pycache__":
            assert sub.name in RANK, f"{sub.name} is not a known layer; add it to ORDER"


def test_imports_point_down():
    bad = []
    for path in _modules():
        mod = _module_name(path)
        own = _package(mod)
        for imported in _imported(path):
            target = _package(imported)
            if target not in RANK:
                continue  # the facade (pydist itself) or __version__
            if RANK[target] > RANK[own] or (RANK[target] == RANK[own] and target != own):
                bad.append(f"{mod} imports {imported}")
            allowed = ONLY.get(mod) or ONLY.get(own)
            if allowed is not None and target not in allowed:
                bad.append(f"{mod} imports {imported} (only {sorted(allowed)} allowed)")
    assert not bad, "imports that break the layering: " + ", ".join(sorted(bad))


def test_subpackage_inits_are_empty():
    # `pydist -e` pays for every import: a subpackage's __init__ must not import anything
    for init in PKG.glob("_*/__init__.py"):
        assert not init.read_text().strip(), f"{init.relative_to(PKG)} should be empty"


def test_no_import_cycles():
    graph = {}
    for path in _modules():
        mod = _module_name(path)
        graph[mod] = {m for m in _imported(path) if (PKG / (m.replace(".", "/") + ".py")).exists()}
    state: dict = {}
    cycles = []

    def visit(m, stack):
        state[m] = "open"
        for n in graph.get(m, ()):
            if state.get(n) == "open":
                cycles.append(" -> ".join([*stack[stack.index(n) :], n]) if n in stack else f"{m} -> {n}")
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_facade_only_reexports():
    tree = ast.parse((PKG / "__init__.py").read_text())
    assert {n.__class__.__name__ for n in tree.body} <= {"Expr", "ImportFrom", "Assign", "FunctionDef"}
    for name in pydist.__all__:
        assert getattr(pydist, name) is not None
