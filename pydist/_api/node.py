"""``Node`` (Elixir's module) and starting/stopping distribution.

``start`` turns this OS process into a named node: it binds the ROUTER,
registers with the host's name server (starting one if none answers) and
re-stamps the io server with the new name so remote output finds its way
home. ``stop`` leaves the cluster and tells every peer at once.
"""

from __future__ import annotations

import atexit
import builtins
import logging

from .._base import names as _names
from .._base.errors import UsageError
from .._base.terms import Pid
from .._core import iofwd as _iofwd
from .._core import ioread as _ioread
from .._core.runtime import RUNTIME
from .._net.cookie import load_cookie
from .._net.epmd import client as _epmd
from .processes import spawn_on

log = logging.getLogger("pydist")

DEFAULT_TICKTIME = 4.0


def start(
    name: str,
    *,
    longnames: bool = False,
    cookie: str | None = None,
    ticktime: float = DEFAULT_TICKTIME,
    port=None,
    hidden: bool = False,
) -> str:
    """Make this OS process the node ``name`` (``"foo"`` or ``"foo@host"``).

    ``port`` is a port or a ``(low, high)`` range for the node's listener
    (default: any free port). ``hidden``: as Erlang's ``-hidden``, its
    connections stay out of ``Node.list()`` and are never made transitive
    (a remote shell, a tool). Raises NameInUse, CookieError,
    NameServerUnreachable, UsageError.
    """
    from .._core.dist import Distribution

    if RUNTIME.dist is not None:
        raise UsageError(f"this node is already distributed as {RUNTIME.name}")
    full, longnames = _names.make_own_name(None if longnames else name, name if longnames else None)
    if ticktime <= 0:
        raise UsageError("--ticktime must be a positive number of seconds")
    if isinstance(port, int):
        port = (port, port)
    dist = Distribution(RUNTIME, full, longnames, load_cookie(cookie), float(ticktime), port, hidden=bool(hidden))
    RUNTIME.name = full
    RUNTIME.dist = dist
    _iofwd.install()
    _ioread.install()
    _iofwd.new_user_io()
    atexit.register(_leave_at_exit)
    return full


def _leave_at_exit() -> None:
    """The interpreter is exiting: stop the loop first (no green process runs
    past here, so nothing uses the sockets while they close), then leave."""
    sched = RUNTIME._sched
    if sched is not None:
        sched.stop()
    stop()


def stop() -> None:
    """Leave the cluster: every peer sees this node go at once.

    The node keeps its name (pids already handed out stay valid here), but
    it is no longer distributed: ``Node.alive()`` is False afterwards.
    """
    dist = RUNTIME.dist
    if dist is None:
        return
    RUNTIME.dist = None
    dist.shutdown()


def connect_failure(node: str) -> str | None:
    """Why this node could not connect to ``node`` last time, if known ("the cookies differ ...")."""
    dist = RUNTIME.dist
    return dist.failure(node) if dist is not None else None


def _dist(what: str):
    return RUNTIME.require_dist(what)


def _qualify(name: str, what: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what}: a node name is a string like 'bar@{_names.short_host()}', not {name!r}")
    return _names.qualify(name, RUNTIME.name)


_NODE_KINDS = ("visible", "hidden", "connected", "this")


