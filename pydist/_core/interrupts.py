"""Exit signals into busy thread processes, only at safe points.

A thread process (the prompt, ``-e`` code, ``spawn(fn, thread=True)``) busy
in user code can only be stopped by an asynchronous exception
(``PyThreadState_SetAsyncExc``). Raised at a random bytecode, such an
exception can land right after a ``with lock:`` took its lock in the
standard library (``logging.Handler.handle`` acquires before its ``try``)
or in pydist itself, and leave that lock held forever: the next log line
on the I/O loop would then wedge the whole node.

So the exception is raised only when the target thread's stack, from its
innermost frame out to the frame where pydist handed over to user code (a
registered *boundary*), holds no frame of pydist, the standard library or
an installed package. The check and the raise happen while the switch
interval is raised (so this thread keeps the GIL throughout), and the
target's innermost frame is compared before and after: if the target moved
in between, the exception is taken back and the attempt retried. Attempts
repeat on the ``pydist-signals`` thread (every millisecond at first, backing
off to 50 ms) until the exception is raised, the process waits in
``receive`` (which raises it itself), or the signal is no longer pending.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time

from .._base.tracebacks import is_library_file

__all__ = ["boundary", "request", "transparent"]

_BOUNDARIES: set = {threading.Thread.run.__code__}
_TRANSPARENT: set = set()
_lock = threading.Lock()
_pending: dict = {}  # process -> exception class
_wake = threading.Event()
_thread: threading.Thread | None = None


def boundary(fn):
    """Mark ``fn`` as the place pydist calls user code from (its frame may be on
    the stack of an interruptible thread). Returns ``fn``."""
    _BOUNDARIES.add(fn.__code__)
    return fn


def transparent(fn):
    """Mark a pydist function that holds no lock while it waits (the
    green-aware ``time.sleep``): a signal may land while it is on the stack."""
    _TRANSPARENT.add(fn.__code__)
    return fn


def request(proc, exc_class) -> None:
    """Raise ``exc_class`` in ``proc``'s thread at its next safe point."""
    global _thread
    with _lock:
        _pending[proc] = exc_class
        if _thread is None:
            _thread = threading.Thread(target=_run, name="pydist-signals", daemon=True)
            _thread.start()
    _wake.set()


def _safe(frame) -> bool:
    while frame is not None:
        code = frame.f_code
        if code in _BOUNDARIES:
            return True
        if is_library_file(code.co_filename) and code not in _TRANSPARENT:
            return False
        frame = frame.f_back
    return False  # no boundary: not a stack pydist started user code on


def _try(proc, exc_class) -> bool:
    """One attempt; True when there is nothing left to do for ``proc``."""
    ident = proc.thread_ident
    if ident is None or proc.pending_exit is None:
        return True  # its thread left user code (thread_ident is cleared after), or nothing pending
    # (a killed process is dead for the runtime at once, yet its thread runs on until this lands)
    if not proc.async_ok:
        return False  # inside receive or pydist's exit path: receive raises it itself
    old = sys.getswitchinterval()
    sys.setswitchinterval(10.0)  # keep the GIL through the check and the raise
    try:
        top = sys._current_frames().get(ident)
        if top is None or not _safe(top):
            return False
        lasti = top.f_lasti
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc_class))
        again = sys._current_frames().get(ident)
        if again is not top or again.f_lasti != lasti:
            _clear(ident)  # it moved between the check and the raise: take it back, retry
            return False
        return True
    finally:
        sys.setswitchinterval(old)


def _clear(ident: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


def _run() -> None:
    delay = 0.001
    while True:
        _wake.wait()
        with _lock:
            items = list(_pending.items())
        if not items:
            _wake.clear()
            with _lock:
                if _pending:
                    _wake.set()
            delay = 0.001
            continue
        for proc, exc_class in items:
            try:
                done = _try(proc, exc_class)
            except Exception:
                done = True
            if done:
                with _lock:
                    if _pending.get(proc) is exc_class:
                        del _pending[proc]
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
