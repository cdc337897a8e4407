"""Message tracing and message counting: what ``trace()`` and ``observer()`` hook into.

While nothing is traced and nobody observes, ``state.TRACER`` is None and
the hot path pays one global load and test per message (in
``Runtime.send``, ``Process.deliver`` and the call path of
``Runtime.monitor``; ``benchmarks/trace_cost.py`` measures it). Switched
on, ``TRACER`` (the one ``Tracer``) is asked about every message:

- *specs* say which local process (by pid, or by registered name, so a
  restarted server stays traced) to watch for which events ("send",
  "receive"), and where each event goes: a *sink* pid (the collector of the
  node that called ``trace``, maybe on another node) or a ring of recent
  events (the observer's detail pane);
- *counting* (while an observer holds a lease) adds up the messages sent
  and delivered, per node and per process, for its rates and its sorting.

The hooks run on whichever thread sends or delivers — the node's loop, a
thread process, the standby thread — so they never block and never raise:
an event for another node leaves only over a connection that is up, and a
sink that cannot keep up loses events past ``MAX_PER_SECOND`` (counted and
said with the next one) rather than slowing the traced process down.
"""

from __future__ import annotations

import reprlib
import threading
import time
from collections import deque
from typing import Any, NamedTuple

from .._base.terms import Pid
from . import state as _state
from .runtime import RUNTIME
from .state import current

__all__ = ["TRACER", "Spec", "TraceEvent", "Tracer", "short"]

MAX_PER_SECOND = 2000  # events one spec sends its sink per second; the rest are counted as dropped
TEXT_WIDTH = 60  # a message is shown in at most this many characters
_OWN = ("$trace", "$trace_reply")  # tracing's own messages: never traced

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = 30
_repr.maxother = 30
_repr.maxtuple = _repr.maxlist = 6
_repr.maxdict = 4


def short(obj) -> str:
    """``obj`` in at most ``TEXT_WIDTH`` characters (a broken ``__repr__`` says so)."""
    try:
        text = _repr.repr(obj)
    except Exception as err:
        text = f"<{type(obj).__name__}: repr failed: {type(err).__name__}>"
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 3] + "..."


class TraceEvent(NamedTuple):
    """One traced message, as the traced node saw it (it travels to the sink)."""

    t: float  # wall-clock time (time.time) on the traced node
    node: str  # the traced node
    event: str  # "send" or "receive"
    kind: str  # "call", "reply", "cast" (GenServer) or "msg"
    frm: Pid | None  # the sender (None: not known, e.g. it came from another node)
    frm_name: str | None  # its registered name, if known
    to: Any  # a Pid, a name or (name, node): the destination as the sender gave it
    to_name: str | None  # the receiver's registered name, if known
    text: str  # the message (a GenServer request or reply: its payload), shortened
    tag: Any  # a GenServer call's tag (matches its reply), else None


def classify(msg) -> tuple[str, Any, Any, Any]:
    """``(kind, payload, tag, caller)`` of a message: GenServer calls, replies and casts by name."""
    if type(msg) is tuple and msg and type(msg[0]) is str:
        head = msg[0]
        if head == "$gen_call" and len(msg) == 3 and type(msg[1]) is tuple and len(msg[1]) == 2:
            return "call", msg[2], msg[1][1], msg[1][0]
        if head == "$gen_reply" and len(msg) >= 3:
            return "reply", msg[2], msg[1], None
        if head == "$gen_cast" and len(msg) == 2:
            return "cast", msg[1], None, None
    return "msg", msg, None, None


class Spec:
    """What one ``trace``/``record``/detail pane asked for one process."""

    __slots__ = ("count", "dropped", "events", "owner", "ref", "ring", "sink", "target", "window")

    def __init__(self, ref, target, events, sink: Pid | None = None, owner: Pid | None = None, ring=None):
        self.ref = ref  # what the sink files the events under
        self.target = target  # a local Pid or a registered name
        self.events = frozenset(events)
        self.sink = sink
        self.owner = owner  # the agent process that installed it (its exit removes it)
        self.ring: deque | None = ring
        self.window = 0.0
        self.count = 0
        self.dropped = 0


