"""``Timer``: Erlang's ``:timer`` module on the node's one timer service.

Intervals (``send_interval``, ``apply_interval``) are tied to a process,
as Erlang's are: to the destination when it is a pid of this node, else
to the caller, and they stop when that process exits. Every timer is a
``Ref``; ``Timer.cancel`` stops any of them.
"""

from __future__ import annotations

import time

from .._api import timers as _timers
from .._api.processes import Process
from .._api.processes import node as own_node
from .._api.processes import self as self_pid
from .._base.terms import Pid

__all__ = ["Timer"]


def _owner(dest) -> Pid:
    return dest if type(dest) is Pid and dest.node == own_node() else self_pid()


class Timer:
    """Erlang's ``:timer`` (times in seconds, as everywhere in pydist)."""

    @staticmethod
    def send_after(seconds: float, dest, msg):
        """``msg`` to ``dest`` in ``seconds``; a timer ``Ref`` (as ``Process.send_after``)."""
        return _timers.send_after(dest, msg, seconds)

    @staticmethod
    def send_interval(seconds: float, dest, msg):
        """``msg`` to ``dest`` every ``seconds`` until ``Timer.cancel(ref)`` or the owner exits."""
        _timers.check_dest(dest, "Timer.send_interval")
        return _timers.SERVICE.start(seconds, _timers.deliver(dest, msg), interval=seconds, owner=_owner(dest))

    @staticmethod
    def apply_after(seconds: float, fn, *args):
        """``fn(*args)`` in a new process in ``seconds``; a timer ``Ref``."""
        return _timers.apply_after(seconds, fn, args, owner=self_pid())

    @staticmethod
    def apply_interval(seconds: float, fn, *args):
        """``fn(*args)`` in a new process every ``seconds`` while the caller lives."""
        return _timers.apply_after(seconds, fn, args, interval=seconds, owner=self_pid())

    @staticmethod
    def cancel(ref):
        """Stop a timer; ``("ok", "cancel")`` (also if it had fired already, as Erlang's)."""
        _timers.cancel_timer(ref)
        return ("ok", "cancel")

    @staticmethod
    def read(ref):
        """The seconds left before the timer fires next, or False."""
        return _timers.read_timer(ref)

    @staticmethod
    def sleep(seconds: float) -> str:
        """``Process.sleep``: an exit signal still stops the sleeper at once."""
        Process.sleep(seconds)
        return "ok"

    @staticmethod
    def tc(fn, *args):
        """``(microseconds, fn(*args))``: how long a call took."""
        t0 = time.perf_counter()
        value = fn(*args)
        return (round((time.perf_counter() - t0) * 1e6), value)


Timer.__module__ = "pydist"
