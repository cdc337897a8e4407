"""The prompt's tracebacks: coloured (rich), library frames folded, ``tb()`` for all.

An entry that raises shows Python's traceback, in colour at a terminal:
the user's frames in full, pydist's own frames gone (the prompt's machinery,
``receive``'s waiting), and each run of library frames the user's code
called (the standard library, an installed package) folded into one line
naming them — they rarely hold the bug, but they are there when they do:
``tb()`` shows the last error with every frame from the entry on. In a
pipe, library frames are not folded (a log is read later, in full).

Pure functions on the thread running the entry; rich is imported only when
an error is shown in colour.
"""

from __future__ import annotations

import os
import re
import traceback

from .._base.tracebacks import LIB_DIRS, is_library_file, is_pydist_file

__all__ = ["entry_traceback"]

_FILE_LINE = re.compile(r'^(  File ")(.*)(", line )(\d+)(, in )(.*)$')
_CARETS = re.compile(r"^ *[~^]+ *$")
FOLD_HINT = "tb() shows them"


def _module_of(filename: str) -> str:
    """``json.decoder`` for ``.../lib/python3.11/json/decoder.py``."""
    for lib in sorted(LIB_DIRS, key=len, reverse=True):
        if filename.startswith(lib):
            rel = os.path.splitext(filename[len(lib) :])[0].replace(os.sep, ".")
            return rel.removesuffix(".__init__")
    return os.path.basename(filename)


def _top_package(filename: str) -> str:
    return _module_of(filename).split(".")[0]


def _frames(stack, mode: str) -> list:
    """The frames to show: FrameSummary objects, or ("fold", count, packages)."""
    out: list = []
    if mode == "all":  # from the entry on: drop the prompt's frames above it
        start = next((i for i, f in enumerate(stack) if not is_pydist_file(f.filename or "")), len(stack))
        return list(stack[start:]) or list(stack)
    inside = False  # below a pydist frame: library frames there are pydist's own business
    run: list = []

    def end_run():
        if run:
            packages = list(dict.fromkeys(_top_package(f.filename) for f in run))
            out.append(("fold", len(run), packages))
            run.clear()

    for f in stack:
        name = f.filename or ""
        if is_pydist_file(name):
            end_run()
            inside = True
        elif is_library_file(name):
            if inside or name.startswith("<frozen runpy"):
                continue
            if mode == "fold":
                run.append(f)
            else:
                out.append(f)
        else:
            end_run()
            inside = False
            out.append(f)
    end_run()
    return out


def _lines(err: BaseException, mode: str) -> list[tuple[str, str]]:
    """(kind, text) lines of the traceback of ``err`` and its chain."""
    te = traceback.TracebackException(type(err), err, err.__traceback__, compact=True)
    chain: list = []
    seen: set = set()
    cur: traceback.TracebackException | None = te
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if cur.__cause__ is not None:
            chain.append((cur, "\nThe above exception was the direct cause of the following exception:\n"))
            cur = cur.__cause__
        elif cur.__context__ is not None and not cur.__suppress_context__:
            chain.append((cur, "\nDuring handling of the above exception, another exception occurred:\n"))
            cur = cur.__context__
        else:
            chain.append((cur, None))
            cur = None
    lines: list[tuple[str, str]] = []
    for exc, link in reversed(chain):  # the first exception first, as Python prints them
        if link:
            lines.append(("link", link))
        frames = _frames(exc.stack, mode)
        if frames:
            lines.append(("header", "Traceback (most recent call last):"))
        for f in frames:
            if isinstance(f, tuple):
                _, count, packages = f
                what = "frame" if count == 1 else "frames"
                lines.append(("fold", f"  ... {count} library {what} ({', '.join(packages)}): {FOLD_HINT}"))
                continue
            for text in exc.stack.format_frame_summary(f).rstrip("\n").split("\n"):
                if _FILE_LINE.match(text):
                    lines.append(("file", text))
                elif _CARETS.match(text):
                    lines.append(("carets", text))
                else:
                    lines.append(("code", text))
        only = list(exc.format_exception_only())
        for i, text in enumerate("".join(only).rstrip("\n").split("\n")):
            lines.append(("error" if i == 0 else "detail", text))
    return lines


def entry_traceback(err: BaseException, *, color: bool = False, width: int = 80, mode: str = "fold") -> str:
    """The traceback of an entry's error. ``mode``: "fold" (library frames on
    one line), "full" (every frame of the user's and of libraries it called),
    "all" (every frame from the entry on, pydist's too: ``tb()``)."""
    try:
        lines = _lines(err, mode)
    except Exception:  # a broken __str__ must not break the prompt
        return f"{type(err).__name__}: <exception could not be shown>\n"
    if not color:
        return "".join(text + "\n" for _, text in lines)
    try:
        return _colour(lines, width)
    except Exception:
        return "".join(text + "\n" for _, text in lines)


def _colour(lines: list[tuple[str, str]], width: int) -> str:
    import io

    from rich.console import Console
    from rich.syntax import Syntax
    from rich.text import Text

    highlighter = Syntax("", "python", theme="ansi_dark")
    out = Text()
    for kind, text in lines:
        if kind == "file":
            m = _FILE_LINE.match(text)
            assert m is not None
            out.append(m.group(1))
            out.append(m.group(2), style="magenta")
            out.append(m.group(3))
            out.append(m.group(4), style="cyan")
            out.append(m.group(5))
            out.append(m.group(6), style="green")
        elif kind == "code":
            code = highlighter.highlight(text.lstrip(" "))
            code.rstrip()
            out.append(text[: len(text) - len(text.lstrip(" "))])
            out.append_text(code)
        elif kind == "carets":
            out.append(text, style="bold red")
        elif kind == "error":
            name, sep, rest = text.partition(":")
            out.append(name, style="bold red")
            out.append(sep + rest)
        elif kind == "fold":
            out.append(text, style="dim italic")
        elif kind == "header":
            out.append(text, style="bold")
        else:
            out.append(text)
        out.append("\n")
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=True,
        color_system="standard",
        width=max(width, 20),
        soft_wrap=True,
        legacy_windows=False,
        force_jupyter=False,
        force_interactive=False,
        highlight=False,
    )
    console.print(out, end="")
    return buf.getvalue()