class Tracer:
    """The node's trace table and message counters (one: ``TRACER``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # writers only; the hooks read copies that are replaced whole
        self.by_pid: dict[int, tuple[Spec, ...]] = {}  # by pid id (a traced pid is a local one)
        self.by_name: dict[str, tuple[Spec, ...]] = {}
        self.leases: dict[Any, float] = {}  # who counts -> until when (time.monotonic)
        self.quiet: set[Pid] = set()  # agents and collectors: their own messages are never traced
        self._quiet_ids: set[int] = set()  # their ids: an int's hash is cheaper than a Pid's
        self.counting = False
        self.sent_total = 0
        self.received_total = 0
        self.sent_by: dict[int, int] = {}  # pid id -> messages it sent (while counting)
        self.received_by: dict[int, int] = {}

    # -- the table (any thread) ----------------------------------------------------
    def add(self, spec: Spec) -> None:
        with self.lock:
            table: dict = self.by_pid if type(spec.target) is Pid else self.by_name
            key = spec.target.id if type(spec.target) is Pid else spec.target
            table[key] = (*table.get(key, ()), spec)
            self._switch()

    def remove(self, keep) -> int:
        """Drop every spec for which ``keep(spec)`` is false; how many went."""
        gone = 0
        tables: tuple[dict, ...] = (self.by_pid, self.by_name)
        with self.lock:
            for table in tables:
                for key, specs in list(table.items()):
                    kept = tuple(s for s in specs if keep(s))
                    gone += len(specs) - len(kept)
                    if kept:
                        table[key] = kept
                    else:
                        del table[key]
            self._switch()
        return gone

    def specs(self) -> list[Spec]:
        with self.lock:
            return [s for table in (self.by_pid, self.by_name) for specs in table.values() for s in specs]

    def hush(self, pid: Pid) -> None:
        """``pid``'s messages (an agent's, a collector's) are never traced."""
        self.quiet.add(pid)
        self._quiet_ids.add(pid.id)

    def unhush(self, pid: Pid) -> None:
        self.quiet.discard(pid)
        self._quiet_ids = {p.id for p in self.quiet}

    def _hushed(self, pid) -> bool:
        return pid.id in self._quiet_ids and pid in self.quiet

    def lease(self, who, seconds: float) -> None:
        """Count messages for ``seconds`` more on behalf of ``who`` (an observer)."""
        with self.lock:
            self.leases[who] = time.monotonic() + seconds
            self._switch()

    def end_lease(self, who=None) -> None:
        """``who``'s lease ends (None: drop the leases that ran out)."""
        now = time.monotonic()
        with self.lock:
            if who is not None:
                self.leases.pop(who, None)
            for k, until in list(self.leases.items()):
                if until <= now:
                    del self.leases[k]
            self._switch()

    def _switch(self) -> None:
        """Hooked in while anything is traced or counted; the hot path's one test otherwise."""
        counting = bool(self.leases)
        if counting and not self.counting:
            self.sent_by.clear()
            self.received_by.clear()
        self.counting = counting
        _state.TRACER = self if (self.by_pid or self.by_name or counting) else None

    # -- the hooks (any thread: never block, never raise) --------------------------------
    def sent(self, dest, msg) -> None:
        """``Runtime.send`` (and a call's request): the current process sends ``msg`` to ``dest``."""
        p = current()
        if self.counting:
            self.sent_total += 1
            if p is not None:
                i = p.pid.id
                self.sent_by[i] = self.sent_by.get(i, 0) + 1
        if p is None:
            return
        pid = p.pid
        if self._quiet_ids and (self._hushed(pid) or (type(dest) is Pid and self._hushed(dest))):
            return
        specs = self.by_pid.get(pid.id, ())
        name = p.registered_name
        if name is not None and name in self.by_name:
            specs = specs + self.by_name[name]
        if specs:
            try:
                self._event(specs, "send", pid, name, dest, _name_of(dest), msg)
            except Exception:
                pass  # tracing must never break a send

    def wrap_call(self, dest, make_msg):
        """A call's request leaves with its monitor (``Runtime.monitor``): trace it as a send."""

        def make(ref):
            msg = make_msg(ref)
            self.sent(dest, msg)
            return msg

        return make

    def received(self, p, msg) -> None:
        """``Process.deliver``: ``msg`` lands in ``p``'s mailbox."""
        if self.counting:
            self.received_total += 1
            i = p.pid.id
            self.received_by[i] = self.received_by.get(i, 0) + 1
        specs = self.by_pid.get(p.pid.id, ())
        name = p.registered_name
        if name is not None and name in self.by_name:
            specs = specs + self.by_name[name]
        if not specs:
            return
        try:
            sender = current()
            frm = sender.pid if sender is not None and sender is not p else None
            if (frm is not None and self._hushed(frm)) or (type(msg) is tuple and msg and msg[0] in _OWN):
                return  # what tracing itself sends (an agent's answer from another node)
            frm_name = sender.registered_name if sender is not None and frm is not None else None
            self._event(specs, "receive", frm, frm_name, p.pid, name, msg)
        except Exception:
            pass

    def _event(self, specs, event, frm, frm_name, to, to_name, msg) -> None:
        kind, payload, tag, caller = classify(msg)
        if frm is None and type(caller) is Pid:
            frm = caller  # a call names its caller
        ev = None
        for spec in specs:
            if event not in spec.events:
                continue
            if ev is None:
                ev = TraceEvent(time.time(), RUNTIME.name, event, kind, frm, frm_name, to, to_name, short(payload), tag)
            _emit(spec, ev)


def _name_of(dest) -> str | None:
    """The registered name behind a destination, when this node knows it."""
    if type(dest) is Pid:
        if RUNTIME.is_local(dest):
            p = RUNTIME.procs.get(dest.id)
            return p.registered_name if p is not None else None
        return None
    if isinstance(dest, str):
        return dest
    if type(dest) is tuple and len(dest) == 2 and isinstance(dest[0], str):
        return dest[0]
    return None


def _emit(spec: Spec, ev: TraceEvent) -> None:
    if spec.ring is not None:
        spec.ring.append(ev)
        return
    if ev.t - spec.window >= 1.0:
        spec.window, spec.count = ev.t, 0
    spec.count += 1
    if spec.count > MAX_PER_SECOND:
        spec.dropped += 1
        return
    dropped, spec.dropped = spec.dropped, 0
    sink = spec.sink
    if sink is None:
        return
    msg = ("$trace", spec.ref, ev, dropped)
    if RUNTIME.is_local(sink):
        p = RUNTIME.procs.get(sink.id)
        if p is not None and p.pid == sink:
            p.deliver(msg)
        return
    dist = RUNTIME.dist
    if dist is not None:
        # only over a connection that is up (hidden ones too): never connect, or wait, from here
        peer = getattr(dist, "peers", {}).get(sink.node)
        if peer is not None and peer.state == "up":
            dist.send_message(sink.node, sink, msg)


TRACER = Tracer()
