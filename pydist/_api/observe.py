"""What an observer asks of a node it shows: ``snapshot`` runs *on the observed node*.

The observer (``_repl/observer.py``) calls ``snapshot`` there once a
second with ``rpc.call(..., thread=True)``, so the work happens on a thread
process and never holds the node's loop. Each call renews a *lease*: for
``LEASE`` seconds more the node counts the messages its processes send and
receive (``_core/tracing.py``), and keeps the last messages of the process
in the detail pane. When the observer stops asking (it quit, its node went
away), the lease runs out on the timer thread and the node is back to one
test per message. ``end`` ends a lease at once.

Costs stay bounded on a node with many processes: every process is looked
at for its mailbox length, counters and a shallow memory estimate (enough
to sort), but the stack is walked only for the ``limit`` rows returned.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque

from .._base.terms import Pid
from .._core.runtime import RUNTIME
from .._core.tracing import TRACER, Spec
from . import info as _info
from .timers import SERVICE

__all__ = ["LEASE", "SORT_KEYS", "end", "snapshot"]

LEASE = 5.0  # seconds a node keeps counting after the last snapshot
RECENT = 20  # messages kept for the detail pane
SORT_KEYS = ("mailbox", "messages", "memory")
_rings: dict = {}  # observer -> (pid, Spec) of its detail pane
_expiry_due = False


def _started_at() -> float | None:
    """When this OS process started (wall clock), from /proc; None where there is none."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


_STARTED_AT = _started_at()


def _memory(p) -> int:
    """The process record and its mailbox, shallowly (an estimate that is cheap enough to sort by)."""
    box = p.mailbox
    n = sys.getsizeof(p) + sys.getsizeof(box)
    for m in list(box)[:1000]:
        n += sys.getsizeof(m)
    return n


def _row(p, counts) -> dict:
    frames = _info._frames(p)
    cls = _info._server_class(frames)
    user = next((f for f in frames if not f.f_code.co_filename.startswith(_info._KERNEL)), None)
    label = p.label
    what = f"GenServer {cls.__name__}" if cls is not None else getattr(label, "__qualname__", None)
    current = _info._where(user) if user is not None else (_info._where(frames[0]) if frames else "")
    return {
        "pid": p.pid,
        "name": p.registered_name,
        "what": what or "",
        "current": current.split(" (")[0],
        "status": _info._status(p),
        "mailbox": len(p.mailbox),
        "messages": counts,
        "memory": _memory(p),
        "system": _info._kind(p, cls) or ("tracer" if p.pid in TRACER.quiet else None),
    }


def snapshot(observer, sort: str = "mailbox", limit: int = 0, detail: Pid | None = None) -> dict:
    """This node's figures for ``observer`` (any hashable key: its pid); renews its lease."""
    cpu = time.thread_time()
    TRACER.lease(observer, LEASE)
    _expire_later()
    with RUNTIME.lock:
        procs = [p for p in RUNTIME.procs.values() if p.alive]
    rows: list = []
    if limit:
        sent, got = TRACER.sent_by, TRACER.received_by
        keyed = []
        for p in procs:
            i = p.pid.id
            msgs = sent.get(i, 0) + got.get(i, 0)
            key = len(p.mailbox) if sort == "mailbox" else msgs if sort == "messages" else _memory(p)
            keyed.append((key, msgs, p))
        keyed.sort(key=lambda t: (-t[0], t[2].pid.id))
        rows = [_row(p, msgs) for _key, msgs, p in keyed[:limit]]
    dist = RUNTIME.dist
    out = {
        "node": RUNTIME.name,
        "hidden": bool(getattr(dist, "hidden", False)),
        "started": _STARTED_AT,
        "now": time.time(),
        "processes": len(procs),
        "sent": TRACER.sent_total,
        "received": TRACER.received_total,
        "rows": rows,
        "detail": _detail(observer, detail),
    }
    out["cost"] = time.thread_time() - cpu  # what this snapshot cost the node (CPU seconds)
    return out


def _detail(observer, pid: Pid | None):
    """``process_info`` of ``pid`` and its last messages (kept from the first time it was asked)."""
    old = _rings.get(observer)
    if old is not None and old[0] != pid:
        TRACER.remove(lambda s, spec=old[1]: s is not spec)
        _rings.pop(observer, None)
        old = None
    if pid is None:
        return None
    info = _info.process_info(pid)
    if info is None:
        return {"pid": pid, "alive": False, "recent": list(old[1].ring or ()) if old else []}
    if old is None:
        spec = Spec(("$observer", observer), pid, ("send", "receive"), owner=None, ring=deque(maxlen=RECENT))
        TRACER.add(spec)
        _rings[observer] = (pid, spec)
        old = _rings[observer]
    info["alive"] = True
    info["messages"] = info["messages"][:RECENT]
    info["recent"] = list(old[1].ring or ())
    return info


def end(observer) -> str:
    """The observer is done: its lease and detail pane go now."""
    TRACER.end_lease(observer)
    _detail(observer, None)
    return "ok"


def _expire_later() -> None:
    global _expiry_due
    if not _expiry_due:
        _expiry_due = True
        SERVICE.start(LEASE, _expire)


def _expire() -> None:
    """On the timer thread: drop leases that ran out (and their detail panes); again later if some remain."""
    global _expiry_due
    TRACER.end_lease()
    for who in [w for w in _rings if w not in TRACER.leases]:
        _detail(who, None)
    _expiry_due = False
    if TRACER.leases:
        _expire_later()
