"""Tab completion at the prompt: names, attributes, and node names.

Inside the string argument of a ``Node.*`` or ``rpc.*`` call, Tab offers
node names: the connected ones (``Node.list()``) and those this host's
name server knows (``name@<this host>``), so ``Node.ping("b<Tab>`` finds
the node started in the other terminal. In any other string it completes
file paths. Elsewhere it completes names of the prompt's namespace,
builtins and keywords, and ``obj.attr`` by looking up ``obj`` (a dotted
name only: nothing is called, except properties); inside a call's
parentheses, the callee's keyword arguments and its signature first; and an
attribute of an expression it cannot look up (``f().x``) through jedi
(``complete_extra.py`` says why jedi only there).
"""

from __future__ import annotations

import builtins
import keyword
import re

from prompt_toolkit.completion import Completer, Completion

from .complete_extra import call_completions, jedi_completions, open_call, path_completions, string_prefix

__all__ = ["PromptCompleter", "node_names"]

_NODE_CALL = re.compile(r"""\b(?:Node|rpc)\.\w+\(\s*(?:(?P<q>['"])(?P<prefix>[^'"]*))?$""")
_DOTTED = re.compile(r"(?:^|[^\w.])(?P<word>[A-Za-z_][\w]*(?:\.[A-Za-z_]?\w*)*)$")
_EXPR_ATTR = re.compile(r"[)\]'\"]\s*\.\s*\w*$")  # xs[0].bit_l, f().x, "abc".up: for jedi


def node_names() -> list[tuple[str, str]]:
    """Known node names (not this one) with where they are known from."""
    from .._api.node import Node
    from .._base.names import short_host
    from .._core.runtime import RUNTIME

    me = RUNTIME.name
    found: dict[str, str] = {}
    for n in Node.list():
        found[n] = "connected"
    host = me.split("@", 1)[1] if RUNTIME.dist is not None else short_host()
    try:
        from .._net.epmd.client import names

        for name, port in names(timeout=0.5):
            full = f"{name}@{host}"
            found.setdefault(full, f"on this host, port {port}")
    except Exception:  # no name server: only the connected ones
        pass
    found.pop(me, None)
    return sorted(found.items())


class PromptCompleter(Completer):
    """``names()`` gives the namespace's names; ``lookup(name)`` an object for attributes;
    ``namespace`` (the prompt's own, not a ``--remsh`` one) is what jedi looks into."""

    def __init__(self, names, lookup, namespace: dict | None = None):
        self._names = names
        self._lookup = lookup
        self._namespace = namespace

    def get_completions(self, document, complete_event):
        before = document.text_before_cursor
        m = _NODE_CALL.search(before)
        if m:
            yield from self._nodes(m.group("prefix"), m.group("q"))
            return
        inside = string_prefix(before.rsplit("\n", 1)[-1])
        if inside is not None:
            yield from path_completions(inside)
            return
        if _in_string_or_comment(before):
            return
        call = open_call(before)
        if call is not None:
            obj = self._object(call[0])
            if obj is not None:
                yield from call_completions(call[0], call[1], obj)
        m = _DOTTED.search(before)
        if not m:
            if self._namespace is not None and _EXPR_ATTR.search(before):
                yield from jedi_completions(before, self._namespace)
            return
        word = m.group("word")
        if "." in word:
            path, prefix = word.rsplit(".", 1)
            candidates = self._attributes(path)
        else:
            prefix = word
            candidates = set(self._names()) | set(dir(builtins)) | set(keyword.kwlist)
        hidden = not prefix.startswith("_")
        for name in sorted(candidates):
            if name.startswith(prefix) and not (hidden and name.startswith("_")) and name != prefix:
                yield Completion(name, start_position=-len(prefix))

    def _nodes(self, prefix, quote):
        for name, where in node_names():
            if prefix is None:
                yield Completion(f"'{name}'", start_position=0, display=name, display_meta=where)
            elif name.startswith(prefix):
                yield Completion(name, start_position=-len(prefix), display_meta=where)

    def _object(self, path: str):
        """The object a dotted name stands for, or None (unknown, or a property that raised)."""
        from .namespace import resolve

        head, *rest = path.split(".")
        try:
            obj = resolve(self._lookup(head))
            for part in rest:
                obj = getattr(obj, part)
            return resolve(obj)
        except Exception:
            return None

    def _attributes(self, path: str):
        obj = self._object(path)
        try:
            return set(dir(obj)) if obj is not None else set()
        except Exception:
            return set()


def _in_string_or_comment(text: str) -> bool:
    """A cheap guess on the current line: an odd number of quotes, or a ``#``."""
    line = text.rsplit("\n", 1)[-1]
    single = double = False
    for ch in line:
        if ch == "'" and not double:
            single = not single
        elif ch == '"' and not single:
            double = not double
        elif ch == "#" and not (single or double):
            return True
    return single or double
