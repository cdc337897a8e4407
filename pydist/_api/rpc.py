"""``rpc.call``: run a function on a node and get its value back.

Built on ``spawn_monitor`` + ``receive``: the result comes back as a
message tagged with the monitor's own ref, and the monitor turns a dead node
into an immediate ``Exit`` instead of a wait for the timeout. The remote
process ends that monitor as it answers (as a GenServer's reply ends a
call's), so a call is two frames, the spawn and the answer: no DOWN comes
back and no DEMONITOR goes out. A remote exception is raised here as
itself, with the remote traceback attached as its cause.
"""

from __future__ import annotations

import functools
import time

import cloudpickle

from .._base import names as _names
from .._base.errors import Exit, RemoteError
from .._base.reasons import no_connection, reason_of
from .._base.terms import down_ref, is_down
from .._base.tracebacks import format_user_exception
from .node import Node, connect_failure
from .processes import Process, ProcessExitSignal, drop_reply, make_ref, receive, send, spawn_on
from .processes import node as own_node
from .processes import self as self_pid


def _run_and_reply(fn, args, reply_to, tag, kwargs=None):
    ended = None  # whether this process ended the caller's monitor (its ref is the tag)
    try:
        value = fn(*args, **kwargs) if kwargs else fn(*args)
        ended = Process.end_monitor_by_reply(tag)
        try:
            send(reply_to, ("$rpc", tag, (True, value), ended))
            return
        except TypeError as err:  # it cannot travel: say so instead
            why = f"the result {type(value).__name__} cannot be sent back: {str(err).split(': ', 2)[-1]}"
            outcome = (False, (None, "TypeError", why, ""))
    except ProcessExitSignal:
        raise  # killed (the caller gave up): exit with that reason, send nothing
    except BaseException as err:
        tb = format_user_exception(err, compact=False)  # the user's frames, not this carrier's
        try:
            blob = cloudpickle.dumps(err)
        except Exception:
            blob = None
        outcome = (False, (blob, type(err).__name__, str(err), tb))
    if ended is None:
        ended = Process.end_monitor_by_reply(tag)
    send(reply_to, ("$rpc", tag, outcome, ended))


def _is_reply(m) -> bool:
    return type(m) is tuple and len(m) == 4 and m[0] == "$rpc"


def _end_monitor(msg) -> None:
    """A reply arrived: drop our half of the monitor the remote process ended,
    or (it could not) end it here, with any DOWN already queued."""
    if msg[3] is True:
        Process.forget_monitor(msg[1])
    else:
        Process.demonitor(msg[1], flush=True)


_run_and_reply._pydist_carries = True  # type: ignore[attr-defined]  # errors name args[0], the user's function


def _down_message(node: str, reason) -> str:
    """Why the process of an ``rpc.call`` on ``node`` exited, in words that say what to do."""
    text = reason[1] if type(reason) is tuple and len(reason) == 2 and reason[0] == "exception" else ""
    if isinstance(text, str) and text.startswith("ModuleNotFoundError: No module named "):
        module = text.split("No module named ", 1)[1].strip("'\"").split(".")[0]
        return (
            f"rpc.call: the function comes from the module {module!r}, which {node} cannot import; "
            f"load it there first: nl({module}) from a prompt that has it (after c('{module}.py') "
            "for a file), or install it on that node"
        )
    return f"rpc.call on {node}: the process exited with {reason!r}"


