"""``GenServer``: Elixir's generic server, on spawn/send/receive/monitor/link only.

A server is one process running ``_server.serve``: it calls the subclass's
callbacks and keeps the state they return. A call is a message
``("$gen_call", (caller, tag), request)``; the reply is ``("$gen_reply",
tag, value)``. The tag is the caller's monitor ref on the server, so one
ref both matches the reply and turns a dead server, a missing name or a
lost node into an immediate ``Exit`` (a ``DOWN`` arrives at once; nobody
waits for the timeout). A call that times out hands its tag to
``drop_reply`` so a late reply is dropped instead of sitting in the mailbox.

Failures raise ``pydist.Exit`` whose ``reason`` is Erlang's tuple with the
failed call, e.g. ``("noproc", ("GenServer", "call", [server, request,
timeout]))``, and whose message says the same in plain words.
"""

from __future__ import annotations

import time

from .._api.processes import Process, drop_reply, make_ref, node, receive, send, spawn_on
from .._api.processes import self as self_pid
from .._base.errors import Exit
from .._base.names import qualify
from .._base.reasons import call_failure
from .._base.terms import Pid, Ref, is_down
from . import server_loop as _server

__all__ = ["GenServer"]


def is_via(name) -> bool:
    """``("via", Global, "counter")``: a name another module keeps (Elixir's ``{:via, mod, name}``).

    A 3-tuple, so it can never be taken for ``(name, node)``; ``mod`` has
    ``register_name``, ``whereis_name``, ``unregister_name`` and ``send``.
    """
    return type(name) is tuple and len(name) == 3 and name[0] == "via" and hasattr(name[1], "whereis_name")


def _resolve(server, desc):
    """``(target, node)``: a local name becomes its pid now (noproc if unknown)."""
    if is_via(server):
        pid = server[1].whereis_name(server[2])
        if pid is None:
            raise _exit(("noproc", desc), server, node(), desc)
        return pid, pid.node
    if type(server) is tuple and len(server) == 2 and isinstance(server[0], str) and isinstance(server[1], str):
        on = qualify(server[1], node())  # a bare node name means that node on this host
        if on != node():
            return (server[0], on), on
        server = server[0]
    if isinstance(server, str):
        pid = Process.whereis(server)
        if pid is None:
            raise _exit(("noproc", desc), server, node(), desc)
        return pid, node()
    if type(server) is Pid:
        return server, server.node
    raise TypeError(f"{desc[0]}.{desc[1]}: a server is a Pid, a registered name or (name, node), not {server!r}")


def label(server, on: str) -> str:
    """How messages name a server: ``'MapServer' on n1@vm`` or ``#PID<n1@vm.7>``."""
    if type(server) is Pid:
        return f"the server {server}"
    if is_via(server):
        return f"{server[2]!r} (via {getattr(server[1], '__name__', server[1])})"
    name = server[0] if type(server) is tuple else server
    return f"{name!r} on {on}"


def _exit(reason, server, on, desc) -> Exit:
    what = f"GenServer.{desc[1]} to {label(server, on)} failed: "
    head = reason[0]
    return Exit(reason, what + call_failure(head, desc[2][-1] if head == "timeout" else None))


def _end_call_monitor(reply, mref) -> None:
    """After a reply: the server ended our monitor with it (no frame), or we end it."""
    if len(reply) == 4 and reply[3] is True:
        Process.forget_monitor(mref)
    else:
        Process.demonitor(mref, flush=True)


def _down_reason(reason, on):
    return ("nodedown", on) if reason == "noconnection" else reason


def _wait_start(pid, mref, tag, link, timeout):
    def mine(m):
        return type(m) is tuple and ((len(m) == 3 and m[0] == "$gen_ack" and m[1] == tag) or is_down(m, mref))

    try:
        msg = receive(timeout, mine)
    except BaseException as err:
        Process.demonitor(mref, flush=True)
        if link:
            Process.unlink(pid)
        Process.exit(pid, "kill")
        drop_reply(tag)
        if isinstance(err, TimeoutError):
            return ("error", "timeout")
        raise
    if msg[0] == "DOWN":
        return ("error", msg[4])
    Process.demonitor(mref, flush=True)
    return msg[2]


def _start(cls, arg, name, link, timeout, what):
    if not (isinstance(cls, type) and issubclass(cls, GenServer)):
        raise TypeError(f"{what}: expected a GenServer subclass, got {cls!r}")
    if name is not None and not isinstance(name, str) and not is_via(name):
        raise TypeError(f"{what}: name= must be a string or ('via', Global, name), not {name!r}")
    me = self_pid()
    tag = make_ref()
    pid, mref = spawn_on(None, _server.main, (cls, arg, name, me, tag, link), link=link, monitor=True, what=what)
    return _wait_start(pid, mref, tag, link, timeout)


