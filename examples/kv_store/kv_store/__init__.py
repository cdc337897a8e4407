"""The lecture's replicated key-value store (``KvStore``), in pydist.

Step 4 (replicated read/write): ``put`` writes to every node of
``[node()] + Node.list()`` and answers ``"ok"`` only if every replica
answered ``"ok"``; ``get`` reads the local copy. The supervision tree and
the cluster topology are declared in ``kv_store/application.py``.
"""

from pydist import GenServer, Node, node

from .map_server import NAME, MapServer

__all__ = ["MapServer", "get", "put"]


def put(k, v):
    """Write ``k = v`` to every replica: ``"ok"`` or ``("error", "didn't write to all replicas")``."""
    nodes = [node(), *Node.list()]
    replies, bad_nodes = GenServer.multi_call(nodes, NAME, ("put", k, v), 5.0)
    if not bad_nodes and all(reply == "ok" for _node, reply in replies):
        return "ok"
    return ("error", "didn't write to all replicas")


def get(k):
    """Read the local copy (the value, or None)."""
    return MapServer.get(k)
