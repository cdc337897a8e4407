"""Tracebacks that show the user's code, not pydist's.

One filter for every place that prints an error a user caused (the prompt,
``-e`` and scripts, crash reports of processes and servers): pydist's own
frames go, and so do library frames called *from* pydist (``threading``'s
``wait`` under ``receive``), because they say nothing about the user's bug.
The same file test tells the runtime where a thread process may be
interrupted (never inside pydist or the standard library).
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from types import TracebackType

__all__ = [
    "LIB_DIRS",
    "PKG_DIR",
    "format_user_exception",
    "is_library_file",
    "is_pydist_file",
    "trim",
    "user_traceback",
]

PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
LIB_DIRS = tuple({os.path.join(sysconfig.get_paths()[k], "") for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def is_pydist_file(filename: str) -> bool:
    return filename.startswith(PKG_DIR)


def is_library_file(filename: str) -> bool:
    """pydist, the standard library or an installed package (``<frozen …>`` too)."""
    return filename.startswith((PKG_DIR, *LIB_DIRS, "<frozen"))


def trim(te: traceback.TracebackException, _seen: set | None = None) -> None:
    """Drop pydist's frames (and library frames below them) from ``te``'s whole chain."""
    seen = set() if _seen is None else _seen
    if id(te) in seen:
        return
    seen.add(id(te))
    kept, inside = [], False
    for f in te.stack:
        name = f.filename or ""
        if name.startswith(PKG_DIR):
            inside = True
        elif name.startswith("<frozen runpy"):
            continue
        elif not (inside and name.startswith(LIB_DIRS)):
            kept.append(f)
    te.stack = traceback.StackSummary.from_list(kept)
    for other in (te.__cause__, te.__context__):
        if other is not None:
            trim(other, seen)


def format_user_exception(err: BaseException, compact: bool = True) -> str:
    """The traceback as Python prints it, without pydist's own frames."""
    try:
        te = traceback.TracebackException(type(err), err, err.__traceback__, compact=compact)
        trim(te)
        return "".join(te.format())
    except Exception:  # a broken __str__ must not break the caller
        return f"{type(err).__name__}: <exception could not be shown>\n"


def user_traceback(err: BaseException) -> TracebackType | None:
    """The traceback from the first frame that is not pydist's own (a callback)."""
    tb = err.__traceback__
    while tb is not None and is_pydist_file(os.path.abspath(tb.tb_frame.f_code.co_filename)):
        tb = tb.tb_next
    return tb or err.__traceback__
