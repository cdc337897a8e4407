"""The scheduler: green processes run by the node's own I/O loop.

One thread per node, ``pydist-io``, runs a loop that

1. runs the green processes that are ready, each until it yields (a
   ``receive`` with nothing to take, a sleep, a blocking call handed to a
   helper thread, or a time slice used up by a process that keeps sending);
2. polls the sockets registered with it (the transport's ROUTER and its
   connection monitors) and a wake-up pipe, handing each readable one to its
   reader: a frame decoded there is put into the target mailbox and, if that
   process was waiting, the process joins the run queue and runs next, on
   this same thread — no other thread is woken for a message;
3. fires due timers (receive timeouts, sleeps).

A green process is a greenlet whose parent is the loop (the "hub"): it
yields by switching to the hub, and the hub switches back when the process
is ready. Greenlets are bound to the thread that made them, so every switch
happens on this thread; other threads (thread processes, the prompt, the
ZAP handler, timers) reach the loop only through :meth:`Scheduler.call_soon_threadsafe`:
a deque plus one byte on the pipe while the loop sleeps in ``poll``.

No asynchronous exception is ever raised into a green process: an exit
signal marks the process and wakes it if it waits, and the process raises
``ProcessExitSignal`` itself at its next yield (``receive``, a sleep).

A green process that does not yield (a long computation, a blocking call
into C) holds the loop. The *standby* thread notices within a quarter of a
second, takes over the sockets (they are guarded by ``io_lock``, which the
loop holds only while polling) and keeps serving pings, connection events,
nodedown and messages to thread processes until the loop comes back; after
about a second it logs one warning naming the process and the fix
(``spawn(fn, thread=True)``). docs/architecture.md compares this with
Erlang's preemption, gevent and asyncio.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import os
import select
import sys
import threading
import time
from collections import deque
from typing import Any

import greenlet

from .._base.errors import SystemLimit
from . import interrupts
from .state import Process, ProcessExitSignal, set_current

log = logging.getLogger("pydist")

_real_sleep = time.sleep
_get_ident = threading.get_ident

HOLD_WARNING = 1.0  # seconds a green process may hold the loop before a warning names it
STANDBY_AFTER = 0.25  # seconds before the standby thread serves the sockets meanwhile
SLICE_SENDS = 256  # sends a green process may do before it yields to others (fairness)
RUN_BUDGET = 256  # process slices the loop runs between two polls of its sockets
MAX_IDLE = 512  # parked worker greenlets kept for the next spawns
# CPython hands the GIL to a waiting thread only after the switch interval (5 ms by
# default). A green process that keeps yielding to other green processes never lets go
# of the GIL, so every blocking call of a thread process (the prompt, -e code) then
# waited up to 5 ms for it back: 1,000 spawn/exit pairs from the prompt took 80 s
# instead of 1.3 s. A shorter interval bounds that wait; it costs nothing without
# contention. Set once when the loop starts, and only if nobody changed the default.
SWITCH_INTERVAL = 0.0005
_DEFAULT_SWITCH_INTERVAL = 0.005


class Scheduler:
    """The node's loop: run queue, timers, readers, the standby thread."""

    def __init__(self) -> None:
        self._runq: deque[Process] = deque()
        self._idle: list = []  # parked worker greenlets (see _worker)
        self._incoming: deque = deque()  # callables posted by other threads (run on the loop)
        self._io_jobs: deque = deque()  # socket work posted by other threads (whoever polls runs it)
        self._timers: list = []  # heap of (when, seq, fn, arg)
        self._compact_at = 1024  # heap size that triggers dropping stale timers
        self._on_timeout = self._timeout  # one bound method: timers are told apart by identity
        self._seq = itertools.count()
        # Readers are polled by file descriptor: a plain fd, or a ZeroMQ socket's FD, which
        # signals *changes* only (edge-triggered). So a reader of a ZeroMQ socket reads until
        # the socket says it is empty, or returns True: "more may be waiting, call me again
        # before blocking" (a burst cut short). One poll(2) a wake-up, instead of zmq_poll's
        # two passes that ask every socket for its events each time.
        self._readers: dict = {}  # socket or fd -> callback()
        self._fds: dict[int, Any] = {}  # fd -> callback()
        self._reader_fd: dict = {}  # socket or fd -> its fd, taken when added (a closed socket has none)
        self._again: list = []  # readers to call before the next blocking poll
        self._poller = select.poll()
        # the transport's: send what the loop's processes queued; True if some had to stay
        self.flush: Any = _nothing_left
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._readers[self._wake_r] = self._drain_pipe
        self._reader_fd[self._wake_r] = self._wake_r
        self._fds[self._wake_r] = self._drain_pipe
        self._poller.register(self._wake_r, select.POLLIN)
        self._sleeping = False
        self._running = True
        self.io_lock = threading.Lock()  # held by whoever polls the sockets: the loop or the standby
        self.current: Process | None = None  # the green process running now (None: the hub)
        self.slice_start = 0.0
        self.sends = 0  # sends by the current process in this slice
        self.hub: greenlet.greenlet | None = None
        self.ident: int | None = None
        self._pool: Any = None  # threads for blocking calls of green processes (set by the runtime)
        self.on_start_failed: Any = None  # (process, reason) -> None: the runtime's exit bookkeeping
        if sys.getswitchinterval() == _DEFAULT_SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        started = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(started,), name="pydist-io", daemon=True)
        self.thread.start()
        started.wait()
        self._standby = threading.Thread(target=self._standby_loop, name="pydist-standby", daemon=True)
        self._standby.start()

    # -- which context are we in? ----------------------------------------------------
    def in_loop_thread(self) -> bool:
        return _get_ident() == self.ident

    def in_hub(self) -> bool:
        """On the loop, outside any process: handling a frame or a timer. Must never wait."""
        return _get_ident() == self.ident and self.current is None

    def polling_here(self) -> bool:
        """This thread serves the sockets now (the loop, or the standby while the loop is held)."""
        return (_get_ident() == self.ident and self.current is None) or _get_ident() == self._standby.ident

    def green_self(self) -> Process | None:
        """The green process calling this (None in a thread or in the hub)."""
        if _get_ident() == self.ident:
            return self.current
        return None

    # -- posting work ---------------------------------------------------------------
    def call_soon_threadsafe(self, fn, *args) -> None:
        """Run ``fn(*args)`` on the loop thread soon (from any thread)."""
        self._incoming.append((fn, args))
        if self._sleeping:
            self._poke()

    def call_io(self, fn, *args, timeout: float = 10.0):
        """Run socket work ``fn(*args)`` where the sockets are served, and return its value.

        Runs at once if this thread polls the sockets now (or is a green
        process on the loop); else it is posted and the caller waits.
        """
        if self.polling_here() or not self.thread.is_alive():
            return fn(*args)
        p = self.green_self()
        if p is not None:
            return self._call_io_green(p, fn, args)
        done = threading.Event()
        box: list = []
        self._io_jobs.append(_boxed(fn, args, box, done.set))
        self._poke()
        if not done.wait(timeout):
            raise TimeoutError("pydist: the node's I/O loop did not answer")
        return _unbox(box)

    def _call_io_green(self, p: Process, fn, args):
        """``call_io`` from a green process: the sockets are its own loop's, free unless
        the standby serves them (this process held the loop for long): then the job
        goes to the standby, and this process yields until it is done."""
        if self.io_lock.acquire(blocking=False):
            try:
                return fn(*args)
            finally:
                self.io_lock.release()
        box: list = []
        self._io_jobs.append(_boxed(fn, args, box))
        while not box:
            self._runq.append(p)
            self.hub.switch()  # type: ignore[union-attr]  # (an exit signal waits for the job's end)
        return _unbox(box)

    def post_io(self, fn, *args) -> None:
        """Socket work that nobody waits for (closing a connection)."""
        if self.polling_here() or not self.thread.is_alive():
            fn(*args)
            return
        self._io_jobs.append(lambda: fn(*args))
        self._poke()

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the loop is awake anyway

    def _drain_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # -- sockets ----------------------------------------------------------------------
    def add_reader(self, sock, callback) -> None:
        """Call ``callback()`` when ``sock`` (a zmq socket or an fd) may be readable.

        A zmq socket is polled through its FD, which signals changes only:
        ``callback`` must read until the socket is empty, or return True to be
        called again before the loop next blocks. It is called once soon after
        it is added, for what arrived before. Only from where the sockets are
        served (see :meth:`call_io`); remove it before the socket closes."""
        fd = sock if isinstance(sock, int) else sock.FD
        self._readers[sock] = callback
        self._reader_fd[sock] = fd
        self._fds[fd] = callback
        self._poller.register(fd, select.POLLIN)
        self._again.append(callback)

    def remove_reader(self, sock) -> None:
        callback = self._readers.pop(sock, None)
        if callback is None:
            return
        self._forget_fd(self._reader_fd.pop(sock))
        self._again = [cb for cb in self._again if cb is not callback]

    def _forget_fd(self, fd: int) -> None:
        if self._fds.pop(fd, None) is not None:
            self._poller.unregister(fd)

    # -- green processes --------------------------------------------------------------
    def start(self, p: Process, job) -> None:
        """Run ``job()`` as the green process ``p`` (from any thread)."""
        p.job = job
        if _get_ident() == self.ident:
            self._runq.append(p)
        else:
            self.call_soon_threadsafe(self._runq.append, p)

    def wake(self, p: Process) -> None:
        """``p`` (a green process that waited) is ready to run (from any thread)."""
        if _get_ident() == self.ident:
            self._runq.append(p)
        else:
            self._incoming.append((self._runq.append, (p,)))
            if self._sleeping:
                self._poke()

    def wait(self, p: Process, deadline: float | None) -> None:
        """Yield until woken (or ``deadline``): called by ``p`` itself, in ``receive``."""
        p.wait_token += 1  # any older timer of this process is stale from now on
        if deadline is not None:
            timers = self._timers
            heapq.heappush(timers, (deadline, next(self._seq), self._on_timeout, (p, p.wait_token)))
            if len(timers) > self._compact_at:
                self._compact_timers()
        self.hub.switch()  # type: ignore[union-attr]

    def _compact_timers(self) -> None:
        """Drop the timers of waits that ended long before their deadline (a
        server answering calls made with long timeouts would pile them up)."""
        on_timeout = self._on_timeout
        live = [t for t in self._timers if t[2] is not on_timeout or t[3][0].wait_token == t[3][1]]
        heapq.heapify(live)
        self._timers[:] = live
        self._compact_at = max(1024, 2 * len(live))

    def _timeout(self, arg) -> None:
        p, token = arg
        if p.wait_token == token and p.stop_waiting():
            self._runq.append(p)

    def yield_now(self, p: Process) -> None:
        """Let the others run (a process that keeps sending without receiving)."""
        self._runq.append(p)
        self.hub.switch()  # type: ignore[union-attr]
        if p.pending_exit is not None:
            raise ProcessExitSignal()

    def blocking(self, fn, *args):
        """Run a blocking call on a helper thread while the calling green process
        yields (connecting to a node, asking a name server, waiting for a reply
        frame): the loop keeps running meanwhile."""
        p = self.current
        if p is None or _get_ident() != self.ident:
            return fn(*args)
        box: list = []
        work = _boxed(fn, args, box, lambda: self.call_soon_threadsafe(self._runq.append, p))

        assert self._pool is not None
        self.flush()  # the helper's frames must not overtake what this process sent before
        try:
            self._pool.submit(work)
        except RuntimeError as err:  # no helper thread could be started
            raise SystemLimit(
                f"cannot start a helper thread for a blocking call ({err}); this node runs "
                f"{threading.active_count()} threads: stop some thread processes"
            ) from None
        while not box:
            p.set_waiting()  # an exit signal wakes it; a message's wake-up is only spurious
            self.hub.switch()  # type: ignore[union-attr]
            if p.pending_exit is not None and not box:
                p.stop_waiting()
                raise ProcessExitSignal()  # the helper's late result is dropped
        p.stop_waiting()
        return _unbox(box)

    def spend(self) -> None:
        """One primitive call (send, spawn, print, a receive that found its
        message) by the running green process: every ``SLICE_SENDS`` calls it
        lets the others and the sockets have a turn. Loop thread only."""
        p = self.current
        if p is None:
            return
        if p.pending_exit is not None:
            raise ProcessExitSignal()  # an exit signal lands at any primitive, not only a yield
        self.sends += 1
        if self.sends >= SLICE_SENDS:
            self.yield_now(p)

    def sleep(self, seconds: float) -> None:
        """Cooperative sleep of the calling green process (exit signals end it)."""
        p = self.current
        assert p is not None
        if seconds <= 0:
            self.yield_now(p)
            return
        try:
            p.receive(seconds, _never)
        except TimeoutError:
            pass

    # -- the loop ---------------------------------------------------------------------
    def _main(self, started: threading.Event) -> None:
        self.ident = _get_ident()
        self.hub = greenlet.getcurrent()
        started.set()
        try:
            self._loop()
        except BaseException as err:  # the loop cannot go on: leave, so peers see nodedown
            try:
                log.critical("pydist: the node's I/O loop failed (%s: %s); the node exits", type(err).__name__, err)
                sys.stderr.write(f"pydist: the node's I/O loop failed ({type(err).__name__}: {err}); exiting\n")
                sys.stderr.flush()
            finally:
                os._exit(70)

    def _loop(self) -> None:
        runq, incoming, timers = self._runq, self._incoming, self._timers
        monotonic = time.monotonic
        while self._running:
            while incoming:
                fn, args = incoming.popleft()
                try:
                    fn(*args)
                except BaseException:  # the loop must outlive anything a task lets out
                    log.exception("pydist: a task posted to the I/O loop failed")
            if runq:
                self._run_ready()
            if runq or incoming or self._again:
                timeout = 0
            elif timers:
                timeout = max(0, int((timers[0][0] - monotonic()) * 1000) + 1)
            else:
                timeout = 1000
            self._sleeping = True
            if incoming:
                timeout = 0
            with self.io_lock:
                if self.flush() and timeout > 1:
                    timeout = 1  # a peer's queue was full: try again soon
                self._poll_once(timeout)
            self._sleeping = False
            if timers and timers[0][0] <= monotonic():
                now = monotonic()
                while timers and timers[0][0] <= now:
                    _, _, fn, arg = heapq.heappop(timers)
                    try:
                        fn(arg)
                    except BaseException:
                        log.exception("pydist: a timer failed")
        self.flush()  # what the last processes sent leaves before the sockets close

    def _run_ready(self) -> None:
        """Run ready processes, those they wake included, up to ``RUN_BUDGET``
        slices: then the sockets get their turn (a poll costs a system call,
        so a local exchange between green processes does not pay one a hop)."""
        runq, idle = self._runq, self._idle
        hub = self.hub
        monotonic = time.monotonic
        began = monotonic()
        for n in range(RUN_BUDGET):
            if not runq:
                return
            if n & 15 == 15 and monotonic() - began > 0.005:
                return  # the sockets and the timers get their turn at least every few ms
            p = runq.popleft()
            g = p.glet
            job = None
            if g is None:
                job = p.job
                if job is None:
                    continue  # finished, or woken twice
                p.job = None
                # a parked greenlet of a finished process costs a switch; a new one ten times that
                if idle:
                    g = p.glet = idle.pop()
                    g.gr_context = contextvars.Context()  # each process starts with fresh context variables
                else:
                    try:
                        g = p.glet = greenlet.greenlet(self._worker, hub)
                    except MemoryError:
                        self._out_of_memory(p)
                        continue
            elif g.dead:
                p.glet = None
                continue
            self.current = p
            self.sends = 0
            self.slice_start = monotonic()
            set_current(p)
            try:
                if job is None:
                    g.switch()
                else:
                    g.switch(job)
            except BaseException:  # a process body lets nothing out; if one does, the loop goes on
                log.exception("pydist: process %s escaped its runner", p.pid)
                p.glet = None
            finally:
                self.current = None
                set_current(None)

    def _out_of_memory(self, p: Process) -> None:
        log.error(
            "process %s could not start: out of memory (this node runs %d green processes ready to run); "
            "stop some processes, or give the machine more memory",
            p.pid,
            len(self._runq),
        )
        if self.on_start_failed is not None:
            self.on_start_failed(p, ("system_limit", "out of memory"))

    def _worker(self, job) -> None:
        """A greenlet that runs processes one after the other: when one ends it
        parks (up to ``MAX_IDLE`` of them) for the next spawn instead of dying."""
        idle, hub_switch = self._idle, self.hub.switch  # type: ignore[union-attr]
        me = greenlet.getcurrent()
        while True:
            job()
            p = self.current
            if p is not None:
                p.glet = None  # this process is done with its greenlet
            job = p = None  # a parked greenlet must not keep the last process's data alive
            if len(idle) >= MAX_IDLE:
                return
            idle.append(me)
            job = hub_switch()

    def _poll_once(self, timeout: int) -> None:
        again = self._again
        if again:
            self._again = []
            for cb in again:
                self._read(cb)
            timeout = 0  # what the readers took may have woken processes
        fds = self._fds
        try:
            ready = self._poller.poll(timeout)
        except InterruptedError:
            ready = []
        for fd, events in ready:
            cb = fds.get(fd)
            if cb is None:
                continue
            if events & select.POLLNVAL:  # closed while still registered: never poll it again
                log.error("pydist: a socket was closed while the loop still read it; it is dropped")
                self._forget_fd(fd)
                continue
            self._read(cb)
        jobs = self._io_jobs
        while jobs:
            job = jobs.popleft()
            try:
                job()
            except BaseException:
                log.exception("pydist: socket work failed")

    def _read(self, cb) -> None:
        try:
            if cb():
                self._again.append(cb)  # a burst cut short: the rest before the next block
        except BaseException:  # anything a reader lets out is logged; the loop goes on
            log.exception("pydist: error while reading from a socket")
            # Its socket may hold more and will not signal again (its FD is edge-triggered):
            # read it again soon, not at once (a reader that always fails must not spin).
            heapq.heappush(self._timers, (time.monotonic() + 0.05, next(self._seq), self._retry_reader, cb))

    def _retry_reader(self, cb) -> None:
        if cb in self._fds.values():  # still registered
            self._again.append(cb)

    # -- the standby ------------------------------------------------------------------
    def _standby_loop(self) -> None:
        warned = None
        while self._running:
            _real_sleep(STANDBY_AFTER / 2)
            p, since = self.current, self.slice_start
            if p is None or time.monotonic() - since < STANDBY_AFTER:
                continue
            if not self.io_lock.acquire(blocking=False):
                continue
            try:
                while self._running and self.current is p and self.slice_start == since:
                    held = time.monotonic() - since
                    if held >= HOLD_WARNING and warned != (p, since):
                        warned = (p, since)
                        log.warning(
                            "process %s (%s) has held the scheduler for %.1f s without yielding%s; "
                            "other green processes wait meanwhile. Run blocking or long work in a "
                            "thread process: spawn(fn, thread=True)",
                            p.pid,
                            _describe(p),
                            held,
                            self._where_stuck(),
                        )
                    self.flush()  # what the holder sent before it stopped yielding
                    self._poll_once(50)
            finally:
                self.io_lock.release()

    def _where_stuck(self) -> str:
        frame = sys._current_frames().get(self.ident or 0)
        if frame is None:
            return ""
        code = frame.f_code
        return f" (now in {code.co_name}, {code.co_filename}:{frame.f_lineno})"

    def stop(self) -> None:
        """Stop the loop (the node is exiting): no green process runs past here,
        so nothing touches the sockets while the transport closes them."""
        if not self._running:
            return
        self._running = False
        self._poke()
        if threading.current_thread() is not self.thread:
            self.thread.join(2.0)

    def stats(self) -> dict:
        return {"ready": len(self._runq), "timers": len(self._timers), "readers": len(self._readers)}


def _boxed(fn, args, box: list, then=None):
    """A job that runs ``fn(*args)`` wherever it is called and puts ``(True, value)``
    or ``(False, exception)`` in ``box`` for the waiter, then calls ``then()``."""

    def job():
        try:
            box.append((True, fn(*args)))
        except BaseException as err:  # handed back to the waiter
            box.append((False, err))
        if then is not None:
            then()

    return job


def _unbox(box: list):
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _never(_msg) -> bool:
    return False


def _nothing_left() -> bool:
    return False


def _describe(p: Process) -> str:
    fn = p.label
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# -- time.sleep inside a green process sleeps that process only ----------------------
SCHEDULER: Scheduler | None = None


@interrupts.transparent
def _green_aware_sleep(seconds: float) -> None:
    s = SCHEDULER
    if s is not None and s.current is not None and _get_ident() == s.ident:
        s.sleep(seconds)
    else:
        _real_sleep(seconds)


def install_sleep() -> None:
    """``time.sleep`` becomes cooperative in green processes (and stays the real
    sleep everywhere else). The only global patch pydist makes."""
    if time.sleep is _real_sleep:
        time.sleep = _green_aware_sleep
