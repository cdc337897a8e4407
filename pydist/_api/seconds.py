"""pydist's times are seconds; Elixir's are milliseconds.

A habitual ``send_after(pid, msg, 500)`` or ``receive(timeout=5000)`` waits
8 minutes or 83 here, silently. ``check`` is called by the functions that
take a time (``receive`` and so every call built on it — ``GenServer.call``,
``Task.await`` ... —, ``Process.sleep``, the timers): a whole number of 100
or more says, once per line of the caller's code, that pydist counts
seconds and what was probably meant. It runs in the calling process, costs
one type check when the time is ``None`` or a float, and never raises.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import FrameType

log = logging.getLogger("pydist")

THRESHOLD = 100  # a whole number of seconds this large is most likely milliseconds
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_told: set[tuple[str, int]] = set()
_lock = threading.Lock()


def check(value) -> None:
    """Warn (once per call site) if ``value`` looks like milliseconds."""
    if type(value) is not int or value < THRESHOLD:
        return
    try:
        _warn(value)
    except Exception:  # a warning must never break the call it is about
        pass


def _warn(value: int) -> None:
    frame: FrameType | None = sys._getframe(2)
    called = frame
    while frame is not None and frame.f_code.co_filename.startswith(_PKG):
        called, frame = frame, frame.f_back  # out of pydist: to the user's line
    if frame is None or called is None:
        return
    site = (frame.f_code.co_filename, frame.f_lineno)
    with _lock:
        if site in _told:
            return
        _told.add(site)
    what = getattr(called.f_code, "co_qualname", called.f_code.co_name)
    log.warning(
        "%s: %d is seconds here (%s); pydist counts seconds, not milliseconds as Elixir does: "
        "did you mean %s? (%s, line %d)",
        what,
        value,
        _duration(value),
        value / 1000,
        site[0],
        site[1],
    )


def _duration(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
