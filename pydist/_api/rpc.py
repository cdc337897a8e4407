"""``rpc.call``: run a function on a node and get its value back.

Built on ``spawn_monitor`` + ``receive``: the result comes back as a
message tagged with a fresh ref, and the monitor turns a dead node into an
immediate ``Exit`` instead of a wait for the timeout. A remote exception is
raised here as itself, with the remote traceback attached as its cause.
"""

from __future__ import annotations

import time
import traceback

import cloudpickle

from .._base import names as _names
from .._base.errors import Exit, RemoteError
from .._base.reasons import no_connection
from .._base.terms import is_down
from .node import Node
from .processes import Process, ProcessExitSignal, drop_reply, make_ref, receive, send, spawn_on
from .processes import node as own_node
from .processes import self as self_pid


def _run_and_reply(fn, args, reply_to, tag):
    try:
        value = fn(*args)
        outcome = (True, value)
        try:
            cloudpickle.dumps(value)
        except Exception as err:
            outcome = (False, (None, "TypeError", f"the result {type(value).__name__} cannot be sent back: {err}", ""))
    except ProcessExitSignal:
        raise  # killed (the caller gave up): exit with that reason, send nothing
    except BaseException as err:
        tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        try:
            blob = cloudpickle.dumps(err)
        except Exception:
            blob = None
        outcome = (False, (blob, type(err).__name__, str(err), tb))
    send(reply_to, ("$rpc", tag, outcome))


def call(node: str, fn, *args, timeout: float = 5.0):
    """Run ``fn(*args)`` on ``node`` and return its value.

    Raises the remote exception (its ``__cause__`` is a ``RemoteError`` with
    the remote traceback and the node's name); ``pydist.Exit`` with reason
    ``("timeout", ...)`` after ``timeout`` seconds, or
    ``(("nodedown", node), ...)`` if the node is down or goes down.
    """
    node = _names.qualify(node, own_node())
    me = self_pid()
    tag = make_ref()
    call_desc = ("rpc", "call", [node, getattr(fn, "__name__", repr(fn))])
    deadline = time.monotonic() + timeout
    pid, mref = spawn_on(
        node, _run_and_reply, (fn, args, me, tag), monitor=True, what="rpc.call", timeout=timeout, quiet=True
    )
    if pid.id == 0:  # the spawn itself did not happen in time: no node, or no answer
        Process.demonitor(mref, flush=True)
        drop_reply(tag)
        if node in Node.list():
            raise Exit(
                ("timeout", call_desc),
                f"rpc.call to {node} timed out after {timeout} s "
                "(the node did not even start the function; is it overloaded or hung?)",
            )
        raise Exit(
            (("nodedown", node), call_desc),
            f"rpc.call: {no_connection(node)}",
        )

    def mine(m):
        return (type(m) is tuple and len(m) == 3 and m[0] == "$rpc" and m[1] == tag) or is_down(m, mref)

    try:
        msg = receive(max(0.0, deadline - time.monotonic()), mine)
    except BaseException as err:  # a timeout, or Ctrl-C at the prompt: leave no late reply behind
        Process.demonitor(mref, flush=True)
        drop_reply(tag)
        Process.exit(pid, "kill")
        if not isinstance(err, TimeoutError):
            raise
        raise Exit(
            ("timeout", call_desc),
            f"rpc.call to {node} timed out after {timeout} s (pass a larger timeout= if the function is slow)",
        ) from None
    if msg[0] == "DOWN":
        reason = msg[4]
        if reason == "noconnection":
            raise Exit(
                (("nodedown", node), call_desc),
                f"rpc.call: {no_connection(node)}",
            )
        raise Exit((reason, call_desc), f"rpc.call on {node}: the process exited with {reason!r}")
    Process.demonitor(mref, flush=True)
    ok, value = msg[2]
    if ok:
        return value
    blob, exc_type, message, tb = value
    remote = RemoteError(node, exc_type, message, tb)
    exc = None
    if blob is not None:
        try:
            exc = cloudpickle.loads(blob)
        except Exception:
            exc = None
    if isinstance(exc, BaseException):
        raise exc from remote
    raise remote


class rpc:
    """Erlang's ``rpc`` module."""

    call = staticmethod(call)


rpc.__module__ = "pydist"  # public as pydist.rpc: that is the name it pickles under
