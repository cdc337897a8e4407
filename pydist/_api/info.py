"""Introspection: ``process_info(pid)`` (``Process.info``), every process of the node, ``i()``.

What a process is doing is read from the runtime's table and from its
stack (``sys._current_frames`` for a thread process, the greenlet's frame
for a green one), never by asking the process: a stuck process is the one
you most want to look at. Only reads: this module changes nothing.

``process_info`` of a pid of another node asks that node (``rpc.call``);
``rpc`` is reached through the facade at call time because the process
API (below ``rpc`` in the layers) hooks this module in.

System processes (the io server, the name servers of ``Global`` and
``pg``, cluster strategies) are listed with the user's, marked as such,
as Erlang's ``processes()`` lists the kernel's.
"""

from __future__ import annotations

import os
import reprlib
import sys
from collections import deque

from .._base.terms import Pid
from .._core.runtime import RUNTIME

__all__ = ["i", "process_info", "processes"]

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# frames that are pydist's plumbing, not what a process is doing: the kernel, and the
# prompt's stand-ins for built-ins loaded on use
_KERNEL = (
    os.path.join(_PKG, "_core"),
    os.path.join(_PKG, "_api"),
    os.path.join(_PKG, "_net"),
    os.path.join(_PKG, "_repl", "namespace.py"),
)
_SERVER_LOOP = os.path.join(_PKG, "_otp", "server_loop.py")
_MESSAGES_SHOWN = 100

# GenServers of these modules are pydist's own: listed as system processes
_SYSTEM_SERVERS = {
    "pydist._otp.global_": "Global name server",
    "pydist._otp.pg": "pg scope",
    "pydist._otp.cluster": "cluster strategy",
}
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


def _frames(p) -> list:
    """The process's stack, innermost first (empty if it is not running Python now)."""
    f = None
    glet = getattr(p, "glet", None)
    if glet is not None:
        f = getattr(glet, "gr_frame", None)
    if f is None and p.thread_ident is not None and glet is None:
        f = sys._current_frames().get(p.thread_ident)
    out = []
    while f is not None:
        out.append(f)
        f = f.f_back
    return out


def _where(f) -> str:
    code = f.f_code
    mod = f.f_globals.get("__name__", "?")
    return f"{mod}.{getattr(code, 'co_qualname', code.co_name)} ({os.path.basename(code.co_filename)}:{f.f_lineno})"


def _server_class(frames):
    """The callback class of a process in a GenServer's loop (None for any other)."""
    for f in frames:
        if f.f_code.co_filename == _SERVER_LOOP and f.f_code.co_name == "loop":
            inst = f.f_locals.get("inst")
            return type(inst) if inst is not None else None
    return None


def _kind(p, cls) -> str | None:
    """What a system process is (None: it is the user's)."""
    if p.handler is not None:
        return "io server" if p.pid == RUNTIME.user_io else "handler"
    return _SYSTEM_SERVERS.get(getattr(cls, "__module__", ""))


def _size(obj, seen: set, budget: list) -> int:
    """A rough deep size (Erlang's ``memory`` is in words; this is bytes, an estimate)."""
    if id(obj) in seen or budget[0] <= 0:
        return 0
    seen.add(id(obj))
    budget[0] -= 1
    n = sys.getsizeof(obj, 64)
    try:  # another process may be changing its containers meanwhile: a copy, or a guess
        if isinstance(obj, (tuple, list, set, frozenset, deque)):
            n += sum(_size(x, seen, budget) for x in list(obj))
        elif isinstance(obj, dict):
            n += sum(_size(k, seen, budget) + _size(v, seen, budget) for k, v in list(obj.items()))
    except RuntimeError:
        pass
    return n


def _status(p) -> str:
    if p.handler is not None:
        return "waiting"
    if p.pending_exit is not None:
        return "exiting"
    if p.waiting:
        return "waiting"
    if getattr(p, "sched", None) is not None and getattr(p, "glet", None) is None:
        return "runnable"
    return "running"


