"""``trace``: see the messages a process sends and receives, on any node (Erlang's ``dbg``).

``trace(target)`` prints one line per message the target sends or receives,
above the prompt; ``trace.stop(target)`` / ``trace.stop()`` end it.
``trace.record(targets)`` keeps the messages instead, and
``trace.stop_recording()`` returns them as a ``Chart`` (a message sequence
chart: drawn at the prompt, ``.save("put.svg")``, ``.mermaid()``).

Who runs what:

- on the node that calls ``trace``, one *collector* (a green process) gets
  every event, prints it (through its group leader: the prompt's
  terminal) or keeps it for the chart;
- on each traced node, an *agent* (a green process, one per collector)
  installs the node's trace specs (``_core/tracing.py``) and monitors the
  collector: when that goes (the tracing node stopped or lost the
  connection), the agent removes its specs and the node's hot path is back
  to one test per message.

Each call waits for the agent's answer, so a message sent after
``trace(...)`` returned is traced. A GenServer call shows as ``call`` and
its answer as ``reply``; the agent's own messages and the events are never
traced.
"""

from __future__ import annotations

import time
from typing import Any

from .._base import names as _names
from .._base.errors import PydistError
from .._base.terms import Pid, Ref, is_down
from .._core.runtime import RUNTIME
from .._core.tracing import TRACER, Spec, TraceEvent
from .charts import Chart, endpoint
from .processes import Process, make_ref, receive, send, spawn, spawn_on
from .processes import self as self_pid

__all__ = ["trace"]

EVENTS = ("send", "receive")
ANSWER_TIMEOUT = 5.0
_KIND_WORD = {"call": "call ", "reply": "reply ", "cast": "cast ", "msg": ""}


TraceError = PydistError  # a trace could not be set up (no such process, a node out of reach)


# -- the collector: one per node, started on first use ------------------------------
def _collector_main() -> None:
    modes: dict = {}  # ref -> "print" | list of events (a recording)
    calls: dict = {}  # a call's tag -> who was called (names a reply from another node)
    while True:
        m = receive()
        if type(m) is not tuple or not m:
            continue
        if m[0] == "$trace" and len(m) == 4:
            mode = modes.get(m[1])
            if mode == "print":
                print(format_line(m[2], m[3], calls), flush=True)
            elif mode is not None:
                mode.append(m[2])
        elif m[0] == "mode":
            modes[m[1]] = m[2]
        elif m[0] == "take":
            send(m[2], ("$trace_reply", m[3], modes.pop(m[1], None) or []))


def format_line(ev: TraceEvent, dropped: int = 0, calls: dict | None = None) -> str:
    """``12:00:01.234  #PID<a@vm.12> → 'MapServer' on b@vm  call ('put', 'a', 5)``."""
    frm = endpoint(ev.frm, ev.frm_name, ev.node) if ev.frm is not None else None
    to = endpoint(ev.to, ev.to_name, ev.node)
    if calls is not None and ev.tag is not None:
        if ev.kind == "call":
            calls[ev.tag] = to
            while len(calls) > 1000:
                del calls[next(iter(calls))]
        elif ev.kind == "reply" and frm is None:
            frm = calls.pop(ev.tag, None)
    stamp = time.strftime("%H:%M:%S", time.localtime(ev.t)) + f".{int(ev.t * 1000) % 1000:03d}"
    head = f"({dropped} trace events dropped: more than the terminal can take)\n" if dropped else ""
    return f"{head}{stamp}  {frm or '?'} → {to}  {_KIND_WORD.get(ev.kind, '')}{ev.text}"


_COLLECTOR: Pid | None = None


def _collector() -> Pid:
    global _COLLECTOR
    p = _COLLECTOR
    if p is None or p.node != RUNTIME.name or not Process.alive(p):
        p = _COLLECTOR = spawn(_collector_main)
        TRACER.hush(p)
    return p


