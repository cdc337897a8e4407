"""One process's state: mailbox, selective receive, exit signals.

This module owns a process's state: nothing else touches ``cond``,
``mailbox``, ``waiting`` or ``pending_exit`` directly (the runtime and the
API call the methods here).

Two kinds of process share this class and behave the same to every API:

- a *green* process (the default) is a greenlet run by the node's loop
  (``_core/scheduler.py``): ``receive`` with nothing to take yields to the
  loop, and an exit signal takes effect at the process's next yield — no
  asynchronous exception is ever raised into it;
- a *thread* process (the prompt, ``-e`` code, scripts, ``spawn(fn,
  thread=True)``) runs on an OS thread taken from a pool: ``receive``
  blocks on a lock used as a binary semaphore, and a signal for a thread
  busy in user code is raised asynchronously, but only at a safe point
  (``_core/interrupts.py``: never inside pydist, the standard library or
  an installed package, so no lock is left held).

``ProcessExitSignal`` is a BaseException, so ``except Exception`` in user
code does not swallow it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections import deque
from typing import Any

from .._base.terms import Pid, Ref, is_down
from . import interrupts

_local = threading.local()
log = logging.getLogger("pydist")

_NO_MAIL: tuple = ()  # the mailbox of a process that never got a message
_NO_LINKS: frozenset = frozenset()
MAILBOX_WARNING = 100_000  # a mailbox this long is said once (and checked against the limit)
# The node's Tracer (_core/tracing.py) while anything is traced or counted, else None:
# the hot path then pays one global load and test per message.
TRACER: Any = None


class ProcessExitSignal(BaseException):
    """Raised inside a process that received an exit signal it must obey."""


class Process:
    """Runtime state of one local process (never leaves its node).

    Waking uses a plain lock as a binary semaphore rather than a
    ``Condition``: a wake-up is then one C-level release/acquire, which
    matters because it sits on every message's path.
    """

    __slots__ = (
        "__weakref__",
        "_wake",
        "alive",
        "async_ok",
        "cond",
        "dropped_refs",
        "exit_from",
        "glet",
        "group_leader",
        "handler",
        "iobuf",
        "job",
        "label",
        "links",
        "mailbox",
        "mailbox_limit",
        "monitored_by",
        "monitoring",
        "msgs_in",
        "msgs_out",
        "pending_exit",
        "pid",
        "registered_name",
        "sched",
        "spawned",
        "thread_ident",
        "trap_exit",
        "wait_token",
        "waiting",
    )

    def __init__(self, pid: Pid, group_leader: Pid | None, handler=None, sched=None):
        self.pid = pid
        # an empty tuple until the first message: a waiting process costs no deque (~0.7 KiB)
        self.mailbox: Any = _NO_MAIL
        self.cond = threading.Lock()  # guards mailbox, waiting, alive, pending_exit
        self.sched = sched  # the node's Scheduler for a green process; None for a thread process
        self._wake: Any
        if sched is None:
            self._wake = threading.Lock()  # held while nobody has woken us: a binary semaphore
            self._wake.acquire()
        else:
            self._wake = None
        self.glet = None  # the greenlet, once the scheduler first runs it
        self.job = None  # what the greenlet will run
        self.wait_token = 0  # tells a receive's timer from an older one
        self.label = None  # the function it runs (for warnings and Process.info)
        self.mailbox_limit = 0  # 0: unbounded; else the process exits past this many messages
        self.msgs_in = 0  # messages delivered to it (Process.info)
        self.msgs_out = 0  # messages it sent
        self.waiting = False
        self.links: Any = _NO_LINKS  # a set once linked (most processes never are)
        self.monitored_by: dict = {}  # ref -> watcher pid
        self.monitoring: dict = {}  # ref -> target (pid or (name, node))
        self.trap_exit = False
        self.group_leader = group_leader
        self.alive = True
        self.pending_exit = None
        self.thread_ident: int | None = None
        self.handler = handler  # set for io servers: called instead of queueing
        self.registered_name: str | None = None
        self.dropped_refs: _RecentSet | None = None  # reply tags of calls that gave up waiting (made on first use)
        self.iobuf: dict = {}  # stream name -> text not yet sent to the group leader
        self.exit_from: Pid | None = None  # who sent pending_exit (the prompt prints it)
        # True only while the process runs user code outside receive(): the one
        # state in which an exit signal is raised asynchronously (see leave_user_code)
        self.async_ok = False
        self.spawned = False  # started by spawn (not a thread that called self())

    def add_link(self, pid: Pid) -> None:
        if self.links is _NO_LINKS:
            self.links = set()
        self.links.add(pid)

    def drop_link(self, pid: Pid) -> None:
        if self.links:
            self.links.discard(pid)

    def deliver(self, msg) -> None:
        """Queue ``msg`` (any thread). Replies to abandoned calls are dropped."""
        if TRACER is not None:
            TRACER.received(self, msg)
        if self.handler is not None:
            self.handler(msg)
            return
        dropped = self.dropped_refs
        with self.cond:
            if not self.alive:
                return
            if dropped and type(msg) is tuple and len(msg) > 1 and type(msg[1]) is Ref and msg[1] in dropped:
                dropped.discard(msg[1])  # the late reply of a call that gave up
                return
            box = self.mailbox
            if box is _NO_MAIL:
                box = self.mailbox = deque()
            box.append(msg)
            self.msgs_in += 1
            n = len(box)
            if self.waiting:
                sched = self.sched
                if sched is not None:
                    self.waiting = False
                    sched.wake(self)  # it runs next on the loop (or after the burst)
                elif _batch.thread == threading.get_ident():
                    _batch.woken.append(self)  # woken once, at the end of the I/O batch
                else:
                    self.waiting = False
                    self._wake.release()
        if n >= MAILBOX_WARNING or (self.mailbox_limit and n > self.mailbox_limit):
            self._long_mailbox(n)

    def _long_mailbox(self, n: int) -> None:
        limit = self.mailbox_limit
        if limit and n > limit:
            if self.pending_exit is None:
                log.error(
                    "process %s exceeded its mailbox limit of %d messages and is stopped "
                    "(raise it with Process.flag('max_mailbox', n), or make it read faster)",
                    self.pid,
                    limit,
                )
                self.signal_exit(("mailbox_full", limit))
        elif n == MAILBOX_WARNING:
            log.warning(
                "process %s has %d messages waiting in its mailbox (it reads slower than it is sent "
                "to; cap it with Process.flag('max_mailbox', n) to stop it instead)",
                self.pid,
                n,
            )

    def receive(self, timeout: float | None, match=None):
        """The oldest message (for which ``match`` is true); see ``pydist.receive``."""
        if match is None and self.mailbox and self.pending_exit is None:
            try:  # only this process pops its mailbox, and deque ops are atomic
                msg = self.mailbox.popleft()
            except IndexError:
                pass
            else:
                sched = self.sched
                if sched is not None and sched.current is self:
                    sched.spend()  # a process draining a backlog still lets the others run
                return msg
        if self.sched is not None:
            return self._receive_green(timeout, match)
        deadline = None if timeout is None else time.monotonic() + timeout
        scanned = 0
        lock = self.cond
        user_code = None  # whether we came from user code (async exit signals allowed)
        try:
            while True:
                with lock:
                    box = self.mailbox
                    if user_code is None:  # receive is a safe point: no async exception in here
                        user_code, self.async_ok = self.async_ok, False
                    if self.pending_exit is not None:
                        _clear_async_exc()  # receive raises it itself: none may fire later
                        raise ProcessExitSignal()
                    msg, scanned = _take(box, match, scanned)
                    if msg is not _NOTHING:
                        self.async_ok, user_code = user_code, False  # back to user code
                        return msg
                    if deadline is None:
                        remaining = -1.0
                    else:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise TimeoutError(f"receive: no matching message within {timeout} s")
                    self.waiting = True
                woken = False
                try:
                    woken = self._wake.acquire(True, remaining)
                finally:
                    if not woken:  # timed out or interrupted (Ctrl-C): undo our wait
                        with lock:
                            if self.waiting:
                                self.waiting = False
                            else:
                                self._wake.acquire(False)  # a wake-up raced the timeout: consume it
        finally:
            if user_code:  # leaving by an exception (timeout, Ctrl-C): back to user code
                with lock:
                    self.async_ok = self.pending_exit is None

    def _receive_green(self, timeout: float | None, match):
        """``receive`` of a green process: yield to the loop until a message, an
        exit signal or the deadline wakes it. Every yield is a safe point."""
        deadline = None if timeout is None else time.monotonic() + timeout
        scanned = 0
        lock, sched = self.cond, self.sched
        while True:
            with lock:
                box = self.mailbox
                if self.pending_exit is not None:
                    self.waiting = False
                    raise ProcessExitSignal()
                msg, scanned = _take(box, match, scanned)
                if msg is not _NOTHING:
                    self.waiting = False
                    return msg
                if deadline is not None and time.monotonic() >= deadline:
                    self.waiting = False
                    raise TimeoutError(f"receive: no matching message within {timeout} s")
                self.waiting = True
            sched.wait(self, deadline)

    def drop_reply(self, tag) -> None:
        """Remove the queued message tagged ``tag`` (``msg[1] == tag``), else drop it on arrival."""
        with self.cond:
            box = self.mailbox
            for i, m in enumerate(box):
                if type(m) is tuple and len(m) > 1 and type(m[1]) is type(tag) and m[1] == tag:
                    del box[i]
                    return
            if self.dropped_refs is None:
                self.dropped_refs = _RecentSet()
            self.dropped_refs.add(tag)

    def flush_down(self, ref) -> None:
        """Remove a queued ``("DOWN", ref, …)`` (``Process.demonitor(ref, flush=True)``)."""
        with self.cond:
            if self.mailbox:
                self.mailbox = deque(m for m in self.mailbox if not is_down(m, ref))

    def take_exit(self):
        """Clear a pending exit signal; ``(reason, from)`` or ``(None, None)``
        (the prompt survives exit signals and shows them)."""
        with self.cond:
            reason, from_ = self.pending_exit, self.exit_from
            self.pending_exit = None
            self.exit_from = None
        return reason, from_

    def mark_dead(self) -> bool:
        """The process is gone for the runtime; False if it already was."""
        with self.cond:
            if not self.alive:
                return False
            self.alive = False
            self.mailbox = _NO_MAIL
        return True

    def set_waiting(self) -> None:
        """A green process about to yield in a blocking call: exit signals wake it."""
        with self.cond:
            self.waiting = True

    def stop_waiting(self) -> bool:
        """A receive's deadline passed: True if the process still waited (it runs again)."""
        with self.cond:
            if not self.waiting:
                return False
            self.waiting = False
        return True

    def drain(self) -> list:
        with self.cond:
            items = list(self.mailbox)
            self.mailbox = _NO_MAIL
        return items

    def signal_exit(self, reason, from_: Pid | None = None) -> None:
        """Make this process exit with ``reason`` as soon as it can (any thread).

        A waiting process is woken and raises ``ProcessExitSignal`` itself. A
        green process that is running obeys at its next yield. A thread
        process busy in user code gets the exception asynchronously, at a
        safe point (``interrupts.request``); asked again for every signal, so
        user code that swallowed one still dies.
        """
        with self.cond:
            if not self.alive:
                # killed already, but a thread process may still run its user code (a
                # loop that swallowed the first exception): tell its thread again
                again = reason == "killed" and self.sched is None and self.async_ok and self.thread_ident is not None
                if again and self.thread_ident != threading.get_ident():
                    self.pending_exit = reason
                    interrupts.request(self, ProcessExitSignal)
                return
            if self.pending_exit is None or reason == "killed":
                self.pending_exit = reason
                self.exit_from = from_
            if self.waiting:
                self.waiting = False
                if self.sched is not None:
                    self.sched.wake(self)
                else:
                    self._wake.release()
                return
            ident = self.thread_ident
            interrupt = self.sched is None and self.async_ok and ident is not None and ident != threading.get_ident()
        if interrupt:
            interrupts.request(self, ProcessExitSignal)

    def enter_user_code(self) -> None:
        with self.cond:
            self.async_ok = True

    def leave_user_code(self) -> None:
        """From here on no exit signal is raised asynchronously in this thread.

        An asynchronous exception still pending from before is cleared, so it
        cannot fire later in pydist's own code or in the next process that
        reuses this pooled thread.
        """
        with self.cond:
            self.async_ok = False
            if self.pending_exit is not None:
                _clear_async_exc()


