"""``pg``: process groups across the cluster (Erlang's ``:pg``).

A *scope* is one GenServer per node, registered locally under the scope's
name (``"pg"`` by default) and started on first use. A process joins on
its own node only: that node's scope server monitors it and tells every
peer scope server (``$pg_join`` / ``$pg_leave``), so each server holds its
own members and a copy of every peer's. A member that dies leaves every
group at once; a peer server that goes (its node down) takes its members
with it. Reads (``get_members``) are answered from the local copy: no
remote round trip, eventually consistent as in Erlang.

Peers find each other when nodes connect (``nodeup`` -> ``$pg_discover``,
answered by a full ``$pg_sync``). A server started later fetches the
others' members before it answers a read, as ``Global``'s does (``peer_pull``).
"""

from __future__ import annotations

from .._api.node import Node
from .._api.processes import Process, send
from .._api.processes import node as own_node
from .._api.processes import self as self_pid
from .._base.terms import Pid
from .genserver import GenServer
from .peer_pull import PeerPull

__all__ = ["pg"]

DEFAULT = "pg"
CALL_TIMEOUT = 5.0


def _scope(scope) -> Pid:
    """The scope's server on this node, started on first use (it fetches its peers'
    members before it answers anything: ``PeerPull``)."""
    if not isinstance(scope, str):
        raise TypeError(f"pg: a scope is a name (a string), not {scope!r}")
    pid = Process.whereis(scope)
    if pid is not None:
        return pid
    ret = _start(scope, link=False)
    if ret[0] == "ok":
        return ret[1]
    if type(ret[1]) is tuple and ret[1][0] == "already_started":
        return ret[1][1]  # another process of this node started it just now
    raise RuntimeError(f"pg: the scope {scope!r} did not start: {ret!r}")


def _start(scope, link: bool):
    start = GenServer.start_link if link else GenServer.start
    return start(_ScopeServer, scope, name=scope)


def _pids(pid_or_pids, what: str) -> list:
    pids = [pid_or_pids] if type(pid_or_pids) is Pid else list(pid_or_pids)
    for p in pids:
        if type(p) is not Pid:
            raise TypeError(f"pg.{what}: expected a Pid or a list of pids, got {p!r}")
        if p.node != own_node():
            raise ValueError(
                f"pg.{what}: {p} is a process of {p.node}; only processes of this node can {what} here "
                f"(do it there: rpc.call({p.node!r}, pg.{what}, group, pid))"
            )
    return pids


class _State:
    def __init__(self, scope):
        self.scope = scope
        self.local: dict = {}  # group -> [pid, ...] (a pid may join a group more than once)
        self.member_mrefs: dict = {}  # local member -> its monitor ref
        self.remote: dict = {}  # peer scope server -> {group: [pid, ...]}
        self.peers: dict = {}  # peer scope server -> monitor ref
        self.watchers: dict = {}  # ref -> (watcher pid, group or None for the whole scope, monitor ref)
        # made in the server's init: ask the connected nodes' scope servers for their members
        self.pull = PeerPull(scope, lambda dest, tag: send(dest, ("$pg_discover", self_pid(), tag)))

    def members(self, group) -> list:
        out = list(self.local.get(group, ()))
        for groups in self.remote.values():
            out.extend(groups.get(group, ()))
        return out

    def groups(self) -> list:
        names = dict.fromkeys(g for g, ms in self.local.items() if ms)
        for groups in self.remote.values():
            names.update(dict.fromkeys(g for g, ms in groups.items() if ms))
        return list(names)

    def notify(self, kind: str, group, pids) -> None:
        for ref, (watcher, watched, _mref) in self.watchers.items():
            if watched is None or watched == group:
                send(watcher, (ref, kind, group, list(pids)))

    def broadcast(self, msg) -> None:
        for peer in self.peers:
            send(peer, msg)

    def add_peer(self, peer: Pid) -> bool:
        if peer in self.peers or peer == self_pid():
            return False
        self.peers[peer] = Process.monitor(peer)
        self.remote.setdefault(peer, {})
        return True

    def sync_to(self, peer: Pid, tag=None) -> None:
        send(peer, ("$pg_sync", self_pid(), {g: list(ms) for g, ms in self.local.items() if ms}, tag))


