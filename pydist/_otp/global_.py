"""``Global``: names that hold across the whole cluster (Erlang's ``:global``).

Every node that uses it runs one name server, a GenServer registered
locally as ``pydist_global`` and started on first use (it fetches the
connected nodes' tables before its first answer, see ``peer_pull``). Each server keeps
the whole table (name -> pid) and monitors every registered pid, so a name
goes when its process dies or its node goes down (the DOWN then says
``noconnection``), on each node by itself, with no message to wait for.

Registering needs no lock server: the *caller's* process reserves the name
on every node's server (each answers at once: yes, taken, or reserved by
another registration), then commits it, or releases it and tries again
after a random pause. The servers never wait on each other, so two nodes
registering at the same moment cannot deadlock.

When two nodes connect, their servers send each other their tables. A name
the two hold for different processes is a clash: the node of the owner
whose node name sorts first calls the name's resolve function (by default
``Global.random_exit_name``: keep one at random, kill the other), logs one
line, and tells every server the outcome.
"""

from __future__ import annotations

import logging
import random
import time

from .._api.node import Node
from .._api.processes import Process, make_ref, send
from .._api.processes import node as own_node
from .._api.processes import self as self_pid
from .._api.rpc import rpc
from .._base.errors import Exit
from .._base.terms import Pid
from .genserver import GenServer
from .peer_pull import PeerPull

__all__ = ["Global"]

log = logging.getLogger("pydist")

SERVER = "pydist_global"  # the local name of each node's name server
RESERVE_SECONDS = 10.0  # a reservation whose registration never finished lapses after this
TRIES = 30
CALL_TIMEOUT = 5.0


def _server() -> Pid:
    """This node's name server, started on first use (it fetches the connected
    nodes' tables before it answers anything: ``PeerPull``)."""
    pid = Process.whereis(SERVER)
    if pid is not None:
        return pid
    ret = GenServer.start(_GlobalServer, None, name=SERVER)
    if ret[0] == "ok":
        return ret[1]
    if type(ret[1]) is tuple and ret[1][0] == "already_started":
        return ret[1][1]  # another process of this node started it just now
    raise RuntimeError(f"Global: this node's name server did not start: {ret!r}")


def _pull(server: Pid) -> None:
    """Every connected server sends its table to ``server`` before it answers us."""
    others = Node.list()
    if others:
        GenServer.multi_call(others, SERVER, ("sync_to", server), timeout=CALL_TIMEOUT)


def _everywhere(request):
    """``request`` to this node's server, then to every connected node's:
    ``(local answer, remote answers, connected nodes that run no server)``."""
    _server()
    mine = GenServer.call(SERVER, request, CALL_TIMEOUT)
    others = Node.list()
    if not others:
        return mine, [], []
    replies, bad = GenServer.multi_call(others, SERVER, request, timeout=CALL_TIMEOUT)
    return mine, [r for _n, r in replies], bad


def _start_on(nodes) -> None:
    """Start the name server on connected nodes that have none yet (each node's
    server must hold a reservation, or two nodes could both say yes)."""
    for n in nodes:
        try:
            rpc.call(n, _server, timeout=CALL_TIMEOUT)
        except Exit:
            pass  # the node went down meanwhile: its names go with it anyway


# -- resolving a clash (these run in the resolving node's server: they must not block) --
def random_exit_name(name, pid1: Pid, pid2: Pid) -> Pid:
    """Keep one of the two at random and kill the other (``:global``'s default)."""
    keep, lose = random.sample([pid1, pid2], 2)
    Process.exit(lose, "kill")
    return keep


def random_notify_name(name, pid1: Pid, pid2: Pid) -> Pid:
    """Keep one at random; the other gets ``("global_name_conflict", name)``."""
    keep, lose = random.sample([pid1, pid2], 2)
    send(lose, ("global_name_conflict", name))
    return keep


def notify_all_names(name, pid1: Pid, pid2: Pid) -> None:
    """Unregister the name; both get ``("global_name_conflict", name, other_pid)``."""
    send(pid1, ("global_name_conflict", name, pid2))
    send(pid2, ("global_name_conflict", name, pid1))
    return None


