"""Message sequence charts: what ``trace.stop_recording()`` returns.

A ``Chart`` holds the recorded trace events and turns them into lifelines
(one per process, grouped under its node's name) and arrows (one per
message, in time order). When both ends of a message were recorded it was
seen twice — sent here, received there — and is drawn once. It draws
itself three ways: in the terminal (``print(chart)``, or the prompt shows
it with colours through rich), as SVG (``chart.save("put.svg")``, or a
notebook shows it) and as a Mermaid ``sequenceDiagram`` (``chart.mermaid()``)
for slides and Markdown. Pure computation: no process, no I/O but ``save``.
"""

from __future__ import annotations

import html
from typing import Any

from .._base.terms import Pid

__all__ = ["Chart", "endpoint"]

COLOURS = {"call": "#1f6feb", "reply": "#2da44e", "cast": "#8250df", "msg": "#bf8700"}
RICH_STYLES = {"call": "cyan", "reply": "green", "cast": "magenta", "msg": "yellow"}
MATCH_WINDOW = 5.0  # seconds: a receive is the same message as a send seen this close to it


def endpoint(target, name: str | None, node: str) -> str:
    """How a trace line names a process: ``'MapServer' on b@vm`` or ``#PID<b@vm.40>``."""
    if type(target) is Pid:
        return f"{name!r} on {target.node}" if name else repr(target)
    if isinstance(target, str):
        return f"{target!r} on {node}"
    if type(target) is tuple and len(target) == 2:
        return f"{target[0]!r} on {target[1]}"
    return "?" if target is None else repr(target)


class _Arrow:
    __slots__ = ("dst", "kind", "src", "t", "tag", "text")

    def __init__(self, t, src, dst, kind, text, tag):
        self.t, self.src, self.dst, self.kind, self.text, self.tag = t, src, dst, kind, text, tag


