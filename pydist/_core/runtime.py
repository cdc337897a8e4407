"""The node's process table: spawn, send, exit signals, links, monitors.

One ``Runtime`` per OS process (``RUNTIME``). It works undistributed
(``nonode@nohost``); ``_dist.Distribution`` plugs in when the node gets a
name and forwards anything addressed to another node. Exit semantics are
Erlang's: a link carries exit signals both ways, ``trap_exit`` turns them
into ``("EXIT", pid, reason)`` messages, a monitor delivers one
``("DOWN", ref, "process", target, reason)``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import traceback
from typing import Any

import cloudpickle

from .._base.errors import Exit, SystemLimit
from .._base.names import NONODE, qualify
from .._base.terms import Pid, Ref
from .._base.tracebacks import user_traceback
from . import interrupts
from . import scheduler as _scheduler
from . import state as _state
from .ports import DistributionPort
from .scheduler import Scheduler
from .state import Process, ProcessExitSignal, WorkerPool, current, set_current

log = logging.getLogger("pydist")


def _target_node(target, own: str) -> str:
    if type(target) is Pid:
        return target.node
    if type(target) is tuple:
        return target[1]
    return own


@interrupts.boundary
def _call_user(fn, args):
    """Where pydist hands over to the process's function (a safe point for exit signals).

    Up to three arguments are passed with a plain call: CPython 3.11 runs a
    plain call of a Python function in the same C frame, while ``fn(*args)``
    enters a new one, and a green process's greenlet saves its C stack while
    it waits (0.36 KiB less per waiting process, measured)."""
    n = len(args)
    if n == 0:
        fn()
    elif n == 1:
        fn(args[0])
    elif n == 2:
        fn(args[0], args[1])
    elif n == 3:
        fn(args[0], args[1], args[2])
    else:
        fn(*args)


class Runtime:
    def __init__(self):
        self.name = NONODE
        self.creation = int.from_bytes(os.urandom(4), "big") or 1
        self.dist: DistributionPort | None = None  # set by pydist.start (a _core.dist.Distribution)
        self._next_id = 1
        self._id_lock = threading.Lock()
        # refs start where this incarnation's random creation says: a restarted node
        # does not hand out refs its previous life gave to peers still holding them
        self._refs = itertools.count((self.creation & 0xFFFFFF) << 20)
        self.procs: dict[int, Process] = {}
        self.names: dict[str, Process] = {}
        self.lock = threading.RLock()
        self.pool = WorkerPool()
        self._sched: Scheduler | None = None
        self.user_io: Pid | None = None
        self.crash_reporter: Any = None  # set by _iofwd: (proc, text) -> None
        self.flush_io: Any = None  # set by _iofwd: proc -> None (its unfinished lines, at exit)

    # -- identities ---------------------------------------------------------
    def new_pid(self) -> Pid:
        with self._id_lock:
            i = self._next_id
            self._next_id = i + 1
        return Pid(self.name, i, self.creation)

    def reserve_ids(self, count: int) -> int:
        """Set aside ``count`` pid ids (a peer spawns here with them, without asking)."""
        with self._id_lock:
            start = self._next_id
            self._next_id = start + count
        return start

    def make_ref(self) -> Ref:
        return Ref(self.name, next(self._refs))

    def is_local(self, pid: Pid) -> bool:
        return pid.node == self.name or pid.node == NONODE

    def local_proc(self, pid: Pid) -> Process | None:
        p = self.procs.get(pid.id)
        if p is not None and p.pid == pid:
            return p
        return None

    def require_dist(self, what: str):
        if self.dist is None:
            raise RuntimeError(
                f"{what}: this node is not distributed (it is {NONODE}); "
                "start it with pydist --sname NAME (or pydist.start('NAME'))"
            )
        return self.dist

    # -- processes ------------------------------------------------------------
    def adopt(self) -> Process:
        """The calling process; a thread that is none becomes one (the prompt, a script).

        A spawned process stays itself even once it is dead (killed, its exit
        not reached yet): it must not turn into a fresh process that lives on.
        """
        p = current()
        if p is not None and (p.alive or p.spawned):
            return p
        if self._sched is not None and self._sched.in_loop_thread():
            raise RuntimeError("pydist: the node's loop itself is not a process (a handler called a process API)")
        p = Process(self.new_pid(), self.user_io)
        p.thread_ident = threading.get_ident()
        with self.lock:
            self.procs[p.pid.id] = p
        set_current(p)
        return p

    def add_handler_process(self, handler) -> Pid:
        p = Process(self.new_pid(), None, handler=handler)
        with self.lock:
            self.procs[p.pid.id] = p
        return p.pid

    def spawn(
        self,
        fn,
        args=(),
        *,
        group_leader=None,
        link: Pid | None = None,
        monitor: tuple | None = None,
        payload: bytes | None = None,
        before_start=None,
        pid_id: int | None = None,
        thread: bool = False,
    ) -> Pid:
        """Start a process: green (run by the loop) unless ``thread`` is true."""
        pid = self.new_pid() if pid_id is None else Pid(self.name, pid_id, self.creation)
        sched = None if thread else self.scheduler()
        p = Process(pid, group_leader or self.user_io, sched=sched)
        p.spawned = True
        p.label = fn
        if link is not None:
            p.add_link(link)
        if monitor is not None:
            ref, watcher = monitor
            p.monitored_by[ref] = (watcher, p.pid)
        with self.lock:
            self.procs[p.pid.id] = p
        try:
            if before_start is not None:
                before_start(p.pid)  # e.g. the spawn reply, which must leave before any DOWN
            if sched is None:
                self.pool.submit(lambda: self._run_thread(p, fn, args, payload))
            else:
                sched.start(p, lambda: self._run_green(p, fn, args, payload))
        except MemoryError:
            with self.lock:
                self.procs.pop(p.pid.id, None)
            raise SystemLimit(
                f"spawn: out of memory with {len(self.procs):,} processes on this node; "
                "stop some, or give the machine more memory"
            ) from None
        except RuntimeError as err:  # no thread could be started: say which limit, no traceback
            with self.lock:
                self.procs.pop(p.pid.id, None)
            raise SystemLimit(
                f"spawn: cannot start another thread process ({err}); this node runs "
                f"{threading.active_count()} threads. Use green processes (the default, without "
                "thread=True) for many processes, or raise the limit (ulimit -u, vm.max_map_count)"
            ) from None
        except BaseException:  # e.g. the spawner was killed right here: no process left half-made
            with self.lock:
                self.procs.pop(p.pid.id, None)
            raise
        return p.pid

    def scheduler(self) -> Scheduler:
        """The node's loop (started on first use: a node that only runs its
        prompt does not need it until it spawns or connects)."""
        s = self._sched
        if s is None:
            with self._id_lock:
                s = self._sched
                if s is None:
                    s = Scheduler()
                    s._pool = self.pool
                    s.on_start_failed = self.process_exited
                    _scheduler.SCHEDULER = s
                    _scheduler.install_sleep()
                    self._sched = s
        return s

    def _body(self, p: Process, fn, args, payload):
        """Run the process's function; its exit reason (Erlang's)."""
        try:
            if payload is not None:
                fn, args = cloudpickle.loads(payload)
                p.label = fn
            _call_user(fn, args)
            if p.pending_exit is not None:  # the signal was caught and ignored
                return p.pending_exit
            return "normal"
        except ProcessExitSignal:
            return p.pending_exit
        except Exit as err:
            return err.reason
        except SystemExit:
            return "normal"
        except BaseException as err:
            self.report_crash(p, err)
            return ("exception", f"{type(err).__name__}: {err}")

    def _run_green(self, p: Process, fn, args, payload) -> None:
        # on the loop thread, as a greenlet: nothing interrupts it but its own yields
        reason = self._body(p, fn, args, payload)
        if reason is None:
            reason = "killed"
        self.process_exited(p, reason)

    def _run_thread(self, p: Process, fn, args, payload) -> None:
        set_current(p)
        p.thread_ident = threading.get_ident()
        reason: Any = "normal"
        try:
            p.enter_user_code()
            reason = self._body(p, fn, args, payload)
        except ProcessExitSignal:  # landed between user code and the exit bookkeeping
            reason = p.pending_exit
        while True:
            try:
                p.leave_user_code()
                break
            except ProcessExitSignal:  # a signal that landed on the way out
                reason = p.pending_exit
        p.thread_ident = None
        self.process_exited(p, "killed" if reason is None else reason)
        set_current(None)

    def report_crash(self, p: Process, err: BaseException) -> None:
        tb = "".join(traceback.format_exception(type(err), err, user_traceback(err)))  # from the user's frame on
        text = f"Process {p.pid} on node {self.name} raised an exception\n{tb}"
        if self.crash_reporter is not None:
            self.crash_reporter(p, text)
        else:
            log.error("%s", text.rstrip())

    def process_exited(self, p: Process, reason) -> None:
        if reason == "kill":
            reason = "killed"
        flush = self.flush_io
        if flush is not None and p.iobuf:
            flush(p)
        if not p.mark_dead():
            return  # already done (a "kill" does this at once, from the killer's side)
        with self.lock:
            self.procs.pop(p.pid.id, None)
            if p.registered_name is not None and self.names.get(p.registered_name) is p:
                del self.names[p.registered_name]
        # most processes have no links or monitors: each test is one truth check
        if p.links:
            for other in list(p.links):
                self.exit_signal(other, p.pid, reason, via_link=True)
        if p.monitored_by:
            for ref, (watcher, as_target) in list(p.monitored_by.items()):
                self.send_down(watcher, ref, as_target, reason)
        if self.dist is not None:
            self.dist.forget_watcher(p.pid)
        if not p.monitoring:
            return
        for ref, target in list(p.monitoring.items()):
            node = _target_node(target, self.name)
            if node != self.name and self.dist is not None:
                self.dist.send_signal(node, "DEMONITOR", (p.pid, target, ref))
            else:
                t = self._resolve_local(target)
                if t is not None:
                    t.monitored_by.pop(ref, None)

    # -- messages -------------------------------------------------------------
    def send(self, dest, msg):
        if _state.TRACER is not None:
            _state.TRACER.sent(dest, msg)
        if type(dest) is Pid:
            node = dest.node
            if node == self.name or node == NONODE:
                p = self.procs.get(dest.id)
                if p is not None and p.pid == dest:
                    p.deliver(msg)
            elif self.dist is not None:
                self.dist.send_message(node, dest, msg)
            return msg
        if isinstance(dest, str):
            p = self.names.get(dest)
            if p is None:
                raise ValueError(
                    f"send: no process is registered as {dest!r} on {self.name} "
                    "(check the name with Process.whereis, or send to a pid)"
                )
            p.deliver(msg)
            return msg
        if type(dest) is tuple and len(dest) == 2 and isinstance(dest[0], str) and isinstance(dest[1], str):
            name, node = dest
            if "@" not in node:
                node = qualify(node, self.name)  # a bare name means that node on this host
            if node == self.name or node == NONODE:
                p = self.names.get(name)
                if p is not None:
                    p.deliver(msg)
            elif self.dist is not None:
                self.dist.send_message(node, name, msg)
            return msg
        raise TypeError(f"send: the destination must be a Pid, a registered name or (name, node), not {dest!r}")

    def deliver_local(self, dest, msg) -> None:
        """A message that arrived from another node for a pid or a name here."""
        if type(dest) is Pid:
            self.deliver_id(dest.id, dest.creation, msg)
            return
        p = self.names.get(dest)
        if p is not None:
            p.deliver(msg)

    def deliver_id(self, id_: int, creation: int, msg) -> None:
        """A message from another node for the pid ``id_`` of incarnation ``creation`` here."""
        # ids are never reused within an incarnation: id + creation is enough
        p = self.procs.get(id_) if creation == self.creation else None
        if p is not None:
            p.deliver(msg)

    # -- registry -------------------------------------------------------------
    def register(self, name: str, pid: Pid) -> bool:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Process.register: the name must be a non-empty string, not {name!r}")
        with self.lock:
            if name in self.names:
                raise ValueError(f"Process.register: the name {name!r} is already registered to {self.names[name].pid}")
            p = self.local_proc(pid) if self.is_local(pid) else None
            if p is None or not p.alive:
                raise ValueError(f"Process.register: {pid} is not a live process on this node")
            if p.registered_name is not None:
                raise ValueError(f"Process.register: {pid} is already registered as {p.registered_name!r}")
            self.names[name] = p
            p.registered_name = name
        return True

    def unregister(self, name: str) -> bool:
        with self.lock:
            p = self.names.pop(name, None)
            if p is None:
                raise ValueError(f"Process.unregister: no process is registered as {name!r}")
            p.registered_name = None
        return True

    def whereis(self, name: str) -> Pid | None:
        p = self.names.get(name)
        return p.pid if p is not None else None

    def _resolve_local(self, target) -> Process | None:
        if type(target) is Pid:
            return self.local_proc(target)
        if type(target) is tuple:
            target = target[0]
        return self.names.get(target)

    # -- exit signals and links -------------------------------------------------
    def exit_signal(self, to: Pid, from_: Pid, reason, via_link: bool) -> None:
        if not self.is_local(to):
            if self.dist is not None:
                self.dist.send_signal(to.node, "EXIT", (from_, to, reason, via_link))
            return
        p = self.local_proc(to)
        if p is None or p.handler is not None:
            return
        if via_link:
            if from_ not in p.links:
                return
            p.drop_link(from_)
        if reason == "kill" and not via_link:
            p.signal_exit("killed", from_)
            if p.spawned:
                # Erlang's kill is immediate: links, monitors and the name go now, even
                # if the thread is stuck in C code (time.sleep) and dies only later
                self.process_exited(p, "killed")
        elif p.trap_exit:
            p.deliver(("EXIT", from_, reason))
        elif reason == "normal":
            if from_ == to:
                p.signal_exit("normal", from_)
        else:
            p.signal_exit(reason, from_)

    def link(self, p: Process, target: Pid) -> None:
        if target == p.pid:
            return
        if self.is_local(target):
            with self.lock:
                t = self.local_proc(target)
                if t is not None and t.alive:
                    t.add_link(p.pid)
                    p.add_link(target)
                    return
            p.add_link(target)
            self.exit_signal(p.pid, target, "noproc", via_link=True)
            return
        p.add_link(target)
        dist = self.dist
        if dist is None or not dist.send_signal(target.node, "LINK", (p.pid, target)):
            self.exit_signal(p.pid, target, "noconnection", via_link=True)

    def unlink(self, p: Process, target: Pid) -> None:
        p.drop_link(target)
        if self.is_local(target):
            t = self.local_proc(target)
            if t is not None:
                t.drop_link(p.pid)
        elif self.dist is not None:
            self.dist.send_signal(target.node, "UNLINK", (p.pid, target))

    def remote_link(self, from_: Pid, to: Pid) -> None:
        with self.lock:  # the same lock as the table in process_exited: no lost link
            t = self.local_proc(to)
            if t is not None and t.alive:
                t.add_link(from_)
                return
        self.exit_signal(from_, to, "noproc", via_link=True)

    # -- monitors ---------------------------------------------------------------
    def monitor(self, p: Process, target, make_msg=None) -> Ref:
        """Monitor ``target``; with ``make_msg``, also send it ``make_msg(ref)``
        — to another node as one frame (a call's monitor and request)."""
        ref = self.make_ref()
        if isinstance(target, str):
            target = (target, self.name)
        if make_msg is not None and _state.TRACER is not None:
            make_msg = _state.TRACER.wrap_call(target, make_msg)
        node = _target_node(target, self.name)
        if node == self.name or node == NONODE:
            with self.lock:
                t = self._resolve_local(target)
                if t is not None and t.alive:
                    p.monitoring[ref] = target
                    t.monitored_by[ref] = (p.pid, target)
                    if make_msg is not None:
                        t.deliver(make_msg(ref))
                    return ref
            p.deliver(("DOWN", ref, "process", target, "noproc"))
            return ref
        p.monitoring[ref] = target
        remote_target = target if type(target) is Pid else target[0]
        dist = self.dist
        if make_msg is None:
            sent = dist is not None and dist.send_signal(node, "MONITOR", (p.pid, remote_target, ref))
        else:
            sent = dist is not None and dist.send_signal(
                node, "MONITOR_SEND", (p.pid, remote_target, ref, make_msg(ref))
            )
        if not sent:
            p.monitoring.pop(ref, None)
            p.deliver(("DOWN", ref, "process", target, "noconnection"))
        return ref

    def end_watched(self, p: Process, ref: Ref) -> bool:
        """``p`` answers the call ``ref``: the caller's monitor on it ends here,
        with no frame (the caller forgets its side when the answer arrives)."""
        return p.monitored_by.pop(ref, None) is not None

    def forget_monitor(self, p: Process, ref: Ref) -> None:
        p.monitoring.pop(ref, None)

    def demonitor(self, p: Process, ref: Ref, flush: bool = False) -> bool:
        target = p.monitoring.pop(ref, None)
        if target is not None:
            node = _target_node(target, self.name)
            if node == self.name or node == NONODE:
                t = self._resolve_local(target)
                if t is not None:
                    t.monitored_by.pop(ref, None)
            elif self.dist is not None:
                self.dist.send_signal(node, "DEMONITOR", (p.pid, target if type(target) is Pid else target[0], ref))
        if flush:
            p.flush_down(ref)
        return target is not None

    def remote_monitor(self, watcher: Pid, target, ref: Ref) -> None:
        as_target = target if type(target) is Pid else (target, self.name)
        with self.lock:
            t = self._resolve_local(target)
            if t is not None and t.alive:
                t.monitored_by[ref] = (watcher, as_target)
                return
        self.send_down(watcher, ref, as_target, "noproc")

    def remote_demonitor(self, watcher: Pid, target, ref: Ref) -> None:
        t = self._resolve_local(target)
        if t is not None:
            t.monitored_by.pop(ref, None)

    def send_down(self, watcher: Pid, ref: Ref, as_target, reason) -> None:
        if self.is_local(watcher):
            self.deliver_down(watcher, ref, as_target, reason)
        elif self.dist is not None:
            self.dist.send_signal(watcher.node, "DOWN", (ref, watcher, as_target, reason))

    def deliver_down(self, watcher: Pid, ref: Ref, as_target, reason) -> None:
        w = self.local_proc(watcher)
        if w is not None and w.monitoring.pop(ref, None) is not None:
            w.deliver(("DOWN", ref, "process", as_target, reason))

    # -- a node went away ------------------------------------------------------
    def node_down(self, node: str) -> None:
        """Links and monitors that crossed to ``node`` fire with ``noconnection``."""
        with self.lock:
            procs = list(self.procs.values())
        # runs on the loop: most processes have no link or monitor, and a truth test
        # each keeps a node of a million processes from stalling for seconds here
        for p in procs:
            if p.links:
                for other in [pid for pid in list(p.links) if pid.node == node]:
                    self.exit_signal(p.pid, other, "noconnection", via_link=True)
            if p.monitoring:
                for ref, target in list(p.monitoring.items()):
                    if _target_node(target, self.name) == node:
                        self.deliver_down(p.pid, ref, target, "noconnection")
            if p.monitored_by:
                for ref, (watcher, _) in list(p.monitored_by.items()):
                    if watcher.node == node:
                        p.monitored_by.pop(ref, None)


RUNTIME = Runtime()
