"""A process: a blocking Python function with a mailbox, run on a thread.

User processes are plain functions that block in ``receive()``, so each one
runs on an OS thread. Threads are recycled through a small pool because
starting one costs far more than a message round trip. A process is told to
exit by setting ``pending_exit`` and waking it: ``receive`` raises
``ProcessExitSignal`` (a BaseException, so ``except Exception`` in user
code does not swallow it); a process busy computing gets the same exception
asynchronously at its next bytecode.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque

from .._base.terms import Pid, Ref

_local = threading.local()


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
        "group_leader",
        "handler",
        "iobuf",
        "links",
        "mailbox",
        "monitored_by",
        "monitoring",
        "pending_exit",
        "pid",
        "registered_name",
        "spawned",
        "thread_ident",
        "trap_exit",
        "waiting",
    )

    def __init__(self, pid: Pid, group_leader: Pid | None, handler=None):
        self.pid = pid
        self.mailbox: deque = deque()
        self.cond = threading.Lock()  # guards mailbox, waiting, alive, pending_exit
        self._wake = threading.Lock()  # held while nobody has woken us: a binary semaphore
        self._wake.acquire()
        self.waiting = False
        self.links: set[Pid] = set()
        self.monitored_by: dict = {}  # ref -> watcher pid
        self.monitoring: dict = {}  # ref -> target (pid or (name, node))
        self.trap_exit = False
        self.group_leader = group_leader
        self.alive = True
        self.pending_exit = None
        self.thread_ident: int | None = None
        self.handler = handler  # set for io servers: called instead of queueing
        self.registered_name: str | None = None
        self.dropped_refs = _RecentSet()  # reply tags of calls that gave up waiting
        self.iobuf: dict = {}  # stream name -> text not yet sent to the group leader
        self.exit_from: Pid | None = None  # who sent pending_exit (the prompt prints it)
        # True only while the process runs user code outside receive(): the one
        # state in which an exit signal is raised asynchronously (see leave_user_code)
        self.async_ok = False
        self.spawned = False  # started by spawn (not a thread that called self())

    def deliver(self, msg) -> None:
        """Queue ``msg`` (any thread). Replies to abandoned calls are dropped."""
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
            self.mailbox.append(msg)
            if self.waiting:
                if _batch.thread == threading.get_ident():
                    _batch.woken.append(self)  # woken once, at the end of the I/O batch
                else:
                    self.waiting = False
                    self._wake.release()

    def receive(self, timeout: float | None, match=None):
        """The oldest message (for which ``match`` is true); see ``pydist.receive``."""
        if match is None and self.mailbox and self.pending_exit is None:
            try:  # only this process pops its mailbox, and deque ops are atomic
                return self.mailbox.popleft()
            except IndexError:
                pass
        deadline = None if timeout is None else time.monotonic() + timeout
        scanned = 0
        lock, box = self.cond, self.mailbox
        user_code = None  # whether we came from user code (async exit signals allowed)
        try:
            while True:
                with lock:
                    if user_code is None:  # receive is a safe point: no async exception in here
                        user_code, self.async_ok = self.async_ok, False
                    if self.pending_exit is not None:
                        _clear_async_exc()  # receive raises it itself: none may fire later
                        raise ProcessExitSignal()
                    if match is None:
                        if box:
                            self.async_ok, user_code = user_code, False  # back to user code
                            return box.popleft()
                    else:
                        n = len(box)
                        for i in range(scanned, n):
                            msg = box[i]
                            if match(msg):
                                del box[i]
                                self.async_ok, user_code = user_code, False
                                return msg
                        scanned = n
                    if deadline is None:
                        remaining = -1
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

    def drain(self) -> list:
        with self.cond:
            items = list(self.mailbox)
            self.mailbox.clear()
        return items

    def signal_exit(self, reason, from_: Pid | None = None) -> None:
        """Make this process exit with ``reason`` as soon as it can."""
        with self.cond:
            if not self.alive:
                return
            if self.pending_exit is None or reason == "killed":
                self.pending_exit = reason
                self.exit_from = from_
            # raised again for every signal: user code that swallowed one still dies
            if self.waiting:
                self.waiting = False
                self._wake.release()
            ident = self.thread_ident
            if self.async_ok and ident is not None and ident != threading.get_ident():
                # under the lock, so the target cannot leave user code meanwhile
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(ProcessExitSignal))

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
        slot = [threading.Condition(threading.Lock()), None]
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