def _local_info(p) -> dict:
    frames = _frames(p)
    cls = _server_class(frames)
    user = next((f for f in frames if not f.f_code.co_filename.startswith(_KERNEL)), None)
    label = getattr(p, "label", None)
    with p.cond:
        queue = list(p.mailbox)
    seen: set = set()
    budget = [20000]
    memory = sys.getsizeof(p) + _size(queue, seen, budget) + sum(sys.getsizeof(f) for f in frames)
    for f in frames:
        if not f.f_code.co_filename.startswith(_KERNEL):  # the user's variables, not ours
            memory += _size(f.f_locals, seen, budget)
    return {
        "pid": p.pid,
        "registered_name": p.registered_name,
        "status": _status(p),
        "message_queue_len": len(queue),
        "messages_in": p.msgs_in,  # delivered to it (queued or not yet received)
        "messages_out": p.msgs_out,  # sent by it
        "messages": queue[:_MESSAGES_SHOWN],
        "links": sorted(p.links, key=repr),
        "monitors": [("process", t) for t in p.monitoring.values()],
        "monitored_by": [w for w, _ in p.monitored_by.values()],
        "trap_exit": p.trap_exit,
        "group_leader": p.group_leader,
        "initial_call": getattr(label, "__qualname__", None) or (repr(label) if label is not None else None),
        "behaviour": f"GenServer {cls.__name__}" if cls is not None else None,
        "current_function": _where(user) if user is not None else (_where(frames[0]) if frames else None),
        "green": getattr(p, "sched", None) is not None,
        "system": _kind(p, cls),
        "memory": memory,
    }


def process_info(pid: Pid, item: str | None = None):
    """A dict about the process ``pid`` (None if it is not alive), or one ``item`` of it.

    Keys: ``status``, ``message_queue_len``, ``messages`` (the first 100),
    ``links``, ``monitors``, ``monitored_by``, ``registered_name``,
    ``current_function``, ``initial_call``, ``behaviour``, ``group_leader``,
    ``trap_exit``, ``green``, ``system`` (what it is, if pydist runs it),
    ``memory`` (bytes, estimated). A pid of another node is asked there.
    """
    if type(pid) is not Pid:
        raise TypeError(f"Process.info: expected a Pid, got {pid!r}")
    if not RUNTIME.is_local(pid):
        import pydist  # the facade: rpc sits above the process API that hooks this in

        return pydist.rpc.call(pid.node, process_info, pid, item)
    p = RUNTIME.local_proc(pid)
    if p is None or not p.alive:
        return None
    info = _local_info(p)
    return info if item is None else info.get(item)


def processes() -> list[Pid]:
    """Every live process of this node, system ones included (Erlang's ``processes()``)."""
    with RUNTIME.lock:
        return [p.pid for p in RUNTIME.procs.values() if p.alive]


def i(pid: Pid | None = None) -> None:
    """Print a table of this node's processes (``i()``), or one process's info (``i(pid)``)."""
    if pid is not None:
        info = process_info(pid)
        if info is None:
            print(f"{pid}: not alive")
            return
        width = max(len(k) for k in info)
        for k, v in info.items():
            print(f"{k.ljust(width)}  {_repr.repr(v)}")
        return
    rows = []
    for p in processes():
        info = process_info(p)
        if info is None:
            continue
        name = info["registered_name"] or ""
        what = info["behaviour"] or info["initial_call"] or ""
        if info["system"]:
            what = f"{what} [system: {info['system']}]".strip()
        current = (info["current_function"] or "").split(" (")[0]
        rows.append((str(p), name, what, info["status"], str(info["message_queue_len"]), current))
    head = ("Pid", "Name", "What", "Status", "Msgs", "Current function")
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
    print(f"{len(rows)} processes on {RUNTIME.name} ({sum(1 for r in rows if '[system' in r[2])} system)")
