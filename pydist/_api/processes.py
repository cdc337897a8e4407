"""Processes as in Elixir: ``spawn``, ``self``, ``send``, ``receive``,
``flush`` and the ``Process`` module.

Any thread that calls one of these becomes a process on first use (the
prompt, a script's main thread), so there is always a ``self()`` to reply
to. Spawning on another node goes through ``Node.spawn``.
"""

from __future__ import annotations

import logging
import threading

from .._base.errors import Exit
from .._base.terms import Pid, Ref
from .._core.runtime import RUNTIME
from .._core.state import ProcessExitSignal, current
from .._net import wire as _wire
from .._net.pickling import dumps_call
from . import seconds as _seconds

_get_ident = threading.get_ident

log = logging.getLogger("pydist")

__all__ = [
    "Process",
    "ProcessExitSignal",
    "drop_reply",
    "flush",
    "make_ref",
    "node",
    "receive",
    "self",
    "send",
    "spawn",
    "spawn_link",
    "spawn_monitor",
    "spawn_on",
]


def node() -> str:
    """This node's name, e.g. ``"foo@greyarea"`` (``"nonode@nohost"`` if not distributed)."""
    return RUNTIME.name


def self() -> Pid:
    """The calling process's pid."""
    return RUNTIME.adopt().pid


def make_ref() -> Ref:
    return RUNTIME.make_ref()


def send(dest, msg):
    """Send ``msg`` to a Pid, a registered name or ``(name, node)``; returns ``msg``.

    Never raises for a dead pid or a ``(name, node)``; raises ValueError
    for a local name that is not registered, as Erlang does.
    """
    RUNTIME.send(dest, msg)
    sched = RUNTIME._sched
    if sched is not None:
        p = sched.current
        if p is not None and _get_ident() == sched.ident:  # a green process: the hot path
            p.msgs_out += 1
            sched.spend()
            return msg
    me = current()
    if me is not None:
        me.msgs_out += 1  # Process.info's messages out
    return msg


def _spend() -> None:
    """A green process that keeps sending or spawning without receiving lets
    the others (and the sockets) have a turn every ``SLICE_SENDS`` calls."""
    sched = RUNTIME._sched
    if sched is not None and sched.current is not None and sched.in_loop_thread():
        sched.spend()


def receive(timeout: float | None = None, match=None):
    """The oldest message in the mailbox (the oldest with ``match(msg)`` true).

    Blocks until one arrives; raises ``TimeoutError`` after ``timeout``
    seconds. Ctrl-C interrupts it at the prompt.
    """
    if timeout is not None:
        _seconds.check(timeout)
    return RUNTIME.adopt().receive(timeout, match)


def drop_reply(tag) -> None:
    """A call gave up waiting for the reply tagged ``tag`` (``msg[1] == tag``):
    remove it if it is queued already, else drop it when it arrives, so a
    late reply never pollutes the mailbox (used by GenServer.call on timeout).
    """
    RUNTIME.adopt().drop_reply(tag)


def flush() -> None:
    """Print every message in the mailbox, one per line, and empty it."""
    for msg in RUNTIME.adopt().drain():
        print(repr(msg))


