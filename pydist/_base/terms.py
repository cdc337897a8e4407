"""Pids and references: the identities that travel between nodes, and the shape of a DOWN.

Both are immutable, hashable and readable (``#PID<foo@host.42>``), report
``pydist`` as their module, and pickle by reference to functions of this
module (any node has pydist, so any node can unpickle them). ``creation`` tells incarnations of a node apart: a pid of a node that
has since restarted under the same name never reaches the new processes.
"""

from __future__ import annotations

import functools

__all__ = ["Pid", "Ref", "down_ref", "is_down"]


class Pid:
    """A process identifier: which node, which process, which incarnation."""

    __slots__ = ("_hash", "creation", "id", "node")
    node: str
    id: int
    creation: int
    _hash: int

    def __init__(self, node: str, id: int, creation: int = 0):
        if type(node) is not str or type(id) is not int or type(creation) is not int:  # before the hash
            raise TypeError(f"a pid is (node name, id, creation), not ({type(node).__name__}, ...)")
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "creation", creation)
        object.__setattr__(self, "_hash", hash((node, id, creation)))

    def __setattr__(self, key, value):
        raise AttributeError("Pid is immutable")

    def __eq__(self, other):
        return (
            type(other) is Pid and self.id == other.id and self.node == other.node and self.creation == other.creation
        )

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"#PID<{self.node}.{self.id}>"

    __str__ = __repr__

    def __reduce__(self):
        return (_pid, (self.node, self.id, self.creation))


def _pid(node: str, id: int, creation: int) -> Pid:
    """What an unpickled pid is made by. Its fields are checked before anything hashes
    them (the cache's key, then Pid.__init__): a peer's pid whose node is a tuple nested
    200,000 deep would crash the hash (C recursion, SIGSEGV); the frame then fails to
    decode and is dropped. So every Pid and Ref has a str node and int ids."""
    if type(node) is not str or type(id) is not int or type(creation) is not int:
        raise TypeError(f"a pid is (node name, id, creation), not ({type(node).__name__}, ...)")
    return _cached_pid(node, id, creation)


# Unpickling goes through a cache: a burst of messages names the same few
# pids over and over, and a cache hit (C code) is cheaper than __init__.
@functools.lru_cache(maxsize=4096)
def _cached_pid(node: str, id: int, creation: int) -> Pid:
    return Pid(node, id, creation)


class Ref:
    """A unique reference (``make_ref()``), e.g. the tag of a monitor."""

    __slots__ = ("_hash", "id", "node")
    node: str
    id: int
    _hash: int

    def __init__(self, node: str, id: int):
        if type(node) is not str or type(id) is not int:  # checked before the hash, as for pids
            raise TypeError(f"a ref is (node name, id), not ({type(node).__name__}, {type(id).__name__})")
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "_hash", hash(("ref", node, id)))

    def __setattr__(self, key, value):
        raise AttributeError("Ref is immutable")

    def __eq__(self, other):
        return type(other) is Ref and self.id == other.id and self.node == other.node

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"#Reference<{self.node}.{self.id}>"

    __str__ = __repr__

    def __reduce__(self):
        return (Ref, (self.node, self.id))


def is_down(msg, ref) -> bool:
    """True if ``msg`` is the ``("DOWN", ref, "process", target, reason)`` of the monitor ``ref``.

    The one test every selective receive waiting on a monitor uses (calls,
    rpc, supervisors, remsh, tasks): any other tuple -- a reply, an ``EXIT``,
    a DOWN of another monitor -- stays in the mailbox. Runs in the receiving
    process's thread, inside its receive, so it must be cheap and never raise.
    """
    return type(msg) is tuple and len(msg) == 5 and msg[0] == "DOWN" and msg[1] == ref


def down_ref(msg):
    """The monitor ref of a DOWN message, None for anything else.

    For a receive waiting on many monitors at once: ``down_ref(m) in refs``.
    """
    return msg[1] if type(msg) is tuple and len(msg) == 5 and msg[0] == "DOWN" else None


Pid.__module__ = "pydist"
Ref.__module__ = "pydist"
