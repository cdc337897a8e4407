"""Applications: a module that says which supervision tree and cluster to start.

An application module (the ``-S APP`` target) declares, in plain Python,
either in itself or in its submodule ``APP.application`` (Elixir's
``lib/app/application.ex``)::

    topologies = {"local": {"strategy": "Epmd",          # or Cluster.Epmd
                            "config": {"hosts": ["node0@localhost", ...]}}}

    def children():                    # started in order, after the cluster
        return [MapServer]             # child specs: dicts, classes, (cls, arg)

    supervisor = {"strategy": "one_for_one", "max_restarts": 3, "max_seconds": 5}

``topologies`` and ``children`` may be values or functions returning them;
``supervisor`` is optional; ``env = {...}`` declares the app's default
settings (``Application.get_env(app, key)``; see ``app_env``). For full control define ``start()`` returning
``("ok", pid)`` of the top supervisor instead (optional ``stop(state)``).

``Application.start`` starts ``Cluster.Supervisor`` first (its strategies
connect before returning from their init), then the children, all under a
top supervisor registered as ``"<app>.Supervisor"``. It also registers the
app's package with ``cloudpickle.register_pickle_by_value``, so functions
and classes of the app travel to nodes that do not have its code.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback

import cloudpickle

from .._api.processes import Process, receive, spawn
from .._base.errors import PydistError
from .._base.reasons import explain, explain_tree
from .._base.terms import is_down
from . import app_env
from .cluster import ClusterSupervisor
from .supervisor import Supervisor

__all__ = ["Application", "ApplicationError", "start_cli_app"]

log = logging.getLogger("pydist")

_STARTED: dict[str, dict] = {}  # app name -> {"module", "pid", "watcher"}
_DOC = "see docs/reference/application.md"


class ApplicationError(PydistError):
    """An application could not be loaded or started (the CLI prints it, exit 1)."""


ApplicationError.__module__ = "pydist"


# -- loading ------------------------------------------------------------------
def _where(err: BaseException, root: str | None) -> str:
    """``(file, line N)`` of the app's own frame nearest to the error, if any."""
    if isinstance(err, SyntaxError):
        return ""  # its message names the file and line already
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if root and os.path.abspath(f.filename).startswith(root)]
    nearest = mine or frames
    if not nearest:
        return ""
    return f" ({nearest[-1].filename}, line {nearest[-1].lineno})"


def _project_package(folder: str) -> str | None:
    """The package a project folder holds: the one named like the folder, or its only one."""
    name = os.path.basename(folder)
    if os.path.isfile(os.path.join(folder, name, "__init__.py")):
        return name
    found = [
        d
        for d in sorted(os.listdir(folder))
        if d not in ("tests", "test", "docs")
        and d.isidentifier()
        and os.path.isfile(os.path.join(folder, d, "__init__.py"))
    ]
    return found[0] if len(found) == 1 else None


def load(app: str):
    """Import APP: a module name (from the current directory or installed) or a path."""
    path = os.path.abspath(os.path.expanduser(app)).rstrip(os.sep)
    looks_like_path = os.sep in app or app.endswith(".py") or os.path.isdir(path)
    if looks_like_path:
        if os.path.isdir(path) and os.path.isfile(os.path.join(path, "__init__.py")):
            parent, modname = os.path.dirname(path), os.path.basename(path)
        elif os.path.isdir(path) and (package := _project_package(path)):
            parent, modname = path, package  # a project folder holding the package
        elif path.endswith(".py") and os.path.isfile(path):
            parent, modname = os.path.dirname(path), os.path.basename(path)[:-3]
        else:
            raise ApplicationError(
                f"-S {app}: no such module, package or file ({path} is neither a package folder nor a .py file)"
            )
        if parent not in sys.path:
            sys.path.insert(0, parent)
    else:
        modname, parent = app, os.getcwd()
        if parent not in sys.path and "" not in sys.path:
            sys.path.insert(0, parent)
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as err:
        if err.name and (modname == err.name or modname.startswith(err.name + ".")):
            raise ApplicationError(
                f"-S {app}: no module named {modname!r} in the current directory ({os.getcwd()}) "
                f"or the installed packages; run pydist from the folder that holds it, or give "
                f"its path (-S path/to/{modname.split('.')[0]})"
            ) from None
        raise ApplicationError(
            f"-S {app}: importing {modname} failed: ModuleNotFoundError: {err}{_where(err, parent)}"
        ) from None
    except Exception as err:
        raise ApplicationError(
            f"-S {app}: importing {modname} failed: {type(err).__name__}: {err}{_where(err, parent)}"
        ) from None


def _own_start(decl):
    """The app's ``start()``, unless the name is pydist's (``from pydist import *``)."""
    fn = getattr(decl, "start", None)
    return fn if callable(fn) and not getattr(fn, "__module__", "").startswith("pydist") else None


