"""What the prompt (and ``-e``, and scripts) find in their namespace."""

from __future__ import annotations

import builtins

BUILTIN_NAMES = (
    "node",
    "Node",
    "spawn",
    "spawn_link",
    "spawn_monitor",
    "self",
    "send",
    "receive",
    "flush",
    "make_ref",
    "Process",
    "rpc",
    "Pid",
    "Ref",
    "Exit",
    "GenServer",
    "Supervisor",
    "Application",
    "Task",
    "Agent",
    "Global",
    "pg",
    "Registry",
    "erpc",
    "DynamicSupervisor",
    "Timer",
    "i",
    "get_state",
    "replace_state",
    "h",
    "trace",
    "observer",
)


# Built-ins bound to a stand-in that imports them on first use: `pydist -e` and
# scripts do not pay at start for behaviours they never touch.
LOADED_ON_USE = frozenset(
    {"Task", "Agent", "Global", "pg", "Registry", "erpc", "DynamicSupervisor", "Timer", "i"}
    | {"get_state", "replace_state", "trace", "observer"}
)


def _builtin(name: str):
    import pydist

    return getattr(pydist, name)


class _OnUse:
    """A built-in not imported yet: the first use imports it and puts the real object in
    the namespace in its place. Until then it acts as the object does: attributes, calls,
    ``isinstance``, a base class, ``repr``, ``dir``, and pickling (as the real one)."""

    __slots__ = ("_pydist_name", "_pydist_ns")

    def __init__(self, name: str, ns: dict):
        self._pydist_name, self._pydist_ns = name, ns

    def _pydist_resolve(self):
        obj = _builtin(self._pydist_name)
        if self._pydist_ns.get(self._pydist_name) is self:
            self._pydist_ns[self._pydist_name] = obj
        return obj

    def __getattr__(self, attr):
        return getattr(self._pydist_resolve(), attr)

    def __call__(self, *args, **kwargs):
        return self._pydist_resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self._pydist_resolve())

    def __dir__(self):
        return dir(self._pydist_resolve())

    def __eq__(self, other):
        return self._pydist_resolve() == (other._pydist_resolve() if isinstance(other, _OnUse) else other)

    def __hash__(self):
        return hash(self._pydist_resolve())

    def __instancecheck__(self, obj) -> bool:
        return isinstance(obj, self._pydist_resolve())

    def __subclasscheck__(self, cls) -> bool:
        return issubclass(cls, self._pydist_resolve())

    def __mro_entries__(self, bases):
        return (self._pydist_resolve(),)

    def __reduce__(self):
        return (_builtin, (self._pydist_name,))


def resolve(obj):
    """The real object behind a built-in not loaded yet (``obj`` itself otherwise)."""
    return obj._pydist_resolve() if type(obj) is _OnUse else obj


def prompt_namespace() -> dict:
    """A fresh ``__main__``-like namespace holding the built-ins.

    ``__name__`` is ``"__main__"`` so that functions defined in it are
    shipped by value by cloudpickle (they run on other nodes).
    """
    import pydist

    ns = {"__name__": "__main__", "__builtins__": builtins}
    for name in BUILTIN_NAMES:
        if name in LOADED_ON_USE:
            ns[name] = _OnUse(name, ns)
            continue
        try:
            ns[name] = getattr(pydist, name)
        except (AttributeError, ImportError):
            pass  # a layer not built yet must not break the prompt
    return ns


class _Quit:
    """``exit()``/``quit()`` that leave the prompt (site's version would close stdin)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Use {self.name}() or Ctrl-D to leave the prompt"

    def __call__(self, code=0):
        raise SystemExit(code)


def prompt_helpers(ns: dict) -> dict:
    """The names only a prompt has: c, nl, clear, exit, quit (v comes with the Evaluator)."""
    from .elixir import clear
    from .load import make_loaders

    c, nl = make_loaders(ns)
    return {"c": c, "nl": nl, "clear": clear, "exit": _Quit("exit"), "quit": _Quit("quit")}