class GenServer:
    """Subclass it and implement the callbacks; start it with ``GenServer.start_link``.

    Callbacks (each runs in the server's own process; ``state`` is whatever
    the previous callback returned):

    - ``init(arg)`` -> ``("ok", state)`` | ``("ok", state, timeout_or_continue)`` |
      ``("stop", reason)`` | ``"ignore"``
    - ``handle_call(request, from_, state)`` -> ``("reply", reply, state)`` |
      ``("noreply", state)`` (reply later with ``GenServer.reply(from_, value)``) |
      ``("stop", reason, reply, state)`` | ``("stop", reason, state)``
    - ``handle_cast(request, state)`` / ``handle_info(msg, state)`` /
      ``handle_continue(arg, state)`` -> ``("noreply", state)`` | ``("stop", reason, state)``
    - ``terminate(reason, state)``: optional, called when the server stops.

    A ``("noreply", ...)``/``("reply", ...)``/``("ok", ...)`` tuple may carry a
    last element: a number of seconds (``handle_info("timeout", state)`` runs if
    no message comes within it) or ``("continue", arg)`` (``handle_continue``
    runs before the next message).
    """

    # -- default callbacks (as `use GenServer` gives them) --------------------
    def init(self, arg):
        return ("ok", arg)

    def handle_call(self, request, from_, state):
        raise NotImplementedError(
            f"attempted to call GenServer {type(self).__name__} with {request!r} but it defines no handle_call"
        )

    def handle_cast(self, request, state):
        raise NotImplementedError(
            f"attempted to cast to GenServer {type(self).__name__} with {request!r} but it defines no handle_cast"
        )

    def handle_info(self, msg, state):
        _server.log.warning(
            "GenServer %s on %s received an unexpected message in handle_info: %r", type(self).__name__, node(), msg
        )
        return ("noreply", state)

    def handle_continue(self, arg, state):
        raise NotImplementedError(
            f"GenServer {type(self).__name__} returned ('continue', {arg!r}) but defines no handle_continue"
        )

    def terminate(self, reason, state):
        return None

    @classmethod
    def child_spec(cls, arg):
        """How a Supervisor starts this server: ``{MapServer, arg}`` in Elixir.

        Uses ``cls.start_link(arg)`` when the class defines its own
        ``start_link`` classmethod (to pick a name, as Elixir modules do),
        else ``GenServer.start_link(cls, arg)``.
        """
        start: tuple  # (function, args)
        if cls.start_link is GenServer.start_link:
            start = (GenServer.start_link, (cls, arg))
        else:
            start = (cls.start_link, (arg,))
        return {"id": cls.__name__, "start": start, "restart": "permanent", "shutdown": 5.0, "type": "worker"}

    # -- the API --------------------------------------------------------------
    @staticmethod
    def start_link(cls, arg=None, name=None, timeout: float | None = None):
        """Start a server linked to the caller; returns ``("ok", pid)``.

        Or ``("error", reason)`` when ``init`` fails, returns ``("stop",
        reason)`` or the ``name`` is taken (``("already_started", pid)``);
        ``"ignore"`` when ``init`` returns it. A failing ``init`` does not
        take the caller down. ``name`` is a local name (a string) or a
        via-name such as ``("via", Global, "counter")`` (cluster-wide) or
        ``("via", Registry, ("MyRegistry", key))``. ``timeout`` bounds ``init`` (None: wait, as
        Elixir's ``:infinity``); past it the server is killed and the result
        is ``("error", "timeout")``.
        """
        return _start(cls, arg, name, True, timeout, "GenServer.start_link")

    @staticmethod
    def start(cls, arg=None, name=None, timeout: float | None = None):
        """As ``start_link``, without the link (use it at the prompt)."""
        return _start(cls, arg, name, False, timeout, "GenServer.start")

    @staticmethod
    def call(server, request, timeout: float | None = 5.0):
        """Send ``request`` and wait for the reply (``timeout`` seconds; None: forever).

        Raises ``Exit`` with reason ``("noproc", call)``, ``(("nodedown", n),
        call)``, ``("timeout", call)``, ``("calling_self", call)`` or
        ``(server_exit_reason, call)``, where ``call`` is
        ``("GenServer", "call", [server, request, timeout])``.
        """
        if timeout == "infinity":
            timeout = None
        desc = ("GenServer", "call", [server, request, timeout])
        target, on = _resolve(server, desc)
        me = self_pid()
        if target == me:
            raise _exit(("calling_self", desc), server, on, desc)
        remote = on != node()
        # the monitor and the request travel as one frame; the reply ends the monitor
        mref = Process.monitor_and_send(target, lambda ref: ("$gen_call", (me, ref), request))

        def mine(m):
            return (type(m) is tuple and len(m) >= 3 and m[0] == "$gen_reply" and m[1] == mref) or is_down(m, mref)

        try:
            msg = receive(timeout, mine)
        except BaseException as err:  # timeout, or Ctrl-C at the prompt
            Process.demonitor(mref, flush=True)
            drop_reply(mref)
            if isinstance(err, TimeoutError):
                raise _exit(("timeout", desc), server, on, desc) from None
            raise
        if msg[0] == "DOWN":
            if remote and msg[4] == "noproc" and type(target) is tuple:
                drop_reply(mref)  # the name may get registered between our monitor and our message
            raise _exit((_down_reason(msg[4], on), desc), server, on, desc)
        _end_call_monitor(msg, mref)
        return msg[2]

    @staticmethod
    def cast(server, request) -> str:
        """Send ``request`` without waiting; always ``"ok"`` (even if nobody is there)."""
        if is_via(server):
            try:
                server[1].send(server[2], ("$gen_cast", request))
            except (Exit, ValueError, TypeError):
                pass
            return "ok"
        if isinstance(server, str) and Process.whereis(server) is None:
            return "ok"
        try:
            send(server, ("$gen_cast", request))
        except (ValueError, TypeError):
            pass
        return "ok"

    @staticmethod
    def reply(from_, value) -> str:
        """Answer a call later: ``from_`` is what ``handle_call`` got."""
        _server.answer_call(from_, value)
        return "ok"

    @staticmethod
    def stop(server, reason="normal", timeout: float | None = None) -> str:
        """Stop the server with ``reason`` (its ``terminate`` runs); ``"ok"``.

        Waits for it to exit (None: as long as it takes, like Elixir).
        Raises ``Exit`` if there is no such server or it exits otherwise.
        """
        desc = ("GenServer", "stop", [server, reason, timeout])
        target, on = _resolve(server, desc)
        mref = Process.monitor(target)
        send(target, ("$gen_stop", reason))
        try:
            msg = receive(timeout, lambda m: is_down(m, mref))
        except TimeoutError:
            Process.demonitor(mref, flush=True)
            raise _exit(("timeout", desc), server, on, desc) from None
        got = msg[4]
        if got == reason:
            return "ok"
        if got in ("noproc", "noconnection"):
            raise _exit((_down_reason(got, on), desc), server, on, desc)
        raise Exit(got, f"GenServer.stop: {label(server, on)} exited with {got!r}, not {reason!r}")

    @staticmethod
    def multi_call(nodes, name: str, request, timeout: float | None = 5.0):
        """Call the server registered as ``name`` on each of ``nodes`` at once.

        Returns ``(replies, bad_nodes)``: ``replies`` a list of ``(node,
        reply)``, ``bad_nodes`` the nodes that are down, unknown, have no
        such server or did not answer within ``timeout``. A node that is down
        or unknown is known bad at once, not after the timeout. ``nodes=None``
        means this node and every connected one.
        """
        from .._api.node import Node

        nodes = [node(), *Node.list()] if nodes is None else [qualify(n, node()) for n in nodes]
        me = self_pid()
        pending: dict = {}  # monitor ref (= reply tag) -> node, in the order of nodes
        waiting: dict = {}
        for n in nodes:
            mref = Process.monitor((name, n))
            pending[mref] = n
            if n != node():
                try:  # a lost node is known now: it is bad, do not try to reach it twice
                    receive(0, lambda m, r=mref: is_down(m, r))
                    continue
                except TimeoutError:
                    pass
            waiting[mref] = n
            send((name, n), ("$gen_call", (me, mref), request))
        got: dict = {}
        deadline = None if timeout is None else time.monotonic() + timeout

        def mine(m):
            return (
                type(m) is tuple
                and len(m) >= 3
                and type(m[1]) is Ref
                and m[1] in waiting
                and (m[0] == "$gen_reply" or is_down(m, m[1]))
            )

        try:
            while waiting:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    msg = receive(left, mine)
                except TimeoutError:
                    break
                r = msg[1]
                n = waiting.pop(r)
                if msg[0] == "$gen_reply":
                    _end_call_monitor(msg, r)
                    got[r] = (n, msg[2])
                elif msg[4] == "noproc" and n != node():
                    drop_reply(r)  # the name may get registered between our monitor and our message
        finally:
            for r in waiting:
                Process.demonitor(r, flush=True)
                drop_reply(r)
        replies = [got[r] for r in pending if r in got]
        bad = [n for r, n in pending.items() if r not in got]
        return replies, bad

    @staticmethod
    def abcast(nodes, name: str, request) -> str:
        """Cast ``request`` to ``name`` on each of ``nodes`` (None: all); ``"abcast"``."""
        from .._api.node import Node

        nodes = [node(), *Node.list()] if nodes is None else [qualify(n, node()) for n in nodes]
        for n in nodes:
            send((name, n), ("$gen_cast", request))
        return "abcast"

    @staticmethod
    def whereis(server):
        """The pid of a local name (or None); ``(name, node)`` as given for another node."""
        if type(server) is Pid:
            return server
        if is_via(server):
            return server[1].whereis_name(server[2])
        if type(server) is tuple and len(server) == 2:
            if server[1] != node():
                return server
            server = server[0]
        return Process.whereis(server)


GenServer.__module__ = "pydist"
