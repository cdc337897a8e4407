"""Supervision trees as data and as pictures: ``Supervisor.tree(sup)`` and the observer's Applications tab.

``tree_data(sup)`` asks the supervisor (and each child that is a
supervisor, recursively) for its children with ``which_children`` and their
restart counts, so it works for a supervisor on any node
(``("kv_store.Supervisor", "node1@vm")``). Each answer is a call to a live
process, made by the caller; a child that does not answer is shown with
the reason instead of stopping the walk.
"""

from __future__ import annotations

from .._api.processes import node
from .._base.errors import Exit
from .._base.terms import Pid
from .genserver import GenServer

__all__ = ["tree", "tree_data"]

MAX_DEPTH = 12


def tree_data(sup, depth: int = 0) -> dict:
    """``{"id", "pid", "type", "strategy", "restarts", "children": [...]}`` of ``sup``'s tree."""
    pid = GenServer.whereis(sup) if not (type(sup) is tuple and len(sup) == 2) else sup
    out: dict = {"id": sup if isinstance(sup, str) else "", "pid": pid, "type": "supervisor", "children": []}
    try:
        children = GenServer.call(sup, ("which_children",), timeout=2.0)
    except Exit as err:
        out["error"] = str(err)
        return out
    try:
        tinfo = GenServer.call(sup, ("tree_info",), timeout=2.0)
    except Exit:
        tinfo = None
    if not isinstance(tinfo, dict):
        tinfo = {"strategy": "dynamic", "restarts": {}}  # a DynamicSupervisor: no counts per child
    out["strategy"] = tinfo["strategy"]
    counts = tinfo["restarts"]
    for cid, cpid, ctype, _mods in children:
        if ctype == "supervisor" and type(cpid) is Pid and depth < MAX_DEPTH:
            kid = tree_data(cpid, depth + 1)
            kid["id"] = cid
        else:
            kid = {"id": cid, "pid": cpid if type(cpid) is Pid else None, "type": ctype, "children": []}
        kid["restarts"] = counts.get(cid, 0)
        out["children"].append(kid)
    return out


def tree(sup):
    """``sup``'s supervision tree as a rich ``Tree`` (the prompt draws it): ids, pids, restart counts."""
    from rich.markup import escape
    from rich.tree import Tree

    data = tree_data(sup)

    def label(d: dict) -> str:
        text = f"[bold]{escape(str(d['id']) or 'supervisor')}[/bold]"
        text += f"  {escape(str(d['pid'])) if d.get('pid') is not None else '[dim]not running[/dim]'}"
        if d.get("strategy"):
            text += f"  [dim]({d['strategy']})[/dim]"
        if d.get("restarts"):
            text += f"  [yellow]restarts: {d['restarts']}[/yellow]"
        if d.get("error"):
            text += f"  [red]{escape(d['error'])}[/red]"
        return text

    def grow(t, d: dict) -> None:
        for kid in d["children"]:
            grow(t.add(label(kid)), kid)

    root = Tree(label(data) + f"  [dim]on {getattr(data.get('pid'), 'node', node())}[/dim]")
    grow(root, data)
    return root