def _remove(groups: dict, group, pids) -> list:
    """Take each of ``pids`` out of ``groups[group]`` once; the ones that were there."""
    members = groups.get(group, [])
    gone = []
    for p in pids:
        if p in members:
            members.remove(p)
            gone.append(p)
    if not members:
        groups.pop(group, None)
    return gone


class _ScopeServer(GenServer):
    def init(self, scope):
        if Node.alive():
            Node.monitor_nodes(True)
        return ("ok", _State(scope))

    def handle_call(self, request, from_, st):
        op = request[0]
        if st.pull.waiting and op in ("members", "groups", "monitor"):  # peers' members are on their way
            st.pull.hold(from_, request)
            return ("noreply", st)
        if op == "members":
            return ("reply", st.members(request[1]), st)
        if op == "local_members":
            return ("reply", list(st.local.get(request[1], ())), st)
        if op == "groups":
            return ("reply", st.groups(), st)
        if op == "join":
            _, group, pids = request
            for p in pids:
                if p not in st.member_mrefs:
                    st.member_mrefs[p] = Process.monitor(p)
            st.local.setdefault(group, []).extend(pids)
            st.broadcast(("$pg_join", self_pid(), group, pids))
            st.notify("join", group, pids)
            return ("reply", "ok", st)
        if op == "leave":
            _, group, pids = request
            gone = _remove(st.local, group, pids)
            if not gone:
                return ("reply", "not_joined", st)
            st.broadcast(("$pg_leave", self_pid(), group, gone))
            st.notify("leave", group, gone)
            return ("reply", "ok", st)
        if op == "monitor":
            _, group, watcher, whole = request
            ref = Process.monitor(watcher)  # its ref names the subscription; it ends with the watcher
            st.watchers[ref] = (watcher, None if whole else group, ref)
            if whole:
                return ("reply", (ref, {g: st.members(g) for g in st.groups()}), st)
            return ("reply", (ref, st.members(group)), st)
        if op == "demonitor":
            w = st.watchers.pop(request[1], None)
            if w is not None:
                Process.demonitor(w[2], flush=True)
            return ("reply", "ok" if w is not None else False, st)
        return ("reply", ("error", ("unknown_call", request)), st)

    def _answer(self, st, request):
        """A held call, once the peers' members are in."""
        op = request[0]
        if op == "members":
            return st.members(request[1])
        if op == "groups":
            return st.groups()
        return self.handle_call(request, None, st)[1]

    def handle_info(self, msg, st):
        kind = msg[0] if type(msg) is tuple and msg else None
        if kind == "$pg_join":
            _, peer, group, pids = msg
            st.add_peer(peer)
            st.remote[peer].setdefault(group, []).extend(pids)
            st.notify("join", group, pids)
        elif kind == "$pg_leave":
            _, peer, group, pids = msg
            gone = _remove(st.remote.get(peer, {}), group, pids)
            if gone:
                st.notify("leave", group, gone)
        elif kind == "$pg_sync":
            _, peer, groups, tag = msg
            if st.add_peer(peer):
                st.sync_to(peer)  # it learns ours too
            self._replace(st, peer, groups)
            if st.pull.answered(tag):
                st.pull.release(lambda req: self._answer(st, req))
        elif kind == "$pg_discover":
            st.add_peer(msg[1])
            st.sync_to(msg[1], msg[2])
        elif kind == "nodeup":
            send((st.scope, msg[1]), ("$pg_discover", self_pid(), None))
        elif kind == "nodedown":
            pass  # the peer server's DOWN (noconnection) does the work
        elif kind == "DOWN":
            if st.pull.gone(msg[1]):  # no scope server on that node (or it went down)
                st.pull.release(lambda req: self._answer(st, req))
            else:
                self._down(st, msg[1], msg[3])
        else:
            return super().handle_info(msg, st)
        return ("noreply", st)

    @staticmethod
    def _replace(st, peer, groups) -> None:
        old = st.remote.get(peer, {})
        st.remote[peer] = {g: list(ms) for g, ms in groups.items()}
        for g in set(old) | set(groups):
            before, after = list(old.get(g, ())), list(groups.get(g, ()))
            left = [p for p in before if p not in after]
            joined = [p for p in after if p not in before]
            if left:
                st.notify("leave", g, left)
            if joined:
                st.notify("join", g, joined)

    @staticmethod
    def _down(st, mref, who) -> None:
        if who in st.member_mrefs and st.member_mrefs[who] == mref:
            del st.member_mrefs[who]
            for g in [g for g, ms in st.local.items() if who in ms]:
                gone = [p for p in st.local[g] if p == who]
                st.local[g] = [p for p in st.local[g] if p != who]
                if not st.local[g]:
                    del st.local[g]
                st.broadcast(("$pg_leave", self_pid(), g, gone))
                st.notify("leave", g, gone)
        elif who in st.peers and st.peers[who] == mref:
            del st.peers[who]
            for g, ms in st.remote.pop(who, {}).items():
                if ms:
                    st.notify("leave", g, ms)
        elif mref in st.watchers:
            del st.watchers[mref]