def spawn_on(
    target_node,
    fn,
    args,
    *,
    link=False,
    monitor=False,
    what="spawn",
    timeout: float | None = None,
    quiet: bool = False,
    thread: bool = False,
    monitor_ref: Ref | None = None,
):
    """Start ``fn(*args)`` on ``target_node`` (None: here); returns (pid, ref).

    ``monitor_ref``: the monitor's ref, made by the caller (``rpc.call``
    hands it to the new process, which ends the monitor as it answers).

    A node that is down, unreachable, or does not answer within ``timeout``
    (default: long enough for a slow node, short enough to never hang)
    gives a dead pid (id 0) whose link/monitor fire with ``noconnection``.
    ``thread=True`` runs the process on its own OS thread instead of as a
    green process (for blocking I/O or long computations).
    """
    caller = RUNTIME.adopt()
    ref = monitor_ref if monitor_ref is not None else RUNTIME.make_ref() if monitor else None

    def record(pid):  # before the new process can exit, so no signal is missed
        if link:
            caller.add_link(pid)
        if ref is not None:
            caller.monitoring[ref] = pid

    if target_node is None or target_node == RUNTIME.name:
        if not callable(fn):
            raise TypeError(f"{what}: expected a function, got {fn!r}")
        pid = RUNTIME.spawn(
            fn,
            args,
            group_leader=caller.group_leader,
            link=caller.pid if link else None,
            monitor=(ref, caller.pid) if ref is not None else None,
            before_start=record,
            thread=thread,
        )
        _spend()
        return pid, ref
    dist = RUNTIME.require_dist(what)
    payload = dumps_call(fn, args, target_node, what)
    pid_id, peer = dist.take_spawn_id(target_node)
    if pid_id is not None:  # connected, with ids of that node in hand: no round trip
        pid = Pid(target_node, pid_id, peer.creation)
        record(pid)
        if not dist.spawn_at(peer, (caller.pid, caller.group_leader, payload, link, ref, pid_id, thread)):
            _spawn_failed(caller, pid, link, ref)  # the connection closed under us
        return pid, ref
    pid = dist.request(
        target_node,
        _wire.SPAWN,
        lambda r: (r, caller.pid, caller.group_leader, payload, link, ref, thread),
        timeout=dist.connect_timeout + 2 * dist.ticktime + 5 if timeout is None else timeout,
        on_reply=record,
    )
    if pid is None:
        if not quiet:
            log.warning(
                "%s: can not start %s on %s: the node is down or unreachable",
                what,
                getattr(fn, "__name__", fn),
                target_node,
            )
        pid = Pid(target_node, 0, 0)
        record(pid)
        _spawn_failed(caller, pid, link, ref)
    return pid, ref


def _spawn_failed(caller, pid, link, ref) -> None:
    """The process never started: its link and monitor fire as for a lost node."""
    if link:
        RUNTIME.exit_signal(caller.pid, pid, "noconnection", via_link=True)
    if ref is not None:
        RUNTIME.deliver_down(caller.pid, ref, pid, "noconnection")


def spawn(fn, *args, thread: bool = False) -> Pid:
    """Run ``fn(*args)`` in a new process on this node; returns its pid at once.

    The process is green (a greenlet run by the node's loop: kilobytes, no
    thread) unless ``thread=True``, which gives it an OS thread of its own —
    for code that blocks (sockets, files, ``input``) or computes for long
    without calling ``receive``.
    """
    return spawn_on(None, fn, args, thread=thread)[0]


def spawn_link(fn, *args, thread: bool = False) -> Pid:
    return spawn_on(None, fn, args, link=True, what="spawn_link", thread=thread)[0]


def spawn_monitor(fn, *args, thread: bool = False) -> tuple[Pid, Ref]:
    return spawn_on(None, fn, args, monitor=True, what="spawn_monitor", thread=thread)


