"""Step 7: a kv_store that keeps every acknowledged write through crashes,
pauses and partitions. Steps 1-5 stay as the lecture wrote them; this is
the lesson that follows them (docs/tutorial.md, Part 5).

Start it instead of step 5, on every node of the host list, from
``examples/kv_store``::

    pydist --sname node0@localhost -S kv_store.step7

It is an application module: the same cluster topology as step 3
(``application.py``: the host list, ``KV_STORE_HOSTS``), and one child, the
``Replica`` (``replica.py``). Then, at the prompt:

- ``kv_store.step7.put(k, v)``: ``"ok"`` once a majority of the host list
  stored the value, else ``("error", "no quorum: ...")`` naming who
  acknowledged. Not "whoever is connected": a node alone says so.
- ``kv_store.step7.get(k)``: this node's copy (fast; may be behind).
- ``kv_store.step7.get(k, quorum=True)``: the newest copy among a majority,
  so it sees every acknowledged write (and repairs older copies).

These functions run in the caller's process and call the local Replica,
which coordinates; see replica.py for why.
"""

from pydist import GenServer

from . import application
from .replica import NAME, Replica

__all__ = ["digest", "get", "get_map", "members", "put", "sync", "version"]

topologies = application.topologies  # the cluster first, so the Replica starts connected


def children():
    return [Replica]


supervisor = application.supervisor


def put(k, v, timeout: float = 5.0):
    """Write ``k = v`` to a majority of the host list: ``"ok"`` or ``("error", "no quorum: ...")``.

    ``"ok"``: a majority holds this value, or a newer write of ``k`` that a
    concurrent ``put`` made (last writer wins). An error means "not on a
    majority", not "nowhere": the replicas that acknowledged keep the value,
    and anti-entropy may spread it later.
    """
    return GenServer.call(NAME, ("put", k, v, timeout), timeout + 1.0)


def get(k, quorum: bool = False, timeout: float = 5.0):
    """The value of ``k`` (None if never written): this node's copy, or with
    ``quorum=True`` the newest among a majority (``("error", "no quorum: ...")`` without one)."""
    return GenServer.call(NAME, ("get", k, quorum, timeout), timeout + 1.0)


def version(k):
    """The version of this node's copy of ``k``: ``(counter, node, life)`` (versions.py)."""
    return GenServer.call(NAME, ("version", k))


def get_map() -> dict:
    """This node's whole map, ``{key: value}``."""
    return GenServer.call(NAME, "get_map")


def digest() -> tuple:
    """This node's digest (one number per bucket): two replicas with equal digests hold the same versions."""
    return GenServer.call(NAME, "digest")


def sync() -> list:
    """Run one anti-entropy round now; the members the digest went to."""
    return GenServer.call(NAME, "sync")


def members() -> list:
    """The configured replicas: the quorum is a majority of these."""
    return GenServer.call(NAME, "members")
