"""``erpc``: Erlang's ``erpc`` -- calls on one node or many, with erpc's error shapes.

``erpc.call`` is ``rpc.call`` whose failures say ``("erpc", "timeout")`` or
``("erpc", "noconnection")``; ``erpc.multicall`` starts the function on
every node at once (``rpc.call_many``) and returns one result per node, in
node order: ``("ok", value)``, ``("error", exception)`` when the function
raised (the remote exception rebuilt here), ``("exit", reason)`` when it
exited, or ``("error", ("erpc", "noconnection" | "timeout"))``.
"""

from __future__ import annotations

from .._base import names as _names
from .._base.errors import Exit
from .._base.reasons import no_connection
from . import rpc as _rpc
from .processes import node as own_node
from .processes import spawn_on

__all__ = ["erpc"]


def call(node: str, fn, *args, timeout: float = 5.0):
    """``fn(*args)`` on ``node``; raises what ``fn`` raised, or ``Exit(("erpc", "timeout"))`` /
    ``Exit(("erpc", "noconnection"))``."""
    node = _names.qualify(node, own_node())
    ((kind, value),) = _rpc.call_many([node], fn, args, timeout, "erpc.call")
    if kind == "ok":
        return value
    if kind == "raised":
        raise _rpc.remote_exception(node, value)
    if kind == "timeout":
        raise Exit(("erpc", "timeout"), f"erpc.call to {node} timed out after {timeout} s")
    if value == "noconnection":
        raise Exit(("erpc", "noconnection"), f"erpc.call: {no_connection(node)}")
    raise Exit(value, f"erpc.call on {node}: the process exited with {value!r}")


def multicall(nodes, fn, *args, timeout: float = 5.0) -> list:
    """``fn(*args)`` on each of ``nodes`` at once; one result per node, in their order."""
    nodes = [_names.qualify(n, own_node()) for n in nodes]
    out = []
    for n, (kind, value) in zip(nodes, _rpc.call_many(nodes, fn, args, timeout, "erpc.multicall"), strict=True):
        if kind == "ok":
            out.append(("ok", value))
        elif kind == "raised":
            exc = _rpc.remote_exception(n, value)
            out.append(("exit", exc.reason) if isinstance(exc, Exit) else ("error", exc))
        elif kind == "timeout":
            out.append(("error", ("erpc", "timeout")))
        elif value == "noconnection":
            out.append(("error", ("erpc", "noconnection")))
        else:
            out.append(("exit", value))
    return out


def cast(node: str, fn, *args) -> str:
    """Run ``fn(*args)`` on ``node``; do not wait. ``"ok"``."""
    spawn_on(_names.qualify(node, own_node()), fn, args, what="erpc.cast")
    return "ok"


def multicast(nodes, fn, *args) -> str:
    """``cast`` to each of ``nodes``; ``"ok"``."""
    for n in nodes:
        cast(n, fn, *args)
    return "ok"


class erpc:
    """Erlang's ``erpc`` module."""

    call = staticmethod(call)
    multicall = staticmethod(multicall)
    cast = staticmethod(cast)
    multicast = staticmethod(multicast)


erpc.__module__ = "pydist"