class _Table:
    def __init__(self):
        self.names: dict = {}  # name -> [pid, resolve, monitor ref]
        self.by_mref: dict = {}  # monitor ref -> name
        self.reserved: dict = {}  # name -> (token ref, expiry)
        # made in the server's init: ask the connected nodes' servers for their tables
        self.pull = PeerPull(SERVER, lambda dest, tag: send(dest, ("$global_pull", self_pid(), tag)))

    def add(self, name, pid, resolve) -> None:
        self.drop(name)
        mref = Process.monitor(pid)
        self.names[name] = [pid, resolve, mref]
        self.by_mref[mref] = name

    def drop(self, name) -> None:
        e = self.names.pop(name, None)
        if e is not None:
            self.by_mref.pop(e[2], None)
            Process.demonitor(e[2], flush=True)

    def snapshot(self) -> dict:
        return {name: (e[0], e[1]) for name, e in self.names.items()}


class _GlobalServer(GenServer):
    def init(self, _arg):
        if Node.alive():
            Node.monitor_nodes(True)
        return ("ok", _Table())

    def handle_call(self, request, from_, t):
        if t.pull.waiting:  # the connected nodes' tables are on their way
            t.pull.hold(from_, request)
            return ("noreply", t)
        return ("reply", self._answer(t, request), t)

    def _answer(self, t, request):
        op = request[0]
        if op == "whereis":
            e = t.names.get(request[1])
            return e[0] if e else None
        if op == "names":
            return list(t.names)
        if op == "reserve":
            return self._reserve(t, *request[1:])
        if op == "commit":
            _, name, pid, resolve, token = request
            r = t.reserved.get(name)
            if r is not None and r[0] == token:
                del t.reserved[name]
            e = t.names.get(name)
            if e is not None:
                return "yes" if e[0] == pid else "no"
            t.add(name, pid, resolve)
            return "yes"
        if op == "unregister":
            t.drop(request[1])
            return "ok"
        if op == "sync_to":
            send(request[1], ("$global_sync", self_pid(), t.snapshot(), None))
            return "ok"
        return ("error", ("unknown_call", request))

    @staticmethod
    def _reserve(t, name, pid, token):
        if name in t.names:
            return "no"
        now = time.monotonic()
        r = t.reserved.get(name)
        if r is not None and r[0] != token and r[1] > now:
            return "busy"
        t.reserved[name] = (token, now + RESERVE_SECONDS)
        return "yes"

    def handle_cast(self, request, t):
        op = request[0]
        if op == "release":
            r = t.reserved.get(request[1])
            if r is not None and r[0] == request[2]:
                del t.reserved[request[1]]
        elif op == "resolved":
            _, name, winner, losers, resolve = request
            e = t.names.get(name)
            if e is None or e[0] in losers or e[0] == winner:
                if winner is None:
                    t.drop(name)
                elif e is None or e[0] != winner:
                    t.add(name, winner, resolve)
        return ("noreply", t)

    def handle_info(self, msg, t):
        kind = msg[0] if type(msg) is tuple and msg else None
        if kind == "DOWN":
            if t.pull.gone(msg[1]):  # that node runs no name server (or went down)
                t.pull.release(lambda req: self._answer(t, req))
                return ("noreply", t)
            name = t.by_mref.pop(msg[1], None)
            e = t.names.get(name) if name is not None else None
            if e is not None and e[2] == msg[1]:
                del t.names[name]
        elif kind == "$global_pull":
            send(msg[1], ("$global_sync", self_pid(), t.snapshot(), msg[2]))
        elif kind == "nodeup":
            send((SERVER, msg[1]), ("$global_sync", self_pid(), t.snapshot(), None))
        elif kind == "nodedown":
            for name, (token, _) in list(t.reserved.items()):
                if token.node == msg[1]:
                    del t.reserved[name]
        elif kind == "$global_sync":
            for name, (pid, resolve) in msg[2].items():
                e = t.names.get(name)
                if e is None:
                    t.add(name, pid, resolve)
                elif e[0] != pid:
                    self._clash(t, name, e, pid)
            if t.pull.answered(msg[3]):
                t.pull.release(lambda req: self._answer(t, req))
        else:
            return super().handle_info(msg, t)
        return ("noreply", t)

    @staticmethod
    def _clash(t, name, mine, theirs: Pid) -> None:
        """Two processes hold ``name``: the node of the first-sorting owner decides."""
        ours = mine[0]
        if own_node() != min(ours.node, theirs.node):
            return  # that node resolves it and tells us
        resolve = mine[1]
        try:
            winner = resolve(name, ours, theirs)
        except Exception as err:
            log.error("global: the resolve function for %r raised %s: %s; killing both", name, type(err).__name__, err)
            Process.exit(ours, "kill")
            Process.exit(theirs, "kill")
            winner = None
        if winner not in (ours, theirs):
            winner = None
        how = getattr(resolve, "__name__", repr(resolve))
        if resolve is random_exit_name:
            lost = theirs if winner == ours else ours
            log.warning("global: name conflict on %r: keeping %s, terminating %s", name, winner, lost)
        else:
            log.warning("global: name conflict on %r between %s and %s: %s kept %s", name, ours, theirs, how, winner)
        if winner is None:
            t.drop(name)
        elif winner != ours:
            t.add(name, winner, resolve)
        others = Node.list()
        if others:
            GenServer.abcast(others, SERVER, ("resolved", name, winner, [ours, theirs], resolve))


