"""The shape of each control frame, checked before any of its fields is used.

A peer that holds the cookie is trusted, as in Erlang: it may spawn, send,
link and kill. It must still not be able to *crash* the node with a term
the node then trips over. ``pickle.loads`` builds a tuple nested 200,000
deep without recursing, but hashing it (a dict lookup of a destination, a
set of refs) recurses in C and the process dies with SIGSEGV. So every
field a frame's handler uses is checked first: pids and refs are exactly
``Pid``/``Ref`` (whose constructors check for a ``str`` node and ``int``
ids before hashing them, so even unpickling one cannot crash), names are
strings of sane length, flags are booleans, and the free-form terms (exit reasons, the
target of a DOWN) are at most ``MAX_DEPTH`` deep and ``MAX_ITEMS`` large.
Messages themselves (SEND's second field) are the receiver's data and are
not inspected. ``valid(kind, payload)`` runs on the loop thread for every
frame: the common cases are a few ``type()`` tests.
"""

from __future__ import annotations

from .._base.terms import Pid, Ref
from . import wire

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "shallow", "valid"]

MAX_DEPTH = 100  # nesting a reason or a target may have (Erlang's are a few levels)
MAX_ITEMS = 100_000  # elements looked at in one term before it is judged too large
MAX_NAME = 1000  # characters of a registered name or a node name


def _pid(x) -> bool:
    return type(x) is Pid  # its constructor checked its fields (_base/terms.py)


def _ref(x) -> bool:
    return type(x) is Ref


def _name(x) -> bool:
    return type(x) is str and 0 < len(x) <= MAX_NAME


def _dest(x) -> bool:
    """A pid, or a registered name here."""
    return _pid(x) or _name(x)


def _maybe_ref(x) -> bool:
    return x is None or _ref(x)


def _names(x) -> bool:
    return type(x) is list and len(x) <= 10_000 and all(_name(n) for n in x)


def shallow(term, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> bool:
    """Whether ``term`` nests at most ``max_depth`` containers deep (iteratively: never recurses)."""
    stack = [(term, 0)]
    seen = 0
    while stack:
        x, depth = stack.pop()
        seen += 1
        if seen > max_items:
            return False
        t = type(x)
        if t in (tuple, list, set, frozenset):
            if depth >= max_depth:
                return False
            stack.extend((y, depth + 1) for y in x)
        elif t is dict:
            if depth >= max_depth:
                return False
            for k, v in x.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
    return True


def _reason(x) -> bool:
    return shallow(x)


def _target(x) -> bool:
    """What a DOWN names as watched: a pid, a name, or (name, node)."""
    return _dest(x) or (type(x) is tuple and len(x) == 2 and _name(x[0]) and _name(x[1]))


def _spawn(p) -> bool:  # (ref, caller, group leader, payload, link, monitor ref[, thread])
    return (
        len(p) in (6, 7)
        and _ref(p[0])
        and _pid(p[1])
        and (p[2] is None or _pid(p[2]))
        and type(p[3]) is bytes
        and type(p[4]) is bool
        and _maybe_ref(p[5])
        and (len(p) == 6 or type(p[6]) is bool)
    )


def _spawn_at(p) -> bool:  # (caller, group leader, payload, link, monitor ref, pid id[, thread])
    return (
        len(p) in (6, 7)
        and _pid(p[0])
        and (p[1] is None or _pid(p[1]))
        and type(p[2]) is bytes
        and type(p[3]) is bool
        and _maybe_ref(p[4])
        and type(p[5]) is int
        and (len(p) == 6 or type(p[6]) is bool)
    )


def _hello(p) -> bool:  # (name, creation, port, longnames, peers, version, target[, hidden])
    return (
        len(p) in (7, 8)
        and _name(p[0])
        and type(p[1]) is int
        and type(p[2]) is int
        and type(p[3]) is bool
        and _names(p[4])
        and type(p[5]) is int
        and _name(p[6])
        and (len(p) == 7 or type(p[7]) is bool)
    )


def _bye(p) -> bool:
    return 1 <= len(p) <= 3 and all(type(x) is str and len(x) <= MAX_NAME for x in p)


_SEND = wire.SEND
_CHECKS = {
    wire.HELLO: _hello,
    wire.HELLO_ACK: lambda p: len(p) in (3, 4) and _name(p[0]) and type(p[1]) is int and _names(p[2]),
    wire.BYE: _bye,
    wire.SEND: lambda p: len(p) == 2 and _dest(p[0]),
    wire.SPAWN: _spawn,
    wire.SPAWN_AT: _spawn_at,
    wire.SPAWN_REPLY: lambda p: len(p) == 2 and _ref(p[0]) and _pid(p[1]),
    wire.SEND_PID: lambda p: len(p) == 3 and type(p[0]) is int and type(p[1]) is int,
    wire.LINK: lambda p: len(p) == 2 and _pid(p[0]) and _pid(p[1]),
    wire.UNLINK: lambda p: len(p) == 2 and _pid(p[0]) and _pid(p[1]),
    wire.EXIT: lambda p: len(p) == 4 and _pid(p[0]) and _pid(p[1]) and type(p[3]) is bool and _reason(p[2]),
    wire.MONITOR: lambda p: len(p) == 3 and _pid(p[0]) and _dest(p[1]) and _ref(p[2]),
    wire.DEMONITOR: lambda p: len(p) == 3 and _pid(p[0]) and _dest(p[1]) and _ref(p[2]),
    wire.MONITOR_SEND: lambda p: len(p) == 4 and _pid(p[0]) and _dest(p[1]) and _ref(p[2]),
    wire.DOWN: lambda p: len(p) == 4 and _ref(p[0]) and _pid(p[1]) and _target(p[2]) and _reason(p[3]),
    wire.PING: lambda p: len(p) == 1 and _ref(p[0]),
    wire.PONG: lambda p: len(p) == 1 and _ref(p[0]),
    wire.PID_BLOCK: lambda p: len(p) == 2 and type(p[0]) is int and type(p[1]) is int and 0 < p[1] <= 1 << 20,
    wire.PID_BLOCK_REQ: lambda p: len(p) == 0,
}


def valid(kind: int, payload) -> bool:
    """Whether a frame of ``kind`` has the payload its handler expects (never raises)."""
    if kind == _SEND and type(payload) is tuple and len(payload) == 2 and type(payload[0]) is Pid:
        return True  # the hot path: a message to a pid
    check = _CHECKS.get(kind)
    if check is None or type(payload) is not tuple:
        return False
    try:
        return bool(check(payload))
    except Exception:
        return False
