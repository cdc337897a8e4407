"""The supervision trees of the applications running on this node (the observer's Applications tab).

``app_trees`` runs on the observed node (the observer calls it there with
``rpc.call``); apart from ``sup_tree`` so the supervisor does not import
the application layer above it.
"""

from __future__ import annotations

from .application import Application
from .sup_tree import tree_data

__all__ = ["app_trees"]


def app_trees() -> list:
    """``[(app, tree_data)]`` of every application started on this node, in start order."""
    out = []
    for app in Application.started_applications():
        sup = Application.supervisor(app)
        if sup is not None:
            data = tree_data(sup)
            data["id"] = f"{app}.Supervisor"
            out.append((app, data))
    return out
