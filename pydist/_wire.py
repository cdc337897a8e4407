"""The wire format: one ZeroMQ frame per message, a kind byte then a pickle.

Every frame arrives on the node's ROUTER socket after the CURVE handshake,
and the ZAP handler admitted only peers holding the cookie's key, so
``decode`` (which unpickles) never sees bytes from an unauthenticated peer.
The routing id that ZeroMQ puts in front of each frame is the sender's node
name. Kinds are listed in docs/wire-protocol.md.
"""

from __future__ import annotations

import pickle

import cloudpickle

PROTOCOL_VERSION = 1

HELLO = 1        # (name, creation, port, longnames, peers, version)
HELLO_ACK = 2    # (name, creation, peers)
BYE = 3          # (reason,)
SEND = 4         # (dest pid or registered name, msg)
SPAWN = 5        # (ref, caller pid, group leader pid, payload bytes, link, monitor_ref)
SPAWN_REPLY = 6  # (ref, pid)
LINK = 7         # (from pid, to pid)
UNLINK = 8       # (from pid, to pid)
EXIT = 9         # (from pid, to pid, reason, via_link)
MONITOR = 10     # (watcher pid, target pid or name, ref)
DEMONITOR = 11   # (watcher pid, target pid or name, ref)
DOWN = 12        # (ref, watcher pid, target as watched, reason)
PING = 13        # (ref,)
PONG = 14        # (ref,)

NAMES = {v: k for k, v in dict(globals()).items() if isinstance(v, int) and k.isupper() and k != "PROTOCOL_VERSION"}


def encode(kind: int, payload: tuple) -> bytes:
    """Raises TypeError/PicklingError if something in ``payload`` cannot travel."""
    return bytes((kind,)) + cloudpickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def decode(frame) -> tuple[int, tuple]:
    """Only ever called on frames that passed CURVE authentication."""
    view = memoryview(frame)
    return view[0], pickle.loads(view[1:])