class Process:
    """Elixir's ``Process`` module."""

    @staticmethod
    def register(pid: Pid, name: str) -> bool:
        """Register ``pid`` under ``name`` on this node (as ``Process.register/2``)."""
        if not isinstance(pid, Pid):
            raise TypeError(f"Process.register: expected a Pid, got {pid!r}")
        return RUNTIME.register(name, pid)

    @staticmethod
    def unregister(name: str) -> bool:
        return RUNTIME.unregister(name)

    @staticmethod
    def whereis(name: str) -> Pid | None:
        return RUNTIME.whereis(name)

    @staticmethod
    def registered() -> list[str]:
        return sorted(RUNTIME.names)

    @staticmethod
    def alive(pid: Pid) -> bool:
        """Whether a process of *this* node is alive (as ``Process.alive?``)."""
        if not RUNTIME.is_local(pid):
            raise ValueError(
                f"Process.alive: {pid} is on another node; ask there with rpc.call({pid.node!r}, Process.alive, pid)"
            )
        p = RUNTIME.local_proc(pid)
        return p is not None and p.alive

    @staticmethod
    def list() -> list[Pid]:
        with RUNTIME.lock:
            return [p.pid for p in RUNTIME.procs.values() if p.handler is None and p.alive]

    @staticmethod
    def link(pid: Pid) -> bool:
        RUNTIME.link(RUNTIME.adopt(), pid)
        return True

    @staticmethod
    def unlink(pid: Pid) -> bool:
        RUNTIME.unlink(RUNTIME.adopt(), pid)
        return True

    @staticmethod
    def monitor(target) -> Ref:
        """Monitor a pid, a name or ``(name, node)``; one ``("DOWN", ref, "process", target, reason)`` follows."""
        return RUNTIME.monitor(RUNTIME.adopt(), target)

    @staticmethod
    def monitor_and_send(target, make_msg) -> Ref:
        """Monitor ``target`` and send it ``make_msg(ref)``: one frame to another
        node (what a call does). Returns the monitor's ref."""
        return RUNTIME.monitor(RUNTIME.adopt(), target, make_msg)

    @staticmethod
    def end_monitor_by_reply(ref: Ref) -> bool:
        """The caller is about to answer the call ``ref`` made to it: the caller's
        monitor on it ends now, without a frame. True if it held that monitor
        (then the answer says so, and the other side forgets its half)."""
        return RUNTIME.end_watched(RUNTIME.adopt(), ref)

    @staticmethod
    def forget_monitor(ref: Ref) -> None:
        """Drop the caller's own half of monitor ``ref`` (the other side ended it)."""
        RUNTIME.forget_monitor(RUNTIME.adopt(), ref)

    @staticmethod
    def demonitor(ref: Ref, flush: bool = False) -> bool:
        return RUNTIME.demonitor(RUNTIME.adopt(), ref, flush)

    @staticmethod
    def exit(pid: Pid, reason) -> bool:
        """Send an exit signal to ``pid`` (``"kill"`` cannot be trapped)."""
        me = RUNTIME.adopt()
        if pid == me.pid and reason != "normal" and (reason == "kill" or not me.trap_exit):
            raise Exit("killed" if reason == "kill" else reason)
        RUNTIME.exit_signal(pid, me.pid, reason, via_link=False)
        return True

    @staticmethod
    def flag(flag: str, value):
        """``Process.flag("trap_exit", True)``: returns the old value.

        ``Process.flag("max_mailbox", n)`` caps the caller's mailbox: past
        ``n`` waiting messages the process exits with ``("mailbox_full", n)``
        (as Erlang's ``max_heap_size``); 0 lifts the cap.
        """
        me = RUNTIME.adopt()
        if flag == "trap_exit":
            old, me.trap_exit = me.trap_exit, bool(value)
            return old
        if flag == "max_mailbox":
            limit: int
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"Process.flag('max_mailbox', n): n is a whole number of messages (0: no cap), not {value!r}"
                )
            limit, me.mailbox_limit = me.mailbox_limit, value
            return limit
        raise ValueError(f"Process.flag: unknown flag {flag!r} (the flags are 'trap_exit' and 'max_mailbox')")

    @staticmethod
    def group_leader() -> Pid | None:
        return RUNTIME.adopt().group_leader

    @staticmethod
    def sleep(seconds: float) -> None:
        """Sleep, but die at once on an exit signal (unlike ``time.sleep`` in a thread).

        In a green process it lets the others run (``Process.sleep(0)`` is a
        plain yield); ``time.sleep`` there does the same.
        """
        _seconds.check(seconds)
        me = RUNTIME.adopt()
        if me.sched is not None:
            me.sched.sleep(seconds)
            return
        try:
            me.receive(seconds, _never)
        except TimeoutError:
            pass

    @staticmethod
    def send_after(dest, msg, seconds: float) -> Ref:
        """Send ``msg`` to ``dest`` after ``seconds``; returns a timer ref for
        ``cancel_timer``/``read_timer`` (one timer service, not a thread per timer)."""
        from . import timers

        return timers.send_after(dest, msg, seconds)

    @staticmethod
    def cancel_timer(ref: Ref) -> float | bool:
        """Cancel a timer; the seconds it had left, or False if it already fired."""
        from . import timers

        return timers.cancel_timer(ref)

    @staticmethod
    def read_timer(ref: Ref) -> float | bool:
        """The seconds a timer has left, or False if it fired or was cancelled."""
        from . import timers

        return timers.read_timer(ref)

    @staticmethod
    def info(pid: Pid, item: str | None = None):
        """What a process is doing (``Process.info/1,2``): a dict, one item, or None if it is dead."""
        from .info import process_info

        return process_info(pid, item)


def _never(_msg) -> bool:
    return False
