"""Step 7's ``Replica``: a GenServer that holds a versioned store, coordinates
quorum writes and reads, and reconciles with its peers (anti-entropy).

One Replica runs on every node of the host list, registered as
``"Replica"``; every callback below runs in that server's process. The
client functions (``kv_store.step7.put`` / ``get``) only call the local one.

Why the local Replica coordinates, instead of a ``multi_call`` in the
caller: a quorum write is done as soon as a *majority* acknowledged, not
when every replica answered or timed out. So ``put`` is a call that the
Replica answers later (``noreply`` now, ``GenServer.reply`` when enough
acknowledgements came): it sends the write to its peers as casts, they
answer with plain messages, and late answers land here, where they are
dropped, not in the caller's mailbox. No Replica ever *calls* another: two
of them calling each other at once would each wait for the other.

A replica that holds a *newer* version of the key than the write answers
"stale" with that version: the coordinator writes again above it (up to
``MAX_ATTEMPTS`` times), so the last ``put`` to return wins over any older
stray copy. If another node keeps writing the same key at the same moment,
a replica holding that newer write counts as acknowledging: this write was
superseded by one that wins on every replica (last writer wins).

What is sent where: the quorum is a majority of the configured members
(``application.hosts()``), however many nodes happen to be connected. Only
connected members are sent anything (sending to a node that is not
connected makes pydist connect first, which blocks this server for seconds
when the host is unreachable); a member that is not connected simply does
not acknowledge. The cluster strategy reconnects it, and anti-entropy
brings it up to date.

Anti-entropy: every ``KV_STORE_SYNC`` seconds (default 1; 0: only when
asked with ``sync()``), when a member connects, and right after start, this
Replica sends its digest to each connected member; a member whose buckets
differ answers with its entries of those buckets, and this Replica keeps
what is newer and sends back what the member lacks (``versions.py``).
"""

from __future__ import annotations

import os
import time

from pydist import GenServer, Node, Process, make_ref, node, send
from pydist import self as self_pid

from . import application
from .versions import Store

NAME = "Replica"
TICK = 0.2  # seconds between two looks at overdue requests and the sync schedule
MAX_ATTEMPTS = 3  # a write answered "stale" is retried with a newer version this often


def members() -> list[str]:
    """The configured replicas (the host list), full node names."""
    host = node().split("@", 1)[-1]
    return [h if "@" in h else f"{h}@{host}" for h in application.hosts()]


class _Op:
    """One client request waiting for its quorum (a put or a quorum get)."""

    def __init__(self, kind, from_, key, value, timeout):
        self.kind, self.from_, self.key, self.value = kind, from_, key, value
        self.ref = make_ref()
        self.deadline = time.monotonic() + timeout
        self.version = None
        self.attempts = 0
        self.acks: list[str] = []  # put: who stored this version
        self.newer: list[str] = []  # put: who holds a newer version of the key already
        self.reads: dict = {}  # get: node -> (version, value)
        self.waiting: set[str] = set()  # asked, not answered yet
        self.newest_seen = None  # put: the newest version a replica answered "stale" with


class _State:
    """What a Replica keeps; only its own process reads or changes it."""

    def __init__(self):
        self.me = node()
        self.members = members()
        self.need = len(self.members) // 2 + 1
        self.life = int(time.time() * 1000)
        self.store = Store()
        self.ops: dict = {}  # ref -> _Op
        self.sync_every = float(os.environ.get("KV_STORE_SYNC", "1"))
        self.next_sync = time.monotonic() + self.sync_every

    def peers(self) -> list[str]:
        """The other members this node is connected to now."""
        up = set(Node.list())
        return [m for m in self.members if m != self.me and m in up]

    def member(self) -> bool:
        return self.me in self.members


