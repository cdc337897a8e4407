"""What Tab offers beyond names: paths in strings, a call's keyword arguments
and signature, and jedi for expressions that cannot be looked up.

- Inside a string, Tab completes a file path (``open("da<Tab>`` → ``data/``):
  ``~`` expands, a directory ends in ``/``, dot-files show once the name
  starts with a dot.
- Inside a call's parentheses, Tab offers the callee's keyword arguments
  (``spawn(f, th<Tab>`` → ``thread=``), leaving out those already given;
  right after ``(`` or ``,`` the first row is the signature itself,
  ``spawn(fn, *args, thread=False)``. The callee must be a dotted name: it
  is looked up, never called.
- An expression pydist would have to evaluate to look inside (``f().x``,
  ``xs[0].x``) goes to jedi, if it is installed. jedi costs about 0.2 s to
  import and 1.2-1.5 s for its first answer on this class of machine
  (measured: ``import jedi``, then ``jedi.Interpreter('"a".up', [ns])``),
  too slow to be on every Tab's path or to load at start-up; pydist's own
  answers take well under a millisecond. So jedi is imported on the first
  such Tab only, in the completer's thread, and only by a prompt a person
  types at.

All of it runs in prompt_toolkit's completion thread (``ThreadedCompleter``).
"""

from __future__ import annotations

import inspect
import os
import re

from prompt_toolkit.completion import Completion

__all__ = ["call_completions", "jedi_completions", "open_call", "path_completions", "string_prefix"]

MAX_PATHS = 200
_NAME = re.compile(r"[A-Za-z_]\w*$")
_CALLEE = re.compile(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*$")
_GIVEN = re.compile(r"(?:^|[,(])\s*([A-Za-z_]\w*)\s*=(?!=)")


def string_prefix(line: str) -> str | None:
    """The text of the string the cursor is in (on this line), or None outside one."""
    quote, start = None, 0
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote, start = ch, i + 1
        elif ch == "#":
            return None
        i += 1
    return line[start:] if quote else None


def path_completions(prefix: str):
    """Files and folders whose path starts with ``prefix`` (relative to the current folder)."""
    folder, slash, base = prefix.rpartition("/")
    where = (os.path.expanduser(folder) or "/") if slash else "."
    try:
        entries = sorted(os.scandir(where), key=lambda e: e.name)
    except OSError:
        return
    shown = 0
    for entry in entries:
        if not entry.name.startswith(base) or (entry.name.startswith(".") and not base.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        text = entry.name + ("/" if is_dir else "")
        yield Completion(text, start_position=-len(base), display_meta="folder" if is_dir else "file")
        shown += 1
        if shown >= MAX_PATHS:
            return


def open_call(before: str) -> tuple[str, str] | None:
    """``(callee, arguments so far)`` of the innermost call the cursor is in."""
    stack: list[int] = []
    quote = None
    i = 0
    while i < len(before):
        ch = before[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            stack.append(i)
        elif ch in ")]}" and stack:
            stack.pop()
        i += 1
    if quote or not stack or before[stack[-1]] != "(":
        return None
    at = stack[-1]
    m = _CALLEE.search(before[:at])
    if not m:
        return None
    return m.group(1), before[at + 1 :]


def _signature(obj) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def call_completions(callee: str, args: str, obj):
    """Keyword arguments of ``obj`` (reached as ``callee``) not given yet in ``args``."""
    sig = _signature(obj)
    if sig is None:
        return
    bare = sig.replace(  # annotations make the row long; the names and defaults are what is typed
        parameters=[q.replace(annotation=q.empty) for q in sig.parameters.values()], return_annotation=sig.empty
    )
    shown = f"{callee.rsplit('.', 1)[-1]}{bare}"
    m = _NAME.search(args)
    prefix = m.group(0) if m else ""
    if prefix and not re.search(r"(?:^|[(,])\s*" + re.escape(prefix) + "$", args):
        return  # the word typed is not an argument's start (an attribute, an expression)
    if not prefix and args.strip() and not args.rstrip().endswith(","):
        return  # in the middle of a positional argument
    if not prefix:
        yield Completion("", start_position=0, display=shown, display_meta="signature")
    given = set(_GIVEN.findall(args))
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name in given or p.name == "self":
            continue
        if p.name.startswith(prefix):
            meta = "" if p.default is p.empty else f"= {p.default!r}"
            yield Completion(f"{p.name}=", start_position=-len(prefix), display_meta=meta or "keyword argument")


_jedi = None


def jedi_completions(text: str, namespace: dict):
    """jedi's completions for ``text`` in ``namespace`` (nothing if jedi is missing)."""
    global _jedi
    if _jedi is None:
        try:
            import jedi
        except ImportError:
            _jedi = False
            return
        _jedi = jedi
    if _jedi is False:
        return
    try:
        found = _jedi.Interpreter(text, [namespace]).complete()
    except Exception:  # jedi fails on code it cannot parse: no completions, no error
        return
    m = _NAME.search(text)
    hidden = not (m and m.group(0).startswith("_"))
    for c in found[:MAX_PATHS]:
        if hidden and c.name.startswith("_"):
            continue
        typed = len(c.name) - len(c.complete or "")
        yield Completion(c.name, start_position=-typed, display_meta=c.type)
