"""What ``observer()`` draws: the model both threads share, and each tab as text fragments.

Pure functions of the ``Model`` (prompt_toolkit's formatted text: a list of
``(style, text)``), so ``docs/pictures/make.py`` draws the same tabs
through rich. Runs on the screen's thread, at each redraw; never waits.
"""

from __future__ import annotations

import time

from .._api.trace import format_line
from .._core.runtime import RUNTIME
from .._core.tracing import short

__all__ = ["DRAW", "KEYS", "TABS", "Model", "tab_bar"]

TABS = ("Nodes", "Processes", "Applications", "Process")
KEYS = "Tab/1-4 tabs  ↑↓ select  Enter open  s sort  ←→ node  q/Esc back to the prompt"


class Model:
    """What the screen shows and what the fetcher fetches; both threads touch it (plain assignments)."""

    def __init__(self, focus: str):
        self.tab = 0
        self.focus = focus  # the node whose processes and applications are shown
        self.nodes: list[str] = [focus]
        self.stats: dict[str, dict] = {}  # node -> {"snap", "ping", "rate_in", "rate_out", "error"}
        self.rows: list[dict] = []
        self.apps: list = []  # [(app, tree)] of the focus node
        self.detail: dict | None = None
        self.detail_pid = None
        self.sort = "mailbox"
        self.cursor = {0: 0, 1: 0}
        self.updated = 0.0
        self.error: str | None = None
        self.cost = 0.0  # CPU seconds the last round of snapshots cost the observed nodes
        self.stopping = False


# -- drawing -------------------------------------------------------------------------------
def _ago(t: float | None) -> str:
    if t is None:
        return "?"
    s = int(time.time() - t)
    return time.strftime("%H:%M:%S", time.localtime(t)) + f" ({s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s)"


def _fmt_rate(x) -> str:
    return "" if x is None else f"{x:,.0f}"


def _table(head: tuple, rows: list[tuple], cursor: int | None, width: int) -> list:
    widths = [max(len(str(r[c])) for r in [head, *rows]) for c in range(len(head))]
    out = []

    def line(r) -> str:
        return "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True))[:width]

    out.append(("class:head", line(head) + "\n"))
    for i, r in enumerate(rows):
        out.append(("class:cursor" if i == cursor else "", line(r) + "\n"))
    return out


def _nodes_tab(model: Model, width: int) -> list:
    rows = []
    for n in model.nodes:
        st = model.stats.get(n, {})
        snap = st.get("snap")
        if n == RUNTIME.name:
            kind = "this node (hidden)" if getattr(RUNTIME.dist, "hidden", False) else "this node"
        elif snap is not None:
            kind = "hidden" if snap["hidden"] else "visible"
        else:
            kind = "?"
        ping = st.get("ping")
        rows.append(
            (
                n,
                kind,
                _ago(snap["started"]) if snap else "?",
                f"{ping * 1000:.1f}" if ping is not None else "pang",
                snap["processes"] if snap else "?",
                _fmt_rate(st.get("rate_in")),
                _fmt_rate(st.get("rate_out")),
                st.get("error") or "",
            )
        )
    head = ("Node", "Type", "Up since", "Ping ms", "Processes", "Msgs in/s", "Msgs out/s", "")
    return _table(head, rows, model.cursor[0], width)


def _processes_tab(model: Model, width: int) -> list:
    rows = [  # what to sort and compare first: a narrow terminal cuts the last columns
        (
            str(r["pid"]),
            r["name"] or "",
            r["status"],
            r["mailbox"],
            r["messages"],
            f"{r['memory'] / 1024:.1f}",
            (r["what"] + (f" [system: {r['system']}]" if r["system"] else ""))[:40],
            r["current"][:50],
        )
        for r in model.rows
    ]
    head = ("Pid", "Name", "Status", "Mailbox", "Msgs", "KiB", "What", "Current function")
    top = [("class:note", f"{model.focus}: sorted by {model.sort} (s changes it), Enter shows one process\n")]
    return top + _table(head, rows, model.cursor[1], width)


def _tree_lines(tree: dict, prefix: str, last: bool, out: list, root: bool = False) -> None:
    pid = tree.get("pid")
    restarts = tree.get("restarts")
    label = f"{tree.get('id', '')}  {pid if pid is not None else 'not running'}"
    if tree.get("type") == "supervisor" or tree.get("children"):
        label += f"  ({tree.get('strategy') or 'supervisor'})"
    if restarts:
        label += f"  restarts: {restarts}"
    if tree.get("error"):
        label += f"  ({tree['error']})"
    out.append(("", (prefix + ("" if root else "└─ " if last else "├─ ")) + label + "\n"))
    kids = tree.get("children") or []
    for i, kid in enumerate(kids):
        _tree_lines(kid, prefix + ("" if root else "   " if last else "│  "), i == len(kids) - 1, out)


def _apps_tab(model: Model, width: int) -> list:
    out: list = [("class:note", f"{model.focus}: running applications\n")]
    if not model.apps:
        out.append(("", "(no application started: pydist -S APP or Application.start(app))\n"))
    for app, tree in model.apps:
        out.append(("class:head", f"{app}\n"))
        _tree_lines(tree, "  ", True, out, root=True)
    return out


def _detail_tab(model: Model, width: int) -> list:
    d = model.detail
    if model.detail_pid is None:
        return [("", "Choose a process in the Processes tab (Enter).\n")]
    if d is None:
        return [("", f"{model.detail_pid}: asking {model.focus}...\n")]
    out: list = [("class:head", f"{model.detail_pid}" + ("" if d.get("alive") else "  (not alive)") + "\n")]
    for k in (
        "registered_name",
        "status",
        "behaviour",
        "initial_call",
        "current_function",
        "message_queue_len",
        "links",
        "monitors",
        "monitored_by",
        "trap_exit",
        "group_leader",
        "green",
        "system",
        "memory",
    ):
        if k in d:
            out.append(("", f"  {k.ljust(18)} {_short(d[k])}\n"[: width + 1]))
    if d.get("messages"):
        out.append(("class:head", "In its mailbox\n"))
        out += [("", f"  {_short(m)}\n") for m in d["messages"][:10]]
    out.append(("class:head", "Last messages (since this pane opened)\n"))
    if not d.get("recent"):
        out.append(("", "  (none yet)\n"))
    out += [("", f"  {format_line(ev)}\n"[: width + 1]) for ev in d.get("recent", [])]
    return out


def _short(v) -> str:
    return short(v)


DRAW = (_nodes_tab, _processes_tab, _apps_tab, _detail_tab)


def tab_bar(model: Model) -> list:
    out = []
    for i, name in enumerate(TABS):
        out.append(("class:tab.on" if i == model.tab else "class:tab", f" {i + 1} {name} "))
        out.append(("", " "))
    stamp = time.strftime("%H:%M:%S", time.localtime(model.updated)) if model.updated else "..."
    out.append(("class:note", f"  {model.focus}  updated {stamp}  observing costs {model.cost * 1000:.1f} ms CPU/s"))
    if RUNTIME.name not in model.nodes:  # pydist observer NODE: a tool beside the cluster
        hidden = " (hidden)" if getattr(RUNTIME.dist, "hidden", False) else ""
        out.append(("class:note", f"  from {RUNTIME.name}{hidden}"))
    return out