def _call(scope, request):
    _scope(scope)
    return GenServer.call(scope, request, CALL_TIMEOUT)


class pg:
    """Erlang's ``:pg``. ``scope=`` picks a scope other than the default ``"pg"``."""

    @staticmethod
    def start(scope: str = DEFAULT):
        """Start a scope server on this node now (it also starts on first use); ``("ok", pid)``."""
        return _start(scope, link=False)

    @staticmethod
    def start_link(scope: str = DEFAULT):
        """As ``start``, linked to the caller (to put a scope in a supervision tree)."""
        return _start(scope, link=True)

    @staticmethod
    def join(group, pid_or_pids, scope: str = DEFAULT) -> str:
        """Add processes of this node to ``group`` (a process may join many times); ``"ok"``."""
        return _call(scope, ("join", group, _pids(pid_or_pids, "join")))

    @staticmethod
    def leave(group, pid_or_pids, scope: str = DEFAULT) -> str:
        """Take processes of this node out of ``group`` once; ``"ok"`` or ``"not_joined"``."""
        return _call(scope, ("leave", group, _pids(pid_or_pids, "leave")))

    @staticmethod
    def get_members(group, scope: str = DEFAULT) -> list:
        """Every member of ``group``, on every node (as this node knows them)."""
        return _call(scope, ("members", group))

    @staticmethod
    def get_local_members(group, scope: str = DEFAULT) -> list:
        """The members of ``group`` that run on this node."""
        return _call(scope, ("local_members", group))

    @staticmethod
    def which_groups(scope: str = DEFAULT) -> list:
        """The groups that have members anywhere."""
        return _call(scope, ("groups",))

    @staticmethod
    def monitor(group, scope: str = DEFAULT):
        """``(ref, members)``; then ``(ref, "join", group, pids)`` / ``(ref, "leave", group, pids)``
        messages as members come and go, until ``pg.demonitor(ref)``."""
        return _call(scope, ("monitor", group, self_pid(), False))

    @staticmethod
    def monitor_scope(scope: str = DEFAULT):
        """``(ref, {group: members})``; then join/leave messages for every group."""
        return _call(scope, ("monitor", None, self_pid(), True))

    @staticmethod
    def demonitor(ref, scope: str = DEFAULT):
        """Stop the messages of ``pg.monitor``; ``"ok"``, or False if ``ref`` is unknown."""
        return _call(scope, ("demonitor", ref))


pg.__module__ = "pydist"