_NOTHING = object()


def _take(box, match, scanned: int):
    """Selective receive's one step, under the process's lock: the oldest
    message (matching ``match``; only those not looked at before, from
    ``scanned`` on) removed from ``box``, or ``_NOTHING``; and where to scan
    from next time."""
    if match is None:
        return (box.popleft() if box else _NOTHING), scanned
    n = len(box)
    for i in range(scanned, n):
        msg = box[i]
        if match(msg):
            del box[i]
            return msg, scanned
    return _NOTHING, n


def _clear_async_exc() -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.get_ident()), None)


class _RecentSet(dict):
    """A set that keeps only its newest ``LIMIT`` members (a reply that never
    comes must not keep its tag forever)."""

    LIMIT = 4096

    def add(self, item) -> None:
        self[item] = None
        if len(self) > self.LIMIT:
            del self[next(iter(self))]

    def discard(self, item) -> None:
        self.pop(item, None)


class _Batch:
    """Wake-ups the I/O thread defers while it drains a burst of frames.

    Waking a waiting process per message makes the I/O thread and that
    process trade the GIL on every frame; waking each process once per
    burst lets a burst land in its mailbox in one go (a single frame is a
    burst of one, so latency does not change).
    """

    def __init__(self):
        self.thread = None
        self.woken: list = []

    def begin(self) -> None:
        self.thread = threading.get_ident()

    def end(self) -> None:
        self.thread = None
        if not self.woken:
            return
        woken, self.woken = self.woken, []
        for p in woken:
            with p.cond:
                if p.waiting:
                    p.waiting = False
                    p._wake.release()