class Global:
    """Erlang's ``:global``: cluster-wide names. Also a via-module:
    ``GenServer.start_link(Counter, 0, name=("via", Global, "counter"))``."""

    random_exit_name = staticmethod(random_exit_name)
    random_notify_name = staticmethod(random_notify_name)
    notify_all_names = staticmethod(notify_all_names)

    @staticmethod
    def register_name(name, pid: Pid, resolve=None) -> str:
        """Register ``pid`` as ``name`` on every connected node: ``"yes"``, or ``"no"``
        if the name is taken. ``resolve(name, pid1, pid2)`` decides a clash found
        when nodes connect later (default ``Global.random_exit_name``)."""
        if type(pid) is not Pid:
            raise TypeError(f"Global.register_name: expected a Pid, got {pid!r}")
        resolve = random_exit_name if resolve is None else resolve
        if not callable(resolve):
            raise TypeError(f"Global.register_name: resolve= must be a function (name, pid1, pid2), not {resolve!r}")
        for _ in range(TRIES):
            token = make_ref()
            mine, theirs, missing = _everywhere(("reserve", name, pid, token))
            answers = [mine, *theirs]
            if "no" in answers or "busy" in answers or missing:
                GenServer.abcast(None, SERVER, ("release", name, token))
                if "no" in answers:
                    return "no"
                if missing:
                    _start_on(missing)  # then reserve again, on every node this time
                else:
                    time.sleep(random.uniform(0.005, 0.05))  # another registration of this name is under way
                continue
            return _everywhere(("commit", name, pid, resolve, token))[0]
        return "no"

    @staticmethod
    def unregister_name(name) -> str:
        """Remove ``name`` on every connected node; ``"ok"``."""
        _everywhere(("unregister", name))
        return "ok"

    @staticmethod
    def whereis_name(name) -> Pid | None:
        """The pid registered as ``name`` in the cluster, or None."""
        _server()
        return GenServer.call(SERVER, ("whereis", name), CALL_TIMEOUT)

    @staticmethod
    def send(name, msg) -> Pid:
        """Send ``msg`` to the process registered as ``name``; returns its pid.

        Raises ``Exit(("badarg", (name, msg)))`` if no process has the name.
        """
        pid = Global.whereis_name(name)
        if pid is None:
            raise Exit(
                ("badarg", (name, msg)),
                f"Global.send: no process is registered globally as {name!r} (see Global.registered_names())",
            )
        send(pid, msg)
        return pid

    @staticmethod
    def registered_names() -> list:
        """Every global name in the cluster (as this node knows it)."""
        _server()
        return GenServer.call(SERVER, ("names",), CALL_TIMEOUT)

    @staticmethod
    def sync() -> str:
        """Fetch every connected node's names now (they also come by themselves on connect)."""
        _pull(_server())
        return "ok"


Global.__module__ = "pydist"