class Node:
    """Elixir's ``Node`` module: this node and its connections."""

    @staticmethod
    def self() -> str:
        return RUNTIME.name

    @staticmethod
    def alive() -> bool:
        """Whether this node is distributed."""
        return RUNTIME.dist is not None

    @staticmethod
    def list(kind="visible") -> list[str]:
        """Connected nodes, in connection order, as Erlang's ``nodes/1``.

        ``kind``: ``"visible"`` (the default: hidden connections left out),
        ``"hidden"``, ``"connected"`` (both), ``"this"`` (this node), or a
        list of those (``["this", "visible"]``).
        """
        kinds = [kind] if isinstance(kind, str) else kind
        if not isinstance(kinds, (builtins.list, tuple)) or not all(k in _NODE_KINDS for k in kinds):
            raise ValueError(
                f"Node.list: the kind is 'visible', 'hidden', 'connected' or 'this' (or a list of them), not {kind!r}"
            )
        dist = RUNTIME.dist
        out: builtins.list[str] = []
        for k in kinds:
            if k == "this":
                names = [RUNTIME.name]
            elif dist is None:
                names = []
            else:
                names = dist.up_nodes(k)
            out += [n for n in names if n not in out]
        return out

    @staticmethod
    def ping(name: str) -> str:
        """``"pong"`` once connected to ``name``, else ``"pang"``; never hangs for long."""
        name = _qualify(name, "Node.ping")
        dist = RUNTIME.dist
        if dist is None:
            log.warning(
                "Node.ping: this node is not distributed (it is nonode@nohost), so it cannot "
                "reach %s; start it with pydist --sname NAME",
                name,
            )
            return "pang"
        return dist.ping(name)

    @staticmethod
    def connect(name: str) -> bool:
        name = _qualify(name, "Node.connect")
        dist = RUNTIME.dist
        return dist is not None and dist.connect(name)

    @staticmethod
    def disconnect(name: str) -> bool:
        name = _qualify(name, "Node.disconnect")
        dist = RUNTIME.dist
        return dist is not None and dist.disconnect(name)

    @staticmethod
    def spawn(name: str, fn, *args, thread: bool = False) -> Pid:
        """Run ``fn(*args)`` in a new process on ``name``; its output comes here.

        ``thread=True`` gives it an OS thread there (see ``spawn``)."""
        return spawn_on(_qualify(name, "Node.spawn"), fn, args, what="Node.spawn", thread=thread)[0]

    @staticmethod
    def spawn_link(name: str, fn, *args, thread: bool = False) -> Pid:
        return spawn_on(_qualify(name, "Node.spawn_link"), fn, args, link=True, what="Node.spawn_link", thread=thread)[
            0
        ]

    @staticmethod
    def spawn_monitor(name: str, fn, *args, thread: bool = False):
        return spawn_on(
            _qualify(name, "Node.spawn_monitor"), fn, args, monitor=True, what="Node.spawn_monitor", thread=thread
        )

    @staticmethod
    def monitor(name: str, flag: bool = True) -> bool:
        """The caller receives ``("nodedown", name)`` when ``name`` goes down."""
        name = _qualify(name, "Node.monitor")
        me = RUNTIME.adopt()
        dist = RUNTIME.dist
        if dist is None:
            if flag:
                me.deliver(("nodedown", name))
            return True
        return dist.monitor_node(name, me.pid, flag)

    @staticmethod
    def monitor_nodes(flag: bool = True, node_type: str | None = None) -> bool:
        """The caller receives ``("nodeup", n)`` / ``("nodedown", n)`` for every visible node.

        ``node_type`` (``"visible"``, ``"hidden"`` or ``"all"``), as Erlang's
        ``net_kernel:monitor_nodes(true, [{node_type, T}])``: those nodes, and
        each message has a third element, ``{"node_type": "visible"|"hidden"}``.
        ``Node.monitor_nodes(False, node_type=T)`` ends that subscription.
        """
        if node_type is not None and node_type not in ("visible", "hidden", "all"):
            raise ValueError(f"Node.monitor_nodes: node_type is 'visible', 'hidden' or 'all', not {node_type!r}")
        dist = _dist("Node.monitor_nodes")
        dist.monitor_nodes(RUNTIME.adopt().pid, flag, node_type or "visible", tagged=node_type is not None)
        return True

    @staticmethod
    def names() -> builtins.list[str]:  # (list here is Node.list)
        """The nodes registered with this host's name server, as full names
        (Erlang's ``:net_adm.names/0``); raises NameServerUnreachable if none runs."""
        host = RUNTIME.name.split("@", 1)[1] if "@" in RUNTIME.name else _names.short_host()
        return [f"{name}@{host}" for name, _port in _epmd.names()]


Node.__module__ = "pydist"  # public as pydist.Node: that is the name it pickles under
