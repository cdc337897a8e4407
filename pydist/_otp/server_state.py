"""``get_state`` / ``replace_state``: look into a running GenServer (Erlang's ``:sys``).

For debugging at the prompt, as ``:sys.get_state/1`` is: the request goes
through the server's mailbox like a call, and the server's loop (not its
callbacks) answers it between two messages, so the state you get is one
the server really had. Named apart from Python's ``sys``.
"""

from __future__ import annotations

from .._base.errors import Exit
from .genserver import GenServer
from .server_loop import SysRequest

__all__ = ["get_state", "replace_state"]


def get_state(server, timeout: float | None = 5.0):
    """The state of the GenServer ``server`` (a pid, a name, ``(name, node)``, a via-name)."""
    return GenServer.call(server, SysRequest("get_state"), timeout)[1]


def replace_state(server, fn, timeout: float | None = 5.0):
    """Set the server's state to ``fn(state)`` (run in the server); the new state.

    If ``fn`` raises, the state stays as it was and ``Exit(("callback_failed",
    reason))`` is raised here.
    """
    if not callable(fn):
        raise TypeError(f"replace_state: expected a function of the state, got {fn!r}")
    ok, value = GenServer.call(server, SysRequest("replace_state", fn), timeout)
    if ok == "error":
        raise Exit(("callback_failed", value), f"replace_state: the function raised {value[1]}; the state is unchanged")
    return value
