"""Elixir habits at the prompt: a one-line hint after the error they cause, and ``clear()``.

A class that knows iex types ``Node.connect(:bar@vm)``, ``fn x -> x * 2
end``, ``IO.puts("hi")``, ``nil`` or ``alias Foo.Bar``; Python's error alone
does not say what pydist spells instead. ``hint(src, err)`` looks at the
entry and its exception and returns that line (or None). It runs in the
evaluating process, after the traceback was written, and never raises.
"""

from __future__ import annotations

import re
import sys

__all__ = ["clear", "hint"]

_ATOM = re.compile(r"""(?:^|(?<=[\s(\[{,=])):"?([A-Za-z_][\w@.\-]*)"?""")
_FN = re.compile(r"\bfn\b\s*\(?\s*([\w\s,]*?)\s*\)?\s*->\s*(.*?)\s*\bend\b", re.S)

_NAMES = {
    "nil": "nil is None here",
    "true": "true is True here",
    "false": "false is False here",
    "IO": "IO.puts(x) is print(x) here, IO.inspect(x) is print(repr(x))",
    "Enum": "Enum.map(xs, f) is [f(x) for x in xs] here (Enum.filter: [x for x in xs if p(x)])",
    "alias": "there is no alias here: import the module (import kv_store.bucket as bucket)",
    "fn": "functions are lambdas here: lambda x: x * 2 (or a def)",
    "defmodule": "a module is a .py file here: c('kv.py') loads it at the prompt",
}


def hint(src: str, err: BaseException) -> str | None:
    """The hint for an Elixir spelling in ``src`` that raised ``err``, or None."""
    try:
        return _hint(src, err)
    except Exception:
        return None


def _hint(src: str, err: BaseException) -> str | None:
    if isinstance(err, SyntaxError):
        m = _FN.search(src)
        if m:
            args, body = m.group(1).strip(), m.group(2).strip()
            if "\n" not in body and len(body) < 60:
                return f"functions are lambdas here: lambda{' ' + args if args else ''}: {body}"
            return _NAMES["fn"]
        if "|>" in src:
            return "there is no |> here: call the functions inside each other, g(f(x))"
        if re.search(r"\bIO\.(puts|inspect|write)\b", src):
            return _NAMES["IO"]
        m = _ATOM.search(src)
        if m:
            return f"atoms are strings here: {m.group(1)!r}"
        word = src.split(None, 1)[0] if src.strip() else ""
        if word in ("alias", "defmodule"):
            return _NAMES[word]
        if re.search(r"\bdo\b\s*$", src.split("\n", 1)[0]):
            return "blocks end with ':' and indentation here, not do ... end"
        return None
    if isinstance(err, NameError):
        name = getattr(err, "name", None)
        if name in _NAMES:
            return _NAMES[name]
    return None


def clear() -> None:
    """Clear the screen, as iex's ``clear``."""
    out = sys.stdout
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    from .._core.iofwd import writes_here
    from .._core.state import current

    me = current()
    if not tty and (me is None or writes_here(me.group_leader)):
        sys.stderr.write("clear(): the output is not a terminal, so there is no screen to clear\n")
        return
    out.write("\x1b[H\x1b[2J\x1b[3J")  # home, clear the screen and the scrollback
    out.flush()