def _declares(mod) -> bool:
    return hasattr(mod, "children") or hasattr(mod, "topologies") or _own_start(mod) is not None


def _declarations(module):
    """The module that declares the application: APP itself or APP.application."""
    if _declares(module):
        return module
    if hasattr(module, "__path__"):
        try:
            sub = importlib.import_module(module.__name__ + ".application")
        except ModuleNotFoundError as err:
            if err.name != module.__name__ + ".application":
                raise
        else:
            if _declares(sub):
                return sub
    raise ApplicationError(
        f"{module.__name__} declares no application: define children() (and optionally "
        f"topologies) in it or in {module.__name__}/application.py; {_DOC}"
    )


def _value(decl, name, default):
    v = getattr(decl, name, default)
    return v() if callable(v) else v


# -- starting and stopping -------------------------------------------------------
def _watch(name: str, sup, stopping: set) -> None:
    """Log when an application's tree dies by itself (e.g. restart intensity reached)."""
    ref = Process.monitor(sup)
    msg = receive(None, lambda m: is_down(m, ref))
    if name not in stopping:
        _STARTED.pop(name, None)
        log.error("application %s exited: %s", name, explain(msg[4], "its supervisor"))


def _start(module):
    name = module.__name__
    if name in _STARTED:
        return ("error", ("already_started", name))
    try:
        decl = _declarations(module)
        app_env.declare(name, _value(decl, "env", None))
        top = module.__name__.split(".")[0]
        cloudpickle.register_pickle_by_value(sys.modules[top])
        if _own_start(decl) is not None:
            ret = _own_start(decl)()
        else:
            topologies = _value(decl, "topologies", None)
            children = list(_value(decl, "children", []) or [])
            if topologies:
                children.insert(0, ClusterSupervisor.child_spec(topologies))
            opts = dict(_value(decl, "supervisor", None) or {})
            ret = Supervisor.start(children, name=f"{name}.Supervisor", **opts)
    except PydistError:
        raise
    except Exception as err:
        raise ApplicationError(
            f"application {name} did not start: {type(err).__name__}: "
            f"{err}{_where(err, os.path.dirname(getattr(module, '__file__', '') or ''))}"
        ) from None
    if not (type(ret) is tuple and len(ret) >= 2 and ret[0] == "ok"):
        return ret if type(ret) is tuple and ret[:1] == ("error",) else ("error", ("bad_return_value", ret))
    stopping: set = set()
    _STARTED[name] = {"module": module, "decl": decl, "pid": ret[1], "stopping": stopping}
    spawn(_watch, name, ret[1], stopping)
    return "ok"


class Application:
    """Elixir's ``Application``: start and stop an application module."""

    @staticmethod
    def start(app) -> str | tuple:
        """Start ``app`` (a module, or its name/path as for ``-S``); ``"ok"``.

        ``("error", reason)`` if its tree did not start, e.g. ``("error",
        ("shutdown", ("failed_to_start_child", id, reason)))``. Raises
        ApplicationError when the module cannot be imported or declares
        nothing to start.
        """
        module = load(app) if isinstance(app, str) else app
        return _start(module)

    @staticmethod
    def stop(app) -> str | tuple:
        """Stop ``app``'s supervision tree (children in reverse order); ``"ok"``."""
        name = app if isinstance(app, str) else app.__name__
        entry = _STARTED.get(name)
        if entry is None:
            return ("error", ("not_started", name))
        entry["stopping"].add(name)
        try:
            Supervisor.stop(entry["pid"], "shutdown")
        except Exception:
            pass
        _STARTED.pop(name, None)
        stop = getattr(entry["decl"], "stop", None)
        if callable(stop):
            stop(None)
        log.info("application %s stopped", name)
        return "ok"

    # -- the application env (see app_env: declared defaults < --config file < put_env)
    get_env = staticmethod(app_env.get_env)
    fetch_env = staticmethod(app_env.fetch_env)
    put_env = staticmethod(app_env.put_env)
    delete_env = staticmethod(app_env.delete_env)
    get_all_env = staticmethod(app_env.get_all_env)

    @staticmethod
    def started_applications() -> list[str]:
        return list(_STARTED)

    @staticmethod
    def supervisor(app) -> object:
        """The pid of ``app``'s top supervisor (None if not started)."""
        entry = _STARTED.get(app if isinstance(app, str) else app.__name__)
        return entry["pid"] if entry else None


def start_cli_app(app: str, ns: dict) -> None:
    """``pydist -S APP``: import, start, bind the name; ApplicationError on failure."""
    module = load(app)
    try:
        ret = _start(module)
    except ApplicationError as err:
        raise ApplicationError(f"-S {app}: {err}") from None
    if ret != "ok":
        raise ApplicationError(f"-S {app}: the application did not start: {explain_tree(ret[1])}")
    top = module.__name__.split(".")[0]
    ns[top] = sys.modules[top]


Application.__module__ = "pydist"