# -- the agent: on each traced node, one per collector -----------------------------------
def _agent_main(collector: Pid) -> None:
    me = self_pid()
    TRACER.hush(me)
    TRACER.hush(collector)
    mref = Process.monitor(collector)
    try:
        while True:
            m = receive()
            if is_down(m, mref):
                return
            if not (type(m) is tuple and len(m) == 4 and m[0] in _AGENT_OPS):
                continue
            op, args, reply_to, tag = m
            try:
                value = ("ok", _AGENT_OPS[op](me, collector, *args))
            except Exception as err:
                value = ("error", str(err))
            send(reply_to, ("$trace_reply", tag, value))
    finally:
        TRACER.remove(lambda s: s.owner != me)
        TRACER.unhush(me)


def _agent_add(me: Pid, collector: Pid, ref, target, events) -> str:
    if type(target) is Pid:
        p = RUNTIME.local_proc(target)
        if p is None or not p.alive:
            raise TraceError(f"trace: {target} is not alive (Process.list() on {RUNTIME.name} lists the live ones)")
    elif RUNTIME.whereis(target) is None:
        raise TraceError(
            f"trace: no process is registered as {target!r} on {RUNTIME.name} (Process.registered() lists the names)"
        )
    TRACER.add(Spec(ref, target, events, sink=collector, owner=me))
    return endpoint(target, None, RUNTIME.name)


def _agent_remove(me: Pid, collector: Pid, refs, target) -> int:
    return TRACER.remove(lambda s: not (s.owner == me and s.ref in refs and (target is None or s.target == target)))


_AGENT_OPS: dict[str, Any] = {"add": _agent_add, "remove": _agent_remove}
_AGENTS: dict[str, Pid] = {}  # node -> this node's agent there


def _ask(node: str, op: str, *args):
    """Ask this node's agent on ``node`` (started there if needed); its answer."""
    for _attempt in (1, 2):
        agent = _AGENTS.get(node)
        if agent is None:
            where = None if node == RUNTIME.name else node
            agent = _AGENTS[node] = spawn_on(where, _agent_main, (_collector(),), what="trace", quiet=True)[0]
            TRACER.hush(agent)
        mref = Process.monitor(agent)
        send(agent, (op, args, self_pid(), mref))
        try:
            m = receive(
                ANSWER_TIMEOUT,
                lambda m, r=mref: (
                    (type(m) is tuple and len(m) == 3 and m[0] == "$trace_reply" and m[1] == r) or is_down(m, r)
                ),
            )
        except TimeoutError:
            Process.demonitor(mref, flush=True)
            raise TraceError(f"trace: {node} did not answer within {ANSWER_TIMEOUT:g} s; is it busy?") from None
        if m[0] == "DOWN":
            _AGENTS.pop(node, None)
            if m[4] == "noconnection":
                raise TraceError(f"trace: cannot reach {node} (Node.ping({node!r}) says why)")
            continue  # the agent was gone (its node restarted): start a new one
        Process.demonitor(mref, flush=True)
        ok, value = m[2]
        if ok != "ok":
            raise TraceError(value)
        return value
    raise TraceError(f"trace: could not start tracing on {node}")


# -- what the user calls ----------------------------------------------------------
def resolve(target) -> tuple[str, object]:
    """``(node, pid or registered name there)`` for a pid, a name, ``(name, node)`` or a global name."""
    if type(target) is Pid:
        return target.node, target
    if isinstance(target, str):
        return RUNTIME.name, target
    if type(target) is tuple and len(target) == 2 and all(isinstance(x, str) for x in target):
        if target[0] == "global":
            import pydist  # the facade: Global sits in the OTP layer above this one

            pid = pydist.Global.whereis_name(target[1])
            if pid is None:
                raise TraceError(f"trace: no process has the global name {target[1]!r}")
            return pid.node, pid
        return _names.qualify(target[1], RUNTIME.name), target[0]
    if type(target) is tuple and len(target) == 3 and target[0] == "via" and hasattr(target[1], "whereis_name"):
        pid = target[1].whereis_name(target[2])
        if pid is None:
            raise TraceError(f"trace: no process is registered as {target[2]!r} via {target[1].__name__}")
        return pid.node, pid
    raise TypeError(
        "trace: a target is a Pid, a registered name, (name, node), ('global', name) or "
        f"('via', Global, name), not {target!r}"
    )


