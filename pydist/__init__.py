"""pydist: distributed Python, the Erlang way.

The public API, re-exported from the private layers (``_api`` for processes, ``Node``
and ``rpc``; ``_otp`` for the behaviours, loaded on first use). Everything a prompt has in its namespace can also be imported
from here: ``from pydist import node, Node, spawn, send, receive``.
"""

from ._api.node import Node, start, stop
from ._api.processes import Process, flush, make_ref, node, receive, self, send, spawn, spawn_link, spawn_monitor
from ._api.rpc import rpc
from ._base.errors import (
    AuthenticationError,
    CookieError,
    Exit,
    NameInUse,
    NameServerUnreachable,
    ProtocolError,
    PydistError,
    RemoteError,
    SystemLimit,
    UsageError,
)
from ._base.terms import Pid, Ref

# Public classes report (and pickle under) ``pydist``; the others claim it where
# they are defined. _api/processes.py is being rewritten with the process core.
Process.__module__ = "pydist"

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "CookieError",
    "Exit",
    "NameInUse",
    "NameServerUnreachable",
    "Node",
    "Pid",
    "Process",
    "ProtocolError",
    "PydistError",
    "Ref",
    "RemoteError",
    "SystemLimit",
    "UsageError",
    "__version__",
    "flush",
    "make_ref",
    "node",
    "receive",
    "rpc",
    "self",
    "send",
    "spawn",
    "spawn_link",
    "spawn_monitor",
    "start",
    "stop",
]


_LAZY = {
    "GenServer": "_otp.genserver",
    "Supervisor": "_otp.supervisor",
    "Application": "_otp.application",
    "ApplicationError": "_otp.application",
    "Cluster": "_otp.cluster",
    "Task": "_otp.task",
    "Agent": "_otp.agent",
    "Global": "_otp.global_",
    "pg": "_otp.pg",
    "Registry": "_otp.registry",
    "erpc": "_api.erpc",
    "DynamicSupervisor": "_otp.dynamic_supervisor",
    "Timer": "_otp.timer",
    "i": "_api.info",
    "get_state": "_otp.server_state",
    "replace_state": "_otp.server_state",
    "h": "_repl.help",
    "trace": "_api.trace",
    "observer": "_repl.observer",
}


def load_ipython_extension(ipython):
    """``%load_ext pydist`` in IPython or Jupyter: the kernel becomes a node (docs/notebooks.md)."""
    from ._ipython.extension import load_ipython_extension as load
    from ._repl.namespace import BUILTIN_NAMES  # the facade hands the prompt's built-ins over

    load(ipython, BUILTIN_NAMES)


def unload_ipython_extension(ipython):
    from ._ipython.extension import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name):
    # The OTP layer and the help loads on first use, so `pydist -e` starts fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'pydist' has no attribute {name!r}")