def call(node: str, fn, *args, timeout: float = 5.0, thread: bool = False, **kwargs):
    """Run ``fn(*args, **kwargs)`` on ``node`` and return its value.

    Raises the remote exception (its ``__cause__`` is a ``RemoteError`` with
    the remote traceback and the node's name); ``pydist.Exit`` with reason
    ``("timeout", ...)`` after ``timeout`` seconds, or
    ``(("nodedown", node), ...)`` if the node is down or goes down.
    ``thread=True`` runs ``fn`` in a thread process there (for blocking work).
    """
    node = _names.qualify(node, own_node())
    me = self_pid()
    tag = make_ref()
    call_desc = ("rpc", "call", [node, getattr(fn, "__name__", repr(fn))])
    deadline = time.monotonic() + timeout
    pid, mref = spawn_on(
        node,
        _run_and_reply,
        (fn, args, me, tag, kwargs),
        monitor=True,
        monitor_ref=tag,
        what="rpc.call",
        timeout=timeout,
        quiet=True,
        thread=thread,
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
        why = connect_failure(node)  # the cookies differ, another name ...: say that, not "down"
        raise Exit(
            (("nodedown", node), call_desc),
            f"rpc.call: cannot connect to {node}: {why}" if why else f"rpc.call: {no_connection(node)}",
        )

    def mine(m):
        return (_is_reply(m) and m[1] == tag) or is_down(m, mref)

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
        raise Exit((reason, call_desc), _down_message(node, reason))
    _end_monitor(msg)
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


def remote_exception(node: str, info) -> BaseException:
    """The exception a remote function raised, rebuilt here, its cause the remote traceback."""
    blob, exc_type, message, tb = info
    remote = RemoteError(node, exc_type, message, tb)
    try:
        exc = cloudpickle.loads(blob) if blob is not None else None
    except Exception:
        exc = None
    if not isinstance(exc, BaseException):
        return remote
    exc.__cause__ = remote
    return exc


def call_many(nodes, fn, args, timeout, what: str, kwargs=None) -> list:
    """Run ``fn(*args)`` on every node at once; one outcome per node, in their order.

    ``("ok", value)``, ``("raised", info)`` (for ``remote_exception``),
    ``("down", reason)`` (``noconnection``: the node is down or went down) or
    ``("timeout", None)``. All start before any is waited for, so the whole
    costs the slowest node, not the sum; the late ones are killed and their
    replies dropped, so nothing is left in the caller's mailbox.
    """
    me = self_pid()
    deadline = time.monotonic() + timeout
    started = []  # (tag, mref, pid)
    for n in nodes:
        tag = make_ref()
        pid, mref = spawn_on(
            _names.qualify(n, own_node()),
            _run_and_reply,
            (fn, args, me, tag, kwargs),
            monitor=True,
            monitor_ref=tag,
            what=what,
            quiet=True,
        )
        started.append((tag, mref, pid))
    by_tag = {tag: i for i, (tag, _, _) in enumerate(started)}
    by_mref = {mref: i for i, (_, mref, _) in enumerate(started)}
    out: list = [None] * len(started)
    waiting = len(started)

    def mine(m):
        if _is_reply(m):
            i = by_tag.get(m[1])
            return i is not None and out[i] is None
        i = by_mref.get(down_ref(m))
        return i is not None and out[i] is None

    while waiting:
        try:
            msg = receive(max(0.0, deadline - time.monotonic()), mine)
        except TimeoutError:
            break
        waiting -= 1
        if msg[0] == "$rpc":
            i = by_tag[msg[1]]
            _end_monitor(msg)
            ok, value = msg[2]
            out[i] = ("ok", value) if ok else ("raised", value)
        else:
            out[by_mref[msg[1]]] = ("down", msg[4])
    for i, (tag, mref, pid) in enumerate(started):
        if out[i] is None:
            Process.demonitor(mref, flush=True)
            drop_reply(tag)
            Process.exit(pid, "kill")
            out[i] = ("timeout", None)
    return out


def multicall(nodes, fn, *args, timeout: float = 5.0, **kwargs):
    """``fn(*args, **kwargs)`` on each of ``nodes`` at once (None: this node and every connected one).

    Returns ``(results, bad_nodes)`` as Erlang's ``rpc:multicall``: the
    values of the nodes that answered, in node order (``("badrpc", ("EXIT",
    reason))`` where the function raised), and the nodes that are down or
    did not answer within ``timeout`` seconds.
    """
    nodes = [own_node(), *Node.list()] if nodes is None else [_names.qualify(n, own_node()) for n in nodes]
    results, bad = [], []
    outcomes = call_many(nodes, fn, args, timeout, "rpc.multicall", kwargs)
    for n, (kind, value) in zip(nodes, outcomes, strict=True):
        if kind == "ok":
            results.append(value)
        elif kind == "raised":
            results.append(("badrpc", ("EXIT", reason_of(remote_exception(n, value)))))
        elif kind == "down" and value != "noconnection":
            results.append(("badrpc", ("EXIT", value)))
        else:
            bad.append(n)
    return results, bad


def cast(node: str, fn, *args, **kwargs) -> bool:
    """Run ``fn(*args, **kwargs)`` on ``node`` without waiting for it; True (as Erlang's ``rpc:cast``)."""
    if kwargs:
        fn, args = functools.partial(fn, **kwargs), args
    spawn_on(_names.qualify(node, own_node()), fn, args, what="rpc.cast")
    return True


class rpc:
    """Erlang's ``rpc`` module."""

    call = staticmethod(call)
    multicall = staticmethod(multicall)
    cast = staticmethod(cast)


rpc.__module__ = "pydist"  # public as pydist.rpc: that is the name it pickles under