class Chart:
    """The messages of a recording, as lifelines and arrows; draws itself."""

    def __init__(self, events: list):
        self.events = sorted(events, key=lambda e: e.t)
        self._names: dict[tuple, Pid] = {}  # (name, node) -> pid, from whatever the events said
        for ev in self.events:
            if ev.frm is not None and ev.frm_name:
                self._names[(ev.frm_name, ev.frm.node)] = ev.frm
            if type(ev.to) is Pid and ev.to_name:
                self._names[(ev.to_name, ev.to.node)] = ev.to
        self._pid_names = {pid: name for (name, _node), pid in self._names.items()}
        self.arrows = self._arrows()
        self.lifelines = self._lifelines()

    # -- the model -------------------------------------------------------------------
    def _key(self, dest, node: str) -> Any:
        if type(dest) is Pid:
            return dest
        if isinstance(dest, str):
            dest = (dest, node)
        if type(dest) is tuple and len(dest) == 2:
            return self._names.get((dest[0], dest[1]), (dest[0], dest[1]))
        return ("?", None)

    def _arrows(self) -> list[_Arrow]:
        sent = [
            _Arrow(ev.t, self._key(ev.frm, ev.node), self._key(ev.to, ev.node), ev.kind, ev.text, ev.tag)
            for ev in self.events
            if ev.event == "send"
        ]
        callee = {a.tag: a.dst for a in sent if a.kind == "call" and a.tag is not None}
        matched: set[int] = set()
        arrows = list(sent)
        for ev in self.events:
            if ev.event != "receive":
                continue
            dst = ev.to
            twin = next(
                (
                    i
                    for i, a in enumerate(sent)
                    if i not in matched
                    and a.dst == dst
                    and a.kind == ev.kind
                    and a.text == ev.text
                    and abs(a.t - ev.t) < MATCH_WINDOW
                ),
                None,
            )
            if twin is not None:
                matched.add(twin)
                continue
            if ev.frm is not None:
                src = self._key(ev.frm, ev.node)
            elif ev.kind == "reply" and ev.tag in callee:
                src = callee[ev.tag]
            else:
                src = ("?", None)
            arrows.append(_Arrow(ev.t, src, dst, ev.kind, ev.text, ev.tag))
            if ev.kind == "call" and ev.tag is not None:
                callee[ev.tag] = dst
        arrows.sort(key=lambda a: a.t)
        return arrows

    def _lifelines(self) -> list[tuple[Any, str, str]]:
        """``(key, label, node)`` per lifeline: nodes in order of appearance, their processes under them."""
        order: list = []
        for a in self.arrows:
            for k in (a.src, a.dst):
                if k not in order:
                    order.append(k)
        nodes: list = []
        for k in order:
            n = _node_of(k)
            if n not in nodes:
                nodes.append(n)
        return [(k, self._label(k), _node_of(k) or "?") for n in nodes for k in order if _node_of(k) == n]

    def _label(self, key) -> str:
        if type(key) is Pid:
            name = self._pid_names.get(key)
            return name if name else f"#PID<.{key.id}>"
        return str(key[0])

    @property
    def nodes(self) -> list[str]:
        seen: list[str] = []
        for _k, _label, node in self.lifelines:
            if node not in seen:
                seen.append(node)
        return seen

    def __len__(self) -> int:
        return len(self.arrows)

    def __repr__(self) -> str:
        return (
            f"<Chart: {len(self.arrows)} messages between {len(self.lifelines)} processes on "
            f"{len(self.nodes)} nodes; print(chart), chart.save('chart.svg'), chart.mermaid()>"
        )

    # -- the terminal ------------------------------------------------------------------
    def _rows(self) -> list[tuple[str, str | None]]:
        """``(text, kind or None)`` per line of the terminal drawing."""
        if not self.arrows:
            return [("(an empty chart: no message was recorded)", None)]
        col = {k: i for i, (k, _label, _node) in enumerate(self.lifelines)}
        width = max([16] + [len(label) + 2 for _k, label, _n in self.lifelines] + [len(n) + 2 for n in self.nodes])
        mid = [i * width + width // 2 for i in range(len(self.lifelines))]
        total = len(self.lifelines) * width

        def blank() -> list[str]:
            line = [" "] * total
            for x in mid:
                line[x] = "│"
            return line

        def centred(texts) -> str:
            line = [" "] * total
            for x, t in zip(mid, texts, strict=True):
                start = max(0, x - len(t) // 2)
                line[start : start + len(t)] = t
            return "".join(line).rstrip()

        rows: list[tuple[str, str | None]] = [
            (centred([n for _k, _l, n in self.lifelines]), "node"),
            (centred([label for _k, label, _n in self.lifelines]), "head"),
        ]
        for a in self.arrows:
            x1, x2 = mid[col[a.src]], mid[col[a.dst]]
            words = f"{'' if a.kind == 'msg' else a.kind + ' '}{a.text}"
            label = blank()
            at = min(x1, x2) + 2
            for i, ch in enumerate(words[: max(0, total - at)]):
                label[at + i] = ch
            rows.append(("".join(label).rstrip(), a.kind))
            line = blank()
            if x1 == x2:  # to itself: out and back
                line[x1 : x1 + 3] = "├─┐"
                rows.append(("".join(line).rstrip(), a.kind))
                line = blank()
                line[x1 : x1 + 3] = "│◄┘"
            else:
                lo, hi = min(x1, x2), max(x1, x2)
                for x in range(lo + 1, hi):
                    line[x] = "─"
                line[x1] = "├" if x2 > x1 else "┤"
                line[x2 - 1 if x2 > x1 else x2 + 1] = "►" if x2 > x1 else "◄"
            rows.append(("".join(line).rstrip(), a.kind))
        rows.append(("".join(blank()).rstrip(), None))
        return rows

    def __str__(self) -> str:
        return "\n".join(text for text, _kind in self._rows())

    def __rich_console__(self, console, options):
        from rich.text import Text

        for text, kind in self._rows():
            style = RICH_STYLES.get(kind or "", "bold" if kind == "head" else "dim" if kind == "node" else "")
            yield Text(text, style=style, no_wrap=True, overflow="crop")

    # -- Mermaid -------------------------------------------------------------------------
    def mermaid(self) -> str:
        """A Mermaid ``sequenceDiagram`` (a box per node), for Markdown, slides and notebooks."""
        ids = {k: f"p{i}" for i, (k, _l, _n) in enumerate(self.lifelines)}
        out = ["sequenceDiagram"]
        for node in self.nodes:
            out.append(f"    box {_mm(node)}")
            out += [f"        participant {ids[k]} as {_mm(label)}" for k, label, n in self.lifelines if n == node]
            out.append("    end")
        for a in self.arrows:
            arrow = {"reply": "-->>", "cast": "-)"}.get(a.kind, "->>")
            words = f"{'' if a.kind == 'msg' else a.kind + ' '}{a.text}"
            out.append(f"    {ids[a.src]}{arrow}{ids[a.dst]}: {_mm(words)}")
        return "\n".join(out) + "\n"

    # -- SVG ----------------------------------------------------------------------------------
    def svg(self) -> str:
        """The chart as an SVG picture (self-contained: no fonts or scripts to fetch)."""
        colw, row, top = 190, 38, 78
        n = max(1, len(self.lifelines))
        height = top + row * (len(self.arrows) + 1) + 10
        width = colw * n + 20
        x_of = {k: 10 + i * colw + colw // 2 for i, (k, _l, _n) in enumerate(self.lifelines)}
        esc = html.escape
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            "<defs>",
        ]
        for kind, colour in COLOURS.items():
            parts.append(
                f'<marker id="head-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
                f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            )
        parts.append("</defs>")
        for node in self.nodes:  # a band per node, its name on top
            xs = [x_of[k] for k, _l, nd in self.lifelines if nd == node]
            x0, x1 = min(xs) - colw // 2 + 4, max(xs) + colw // 2 - 4
            parts.append(
                f'<rect x="{x0}" y="6" width="{x1 - x0}" height="{height - 12}" rx="6" fill="#f6f8fa" stroke="#d0d7de"/>'
            )
            parts.append(f'<text x="{(x0 + x1) // 2}" y="24" text-anchor="middle" fill="#57606a">{esc(node)}</text>')
        for k, label, _node in self.lifelines:
            x = x_of[k]
            parts.append(
                f'<rect x="{x - 70}" y="34" width="140" height="26" rx="4" fill="white" stroke="#57606a"/>'
                f'<text x="{x}" y="52" text-anchor="middle" font-weight="bold">{esc(label)}</text>'
                f'<line x1="{x}" y1="60" x2="{x}" y2="{height - 14}" stroke="#8c959f" stroke-dasharray="4 4"/>'
            )
        for i, a in enumerate(self.arrows):
            y = top + row * (i + 1) - 8
            x1, x2 = x_of[a.src], x_of[a.dst]
            colour = COLOURS.get(a.kind, COLOURS["msg"])
            dash = ' stroke-dasharray="6 3"' if a.kind == "reply" else ""
            words = esc(f"{'' if a.kind == 'msg' else a.kind + ' '}{a.text}")
            if x1 == x2:
                parts.append(
                    f'<path d="M{x1},{y - 6} h34 v14 h-34" fill="none" stroke="{colour}" stroke-width="1.5"{dash} '
                    f'marker-end="url(#head-{a.kind})"/><text x="{x1 + 40}" y="{y + 4}" fill="{colour}">{words}</text>'
                )
                continue
            parts.append(
                f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="1.5"{dash} '
                f'marker-end="url(#head-{a.kind})"/>'
                f'<text x="{(x1 + x2) // 2}" y="{y - 6}" text-anchor="middle" fill="{colour}">{words}</text>'
            )
        parts.append("</svg>")
        return "\n".join(parts) + "\n"

    def _repr_svg_(self) -> str:  # Jupyter shows the picture
        return self.svg()

    def save(self, path: str) -> str:
        """Write the chart to ``path``: ``.svg`` (a picture), ``.mmd`` or ``.md`` (Mermaid), else text."""
        p = str(path)
        if p.endswith(".svg"):
            text = self.svg()
        elif p.endswith(".mmd"):
            text = self.mermaid()
        elif p.endswith(".md"):
            text = f"```mermaid\n{self.mermaid()}```\n"
        else:
            text = str(self) + "\n"
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p


def _node_of(key) -> str | None:
    if type(key) is Pid:
        return key.node
    return key[1]


def _mm(text: str) -> str:
    """Mermaid's entity codes for what its grammar would read (#, ;, <, >, :)."""
    return "".join(f"#{ord(c)};" if c in "#;<>:" else c for c in text)