def _events(events) -> tuple:
    events = (events,) if isinstance(events, str) else tuple(events)
    bad = [e for e in events if e not in EVENTS]
    if bad or not events:
        raise ValueError(f"trace: events are 'send' and/or 'receive', not {bad or events!r}")
    return events


def _many(targets) -> list:
    return list(targets) if type(targets) is list or type(targets) is set else [targets]


class _Trace:
    """``trace(target, events=("send", "receive"))`` and its ``stop``, ``record``, ``stop_recording``."""

    __module__ = "pydist"  # what it pickles under (see __reduce__)

    def __init__(self) -> None:
        self._print_ref: Ref | None = None
        self._recording: tuple | None = None  # (ref, nodes)

    def __call__(self, target, events=EVENTS) -> str:
        """Print a line for each message ``target`` sends or receives (any node, above the prompt).

        ``target``: a pid, a registered name, ``(name, node)``, ``("global",
        name)`` or ``("via", Global, name)``; a list traces each. A name is
        followed: a server restarted under it stays traced. Ends with
        ``trace.stop(target)`` or ``trace.stop()``.
        """
        events = _events(events)
        if self._print_ref is None:
            self._print_ref = make_ref()
        send(_collector(), ("mode", self._print_ref, "print"))
        shown = [_ask(node, "add", self._print_ref, local, events) for node, local in map(resolve, _many(target))]
        return f"tracing {', '.join(shown)} ({', '.join(events)}); trace.stop() ends it"

    def stop(self, target=None) -> str:
        """Stop printing ``target``'s messages (no target: everyone's); ``"ok"``."""
        if self._print_ref is None:
            return "ok"
        refs = {self._print_ref}
        if target is None:
            for node in list(_AGENTS):
                try:
                    _ask(node, "remove", refs, None)
                except TraceError:
                    pass  # that node is gone: its agent went with it
            return "ok"
        for node, local in map(resolve, _many(target)):
            _ask(node, "remove", refs, local)
        return "ok"

    def record(self, targets, events=EVENTS) -> str:
        """Record the messages of ``targets`` (one or a list, as for ``trace``) for a chart."""
        if self._recording is not None:
            raise TraceError("trace.record: a recording is running; chart = trace.stop_recording() ends it")
        events = _events(events)
        ref = make_ref()
        send(_collector(), ("mode", ref, []))
        nodes: list[str] = []
        self._recording = (ref, nodes)
        try:
            for node, local in map(resolve, _many(targets)):
                _ask(node, "add", ref, local, events)
                if node not in nodes:
                    nodes.append(node)
        except BaseException:
            self.stop_recording()
            raise
        return (
            f"recording {len(_many(targets))} processes on {len(nodes)} nodes; chart = trace.stop_recording() ends it"
        )

    def stop_recording(self) -> Chart:
        """End the recording: its messages as a ``Chart`` (drawn at the prompt; ``.save``, ``.mermaid``)."""
        if self._recording is None:
            raise TraceError("trace.stop_recording: nothing is being recorded (start with trace.record(targets))")
        ref, nodes = self._recording
        self._recording = None
        for node in nodes:
            try:
                _ask(node, "remove", {ref}, None)  # its answer comes after the events it sent
            except TraceError:
                pass
        if any(n != RUNTIME.name for n in nodes):
            Process.sleep(0.05)  # an event being sent on another thread there as the spec went
        tag = make_ref()
        send(_collector(), ("take", ref, self_pid(), tag))
        m = receive(
            ANSWER_TIMEOUT, lambda m: type(m) is tuple and len(m) == 3 and m[0] == "$trace_reply" and m[1] == tag
        )
        return Chart(m[2])

    def __reduce__(self):
        return "trace"  # one per node: it pickles as pydist.trace

    def __repr__(self) -> str:
        return "trace(target, events=('send', 'receive')); trace.stop(target); trace.record(targets); trace.stop_recording()"


trace = _Trace()
