"""Cancellable timers: ``send_after`` / ``cancel_timer`` / ``read_timer`` (Erlang's BIFs).

One timer service per node, not a thread per timer: a heap of deadlines
and one thread (``pydist-timer``) that sleeps on a ``threading.Condition``
until the earliest is due. A timer is a ``Ref``; cancelling removes it
from the table (its heap entry is skipped when it comes up), so cancel
and read are O(1). When green processes land, this moves onto the
scheduler (a timer becomes a deadline of its run loop) and the functions
here keep their meaning.

Which thread runs what: the timer thread only delivers to this node's
mailboxes (an append) and hands everything that may block -- a send to
another node, which may have to connect first, and the spawn of
``Timer.apply_after`` -- to one helper thread (``pydist-timer-io``), so a
slow peer never delays another timer.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time

from .._base.names import NONODE
from .._base.terms import Pid, Ref
from .._core.runtime import RUNTIME
from . import seconds as _seconds

__all__ = ["SERVICE", "apply_after", "cancel_timer", "check_dest", "deliver", "read_timer", "send_after", "start_timer"]


class _Timer:
    __slots__ = ("action", "due", "interval", "owner")

    def __init__(self, due, action, interval, owner):
        self.due, self.action, self.interval, self.owner = due, action, interval, owner


class TimerService:
    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._heap: list = []  # (due, seq, ref)
        self._timers: dict = {}  # ref -> _Timer
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._io: queue.SimpleQueue = queue.SimpleQueue()
        self._io_thread: threading.Thread | None = None

    def start(self, seconds: float, action, interval=None, owner: Pid | None = None, ref: Ref | None = None) -> Ref:
        """Run ``action()`` (on the timer thread: it must not block) in ``seconds``,
        then every ``interval`` seconds if given, while ``owner`` (a local pid) lives."""
        for x in (seconds, interval):
            if x is not None and (not isinstance(x, (int, float)) or x < 0 or (x is interval and x == 0)):
                raise ValueError(f"a timer's time is a number of seconds (> 0 for an interval), not {x!r}")
        _seconds.check(seconds)
        ref = RUNTIME.make_ref() if ref is None else ref
        due = time.monotonic() + seconds
        with self._cond:
            self._timers[ref] = _Timer(due, action, interval, owner)
            heapq.heappush(self._heap, (due, next(self._seq), ref))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pydist-timer", daemon=True)
                self._thread.start()
            elif self._heap[0][2] == ref:
                self._cond.notify()  # a new earliest deadline
        return ref

    def cancel(self, ref) -> float | bool:
        with self._cond:
            t = self._timers.pop(ref, None)
        return False if t is None else max(0.0, t.due - time.monotonic())

    def read(self, ref) -> float | bool:
        with self._cond:
            t = self._timers.get(ref)
        return False if t is None else max(0.0, t.due - time.monotonic())

    def later(self, job) -> None:
        """Run ``job()`` on the helper thread (it may block: a connect, a spawn)."""
        if self._io_thread is None:
            with self._cond:
                if self._io_thread is None:
                    self._io_thread = threading.Thread(target=self._run_io, name="pydist-timer-io", daemon=True)
                    self._io_thread.start()
        self._io.put(job)

    def _run(self) -> None:
        heap, timers = self._heap, self._timers
        while True:
            with self._cond:
                while True:
                    while heap and heap[0][2] not in timers:
                        heapq.heappop(heap)  # cancelled
                    if not heap:
                        self._cond.wait()
                        continue
                    wait = heap[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                due, _, ref = heapq.heappop(heap)
                t = timers.get(ref)
                if t is None or t.due != due:
                    continue
                if t.owner is not None and not _alive(t.owner):
                    del timers[ref]  # its process is gone: so is the timer (as Erlang's)
                    continue
                if t.interval is None:
                    del timers[ref]
                else:
                    t.due = max(due + t.interval, time.monotonic())
                    heapq.heappush(heap, (t.due, next(self._seq), ref))
            try:
                t.action()
            except Exception:
                pass  # a timer's message to a name that is gone: no error, as in Erlang

    def _run_io(self) -> None:
        while True:
            job = self._io.get()
            try:
                job()
            except Exception:
                pass


SERVICE = TimerService()


def _alive(pid: Pid) -> bool:
    p = RUNTIME.local_proc(pid)
    return p is not None and p.alive


def _is_local(dest) -> bool:
    own = (RUNTIME.name, NONODE)
    if type(dest) is Pid:
        return dest.node in own
    if type(dest) is tuple:
        return dest[1] in own
    return True


def check_dest(dest, what: str) -> None:
    ok = type(dest) is Pid or (isinstance(dest, str) and dest)
    ok = ok or (type(dest) is tuple and len(dest) == 2 and isinstance(dest[0], str) and isinstance(dest[1], str))
    if not ok:
        raise TypeError(f"{what}: the destination must be a Pid, a registered name or (name, node), not {dest!r}")


def deliver(dest, msg):
    """The action of a message timer: a local append on the timer thread, anything else on the helper."""
    if _is_local(dest):
        return lambda: RUNTIME.send(dest, msg)
    return lambda: SERVICE.later(lambda: RUNTIME.send(dest, msg))


def send_after(dest, msg, seconds: float) -> Ref:
    """Send ``msg`` to ``dest`` (a Pid, a name, ``(name, node)``) in ``seconds``; the timer's ``Ref``.

    A timer to a pid of this node goes with that process (as Erlang's); a
    name is looked up when the timer fires (nothing happens if it is gone).
    """
    check_dest(dest, "Process.send_after")
    owner = dest if type(dest) is Pid and _is_local(dest) else None
    return SERVICE.start(seconds, deliver(dest, msg), owner=owner)


def start_timer(seconds: float, dest, msg) -> Ref:
    """Erlang's ``erlang:start_timer``: ``(("timeout", ref, msg))`` arrives at ``dest``."""
    check_dest(dest, "start_timer")
    ref = RUNTIME.make_ref()
    owner = dest if type(dest) is Pid and _is_local(dest) else None
    return SERVICE.start(seconds, deliver(dest, ("timeout", ref, msg)), owner=owner, ref=ref)


def apply_after(seconds: float, fn, args, interval=None, owner: Pid | None = None) -> Ref:
    """``fn(*args)`` in a new process in ``seconds`` (then every ``interval``); its output
    goes where ``owner``'s does (the caller's group leader)."""
    if not callable(fn):
        raise TypeError(f"Timer.apply_after: expected a function, got {fn!r}")
    p = RUNTIME.local_proc(owner) if owner is not None else None
    gl = p.group_leader if p is not None else None
    return SERVICE.start(
        seconds, lambda: SERVICE.later(lambda: RUNTIME.spawn(fn, tuple(args), group_leader=gl)), interval, owner
    )


def cancel_timer(ref) -> float | bool:
    """Cancel a timer: the seconds it had left, or False if it had fired or was cancelled already."""
    return SERVICE.cancel(ref)


def read_timer(ref) -> float | bool:
    """The seconds a timer has left, or False if it has fired or was cancelled."""
    return SERVICE.read(ref)