class Replica(GenServer):
    @classmethod
    def start_link(cls, arg=None):
        return GenServer.start_link(cls, arg, name=NAME)

    # -- start -------------------------------------------------------------------
    def init(self, _arg):
        Node.monitor_nodes(True)
        st = _State()
        Process.send_after(self_pid(), "tick", TICK)
        return ("ok", st, ("continue", "sync"))

    def handle_continue(self, _arg, st):
        if st.sync_every > 0:  # the cluster supervisor connected the peers already
            self._sync_round(st)
        return ("noreply", st)

    # -- requests from this node's clients ---------------------------------------
    def handle_call(self, request, from_, st):
        op = request[0] if type(request) is tuple else request
        if op == "put":
            _, k, v, timeout = request
            return self._start_put(st, from_, k, v, timeout)
        if op == "get":
            _, k, quorum, timeout = request
            if not quorum:
                return ("reply", st.store.entry(k)[1], st)
            return self._start_get(st, from_, k, timeout)
        if op == "version":
            return ("reply", st.store.entry(request[1])[0], st)
        if op == "get_map":
            return ("reply", st.store.values(), st)
        if op == "digest":
            return ("reply", tuple(st.store.digest), st)
        if op == "sync":
            return ("reply", self._sync_round(st), st)
        if op == "members":
            return ("reply", list(st.members), st)
        return ("reply", ("error", ("unknown request", request)), st)

    def _start_put(self, st, from_, k, v, timeout):
        op = _Op("put", from_, k, v, timeout)
        if not self._write(st, op):
            return ("reply", _unreachable(st), st)
        st.ops[op.ref] = op
        return self._settle_put(st, op)

    def _write(self, st, op) -> bool:
        """One attempt: a new version, stored here, sent to every connected member."""
        peers = st.peers()
        if len(peers) + st.member() < st.need:
            return False  # not even a majority connected: write nothing
        if op.newest_seen is not None:
            st.store.witness(op.newest_seen)
        op.version = st.store.next_version(st.me, st.life)
        op.attempts += 1
        op.acks, op.newer = [], []
        op.waiting = set(peers)
        if st.member():
            st.store.apply(op.key, op.version, op.value)
            op.acks.append(st.me)
        for peer in peers:
            GenServer.cast((NAME, peer), ("replicate", op.ref, self_pid(), op.key, op.value, op.version))
        return True

    def _settle_put(self, st, op):
        """Answer the client once the outcome is known; else keep waiting."""
        if len(op.acks) >= st.need:
            return self._done(st, op, "ok")
        if len(op.acks) + len(op.waiting) >= st.need and time.monotonic() < op.deadline:
            return ("noreply", st)
        retry = op.newer and op.attempts < MAX_ATTEMPTS and time.monotonic() < op.deadline
        if retry and self._write(st, op):  # a replica had a newer version: write again, above it
            return self._settle_put(st, op)
        if len(op.acks) + len(op.newer) >= st.need:
            return self._done(st, op, "ok")  # lost a race with a concurrent write of the key: that one wins
        return self._done(st, op, _no_quorum(st, op))

    def _start_get(self, st, from_, k, timeout):
        peers = st.peers()
        if len(peers) + st.member() < st.need:
            return ("reply", _unreachable(st, "nothing read"), st)
        op = _Op("get", from_, k, None, timeout)
        if st.member():
            op.reads[st.me] = st.store.entry(k)
        op.waiting = set(peers)
        for peer in peers:
            GenServer.cast((NAME, peer), ("read", op.ref, self_pid(), k))
        st.ops[op.ref] = op
        return self._settle_get(st, op)

    def _settle_get(self, st, op):
        if len(op.reads) >= st.need:
            version, value = max(op.reads.values(), key=lambda e: e[0])
            self._repair(st, op, version, value)
            return self._done(st, op, value)
        if len(op.reads) + len(op.waiting) >= st.need and time.monotonic() < op.deadline:
            return ("noreply", st)
        answered = ", ".join(sorted(op.reads)) or "none"
        return self._done(
            st,
            op,
            (
                "error",
                f"no quorum: {len(op.reads)} of {len(st.members)} replicas answered ({answered}), {st.need} needed",
            ),
        )

    def _repair(self, st, op, version, value) -> None:
        """Read repair: the replicas that answered with an older copy get the newest."""
        for who, (theirs, _v) in op.reads.items():
            if theirs < version:
                if who == st.me:
                    st.store.apply(op.key, version, value)
                else:
                    GenServer.cast((NAME, who), ("repair", op.key, version, value))

    def _done(self, st, op, answer):
        st.ops.pop(op.ref, None)
        GenServer.reply(op.from_, answer)
        return ("noreply", st)

    # -- requests from the other Replicas -----------------------------------------
    def handle_cast(self, request, st):
        kind = request[0]
        if kind == "replicate":
            _, ref, coordinator, k, v, version = request
            answer: object = "ok"
            if not (st.store.apply(k, version, v) or st.store.holds(k, version, v)):
                answer = ("stale", st.store.entry(k)[0])  # ours is newer: the coordinator writes above it
            _send(coordinator, ("kv_ack", ref, st.me, version, answer))
        elif kind == "read":
            _, ref, coordinator, k = request
            _send(coordinator, ("kv_read", ref, st.me, st.store.entry(k)))
        elif kind == "repair":
            _, k, version, v = request
            st.store.apply(k, version, v)
        elif kind == "sync_digest":
            _, peer, digest = request
            differ = st.store.differing(digest)
            if differ and peer in Node.list():
                entries = st.store.bucket_entries(differ)
                GenServer.cast((NAME, peer), ("sync_entries", st.me, differ, entries, True))
        elif kind == "sync_entries":
            _, peer, buckets, entries, answer = request
            st.store.merge(entries)
            if answer:
                back = st.store.newer_than(entries, buckets)
                if back and peer in Node.list():
                    GenServer.cast((NAME, peer), ("sync_entries", st.me, buckets, back, False))
        return ("noreply", st)

    # -- answers, node events, the clock ------------------------------------------
    def handle_info(self, msg, st):
        kind = msg[0] if type(msg) is tuple else msg
        if kind == "kv_ack":
            _, ref, who, version, answer = msg
            op = st.ops.get(ref)
            if op is not None and version == op.version and who in op.waiting:
                op.waiting.discard(who)
                if answer == "ok":
                    op.acks.append(who)
                else:
                    op.newer.append(who)
                    if op.newest_seen is None or answer[1] > op.newest_seen:
                        op.newest_seen = answer[1]
                return self._settle_put(st, op)
        elif kind == "kv_read":
            _, ref, who, entry = msg
            op = st.ops.get(ref)
            if op is not None and who in op.waiting:
                op.waiting.discard(who)
                op.reads[who] = entry
                return self._settle_get(st, op)
        elif kind == "tick":
            self._tick(st)
            Process.send_after(self_pid(), "tick", TICK)
        elif kind == "nodeup":
            if msg[1] in st.members and st.member() and st.sync_every > 0:
                GenServer.cast((NAME, msg[1]), ("sync_digest", st.me, list(st.store.digest)))
        elif kind == "nodedown":  # it will not answer: requests waiting for it may be settled now
            for op in list(st.ops.values()):
                if msg[1] in op.waiting:
                    op.waiting.discard(msg[1])
                    self._settle(st, op)
        else:
            return super().handle_info(msg, st)
        return ("noreply", st)

    def _settle(self, st, op):
        return self._settle_put(st, op) if op.kind == "put" else self._settle_get(st, op)

    def _tick(self, st) -> None:
        now = time.monotonic()
        for op in [op for op in st.ops.values() if now >= op.deadline]:
            op.waiting.clear()
            self._settle(st, op)
        if st.sync_every > 0 and now >= st.next_sync:
            self._sync_round(st)
            st.next_sync = now + st.sync_every

    def _sync_round(self, st) -> list[str]:
        """Send our digest to every connected member; the peers it went to.

        A node outside the host list keeps no copy: it only coordinates.
        """
        peers = st.peers() if st.member() else []
        for peer in peers:
            GenServer.cast((NAME, peer), ("sync_digest", st.me, list(st.store.digest)))
        return peers


def _send(dest, msg) -> None:
    """Answer a coordinator, if its node is still connected (a send to a lost node
    would try to connect first and hold this server meanwhile)."""
    if dest.node == node() or dest.node in Node.list():
        send(dest, msg)


def _unreachable(st, nothing: str = "nothing written") -> tuple:
    """The refusal when not even a majority is connected: nothing was sent anywhere."""
    reach = ([st.me] if st.member() else []) + st.peers()
    names = ", ".join(reach) or "none"
    return (
        "error",
        f"no quorum: {st.need} of {len(st.members)} replicas needed, only {len(reach)} reachable ({names}); {nothing}",
    )


def _no_quorum(st, op) -> tuple:
    """The refusal after an attempt: who acknowledged, who did not."""
    acked = ", ".join(op.acks) or "none"
    silent = [m for m in st.members if m not in op.acks]
    text = f"no quorum: {len(op.acks)} of {len(st.members)} replicas acknowledged ({acked}), {st.need} needed"
    if silent:
        text += f"; no acknowledgement from {', '.join(silent)}"
    if op.acks:
        text += "; it stays on the replicas that acknowledged"
    return ("error", text)
