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
)


def prompt_namespace() -> dict:
    """A fresh ``__main__``-like namespace holding the built-ins.

    ``__name__`` is ``"__main__"`` so that functions defined in it are
    shipped by value by cloudpickle (they run on other nodes).
    """
    import pydist

    ns = {"__name__": "__main__", "__builtins__": builtins}
    for name in BUILTIN_NAMES:
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
    """The names only a prompt has: c, nl, exit, quit (v comes with the Evaluator)."""
    from .load import make_loaders

    c, nl = make_loaders(ns)
    return {"c": c, "nl": nl, "exit": _Quit("exit"), "quit": _Quit("quit")}
