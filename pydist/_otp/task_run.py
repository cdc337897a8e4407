"""The life of one task process, shared by ``Task``, ``Task.async_stream`` and ``Task.Supervisor``.

A task runs ``fn(*args)`` in its own process and sends ``(ref, value)`` to
its owner, Elixir's reply shape, so a user can also ``receive`` it by hand.
The owner watches it with a monitor (``mref``): the reply arrives before
the ``DOWN`` (both come from the task, in order), so a reply is never
mistaken for a crash. Stopping a task (a timeout, a shutdown, a stream
closed early) waits for that ``DOWN`` and then removes a reply that was
already on its way: nothing of a stopped task is ever left in the mailbox.
"""

from __future__ import annotations

import time

from .._api.processes import Process, receive, send, spawn_link
from .._base.terms import is_down

__all__ = ["is_reply", "run", "start_plain", "start_supervised", "stop"]

STOP_WAIT = 10.0  # a killed task's DOWN comes at once here, within a round trip (or a nodedown) elsewhere


def run(owner, ref, fn, args) -> None:
    """The task process: compute, reply, exit ``normal`` (an exception is its exit reason)."""
    send(owner, (ref, fn(*args)))


def start_supervised(owner, ref, fn, args, link: bool):
    """A Task.Supervisor child's start function (it runs in the supervisor): a task
    that waits for its owner's go-ahead, so the owner's monitor is in place first."""
    return ("ok", spawn_link(_supervised, owner, ref, fn, args, link))


def _supervised(owner, ref, fn, args, link: bool) -> None:
    if link:
        Process.link(owner)
    mref = Process.monitor(owner)
    msg = receive(None, lambda m: m == ("$task_go", ref) or is_down(m, mref))
    if is_down(msg, mref):
        return  # the owner is gone: nobody wants the value
    Process.demonitor(mref, flush=True)
    run(owner, ref, fn, args)


def start_plain(fn, args):
    """``Task.Supervisor.start_child``'s start function: ``fn(*args)``, supervised, nobody waiting."""
    return ("ok", spawn_link(fn, *args))


def is_reply(m, ref) -> bool:
    return type(m) is tuple and len(m) == 2 and m[0] == ref


def stop(pairs, reason="kill", grace: float | None = None) -> dict:
    """Stop the tasks ``[(pid, ref, mref), ...]``; returns ``{ref: outcome}``.

    Each task is unlinked from the caller and sent ``reason``; one that is
    still running after ``grace`` seconds is killed. ``outcome`` is ``("ok",
    value)`` if its reply came first, ``("exit", reason)`` if it had died
    of something else, else None.
    """
    for pid, _ref, _mref in pairs:
        Process.unlink(pid)
        Process.exit(pid, reason)
    deadline = time.monotonic() + (STOP_WAIT if grace is None else grace)
    out: dict = {}
    for pid, ref, mref in pairs:
        try:
            down = receive(max(0.0, deadline - time.monotonic()), lambda m, r=mref: is_down(m, r))
        except TimeoutError:
            Process.exit(pid, "kill")  # the grace time is over
            try:
                down = receive(STOP_WAIT, lambda m, r=mref: is_down(m, r))
            except TimeoutError:
                Process.demonitor(mref, flush=True)
                down = None
        try:
            reply = receive(0, lambda m, r=ref: is_reply(m, r))
            out[ref] = ("ok", reply[1])
        except TimeoutError:
            why = down[4] if down is not None else None
            out[ref] = ("exit", why) if why not in (None, "killed", "shutdown", reason) else None
    return out