_batch = _Batch()
begin_batch = _batch.begin
end_batch = _batch.end


def current() -> Process | None:
    """The process running on this thread, if any."""
    return getattr(_local, "proc", None)


def set_current(proc: Process | None) -> None:
    _local.proc = proc


class WorkerPool:
    """Reusable daemon threads, so spawning a process rarely starts a thread."""

    IDLE_SECONDS = 30.0

    def __init__(self, name: str = "pydist-proc"):
        self._name = name
        self._lock = threading.Lock()
        self._idle: deque = deque()  # of [Condition, job-slot]

    def submit(self, job) -> None:
        with self._lock:
            while self._idle:
                slot = self._idle.pop()
                with slot[0]:
                    if slot[1] is None:
                        slot[1] = job
                        slot[0].notify()
                        return
        threading.Thread(target=self._worker, args=(job,), name=self._name, daemon=True).start()

    def _worker(self, job) -> None:
        slot: list[Any] = [threading.Condition(threading.Lock()), None]
        while True:
            try:
                job()
            except BaseException:  # a job must never kill a pooled thread silently
                pass
            slot[1] = None
            with self._lock:
                self._idle.append(slot)
            with slot[0]:
                if slot[1] is None:
                    slot[0].wait(self.IDLE_SECONDS)
                job = slot[1]
                if job is None:
                    slot[1] = False  # retired: submit() skips this slot
            if job is None:
                with self._lock:
                    try:
                        self._idle.remove(slot)
                    except ValueError:
                        pass
                return
