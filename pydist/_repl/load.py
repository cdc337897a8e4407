"""``c(path)`` and ``nl(module)``: code that the prompt ships to other nodes.

Functions typed at the prompt travel by value already (the prompt's
namespace is ``__main__``). A function from a *file* travels by reference:
the other node must import its module, and has no such file. Two ways out,
as iex has:

- ``c("kv.py")`` loads the file here as module ``kv`` and registers it with
  ``cloudpickle.register_pickle_by_value``: its functions and classes are
  then sent whole, wherever they are spawned.
- ``nl(kv)`` sends the module's source to every connected node and
  executes it there as module ``kv``; afterwards references resolve there.
"""

from __future__ import annotations

import importlib.util
import linecache
import os
import sys
import types

__all__ = ["install_module", "make_loaders"]


def _load_file(path: str, name: str | None = None) -> types.ModuleType:
    path = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.isdir(path):
        raise IsADirectoryError(f"c: {path} is a directory; give a .py file (c('pkg/mod.py'))")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"c: no such file: {path} (the current directory is {os.getcwd()})")
    name = name or os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier():
        raise ValueError(f"c: {name!r} is not a module name; rename the file or pass name='...'")
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the file can import its neighbours
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"c: {path} is not Python source; give a .py file")
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    _run_as(name, module, lambda: loader.exec_module(module))
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


def _run_as(name: str, module, run) -> None:
    """Run a module's code as ``sys.modules[name]``; on failure put back what was there."""
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        run()
    except BaseException:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise


def install_module(name: str, source: str, filename: str) -> str:
    """Run on the receiving node by ``nl``: make ``source`` importable as ``name``."""
    shown = f"<nl {filename}>"
    linecache.cache[shown] = (len(source), None, source.splitlines(True), shown)
    module = types.ModuleType(name)
    module.__file__ = shown
    code = compile(source, shown, "exec")
    _run_as(name, module, lambda: exec(code, module.__dict__))
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return name


def make_loaders(ns: dict):
    """``c`` and ``nl`` bound to the prompt's namespace ``ns``."""

    def c(path, name: str | None = None) -> types.ModuleType:
        """Load the Python file ``path`` as a module, bind it here, and make it travel by value.

        ``c("kv.py")`` binds ``kv``; ``Node.spawn(other, kv.work)`` then runs
        on ``other`` although the file is not there. Run it again to reload.
        """
        module = _load_file(path, name)
        ns[module.__name__.rpartition(".")[2]] = module
        return module

    def nl(module, nodes=None, timeout: float = 10.0):
        """Load ``module`` (a module or its name) onto every connected node (or ``nodes``).

        Returns ``("ok", [(node, "loaded", name) or (node, "error", why), ...])``.
        """
        from .._api.node import Node
        from .._api.rpc import call

        if isinstance(module, str):
            module = sys.modules.get(module) or importlib.import_module(module)
        name = module.__name__
        filename = getattr(module, "__file__", None)
        if not filename or not os.path.isfile(filename):
            raise ValueError(f"nl: {name} has no source file to send (it is built in or was typed here)")
        with open(filename, encoding="utf-8") as f:
            source = f.read()
        results = []
        for node in Node.list() if nodes is None else list(nodes):
            try:
                call(node, install_module, name, source, os.path.basename(filename), timeout=timeout)
                results.append((node, "loaded", name))
            except Exception as err:
                results.append((node, "error", f"{type(err).__name__}: {err}"))
        return ("ok", results)

    return c, nl
