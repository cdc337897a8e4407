"""The wire format: one ZeroMQ frame per message, a kind byte then a pickle.

Every frame arrives on the node's ROUTER socket after the CURVE handshake,
and the ZAP handler admitted only peers holding the cookie's key, so
``decode`` (which unpickles) never sees bytes from an unauthenticated peer.
The routing id that ZeroMQ puts in front of each frame is the sender's node
name. Kinds are listed in docs/wire-protocol.md.
"""

from __future__ import annotations

import pickle
import struct

import cloudpickle
import cloudpickle.cloudpickle as _cp

# modules registered with cloudpickle.register_pickle_by_value (c("file.py"), -S APP)
_BY_VALUE = _cp._PICKLE_BY_VALUE_MODULES

PROTOCOL_VERSION = 3  # 2: BATCH frames; 3: SEND_PID

HELLO = 1  # (name, creation, port, longnames, peers, version)
HELLO_ACK = 2  # (name, creation, peers)
BYE = 3  # (reason,)
SEND = 4  # (dest pid or registered name, msg)
SPAWN = 5  # (ref, caller pid, group leader pid, payload bytes, link, monitor_ref)
SPAWN_REPLY = 6  # (ref, pid)
LINK = 7  # (from pid, to pid)
UNLINK = 8  # (from pid, to pid)
EXIT = 9  # (from pid, to pid, reason, via_link)
MONITOR = 10  # (watcher pid, target pid or name, ref)
DEMONITOR = 11  # (watcher pid, target pid or name, ref)
DOWN = 12  # (ref, watcher pid, target as watched, reason)
PING = 13  # (ref,)
PONG = 14  # (ref,)
PID_BLOCK = 15  # (start, count): pid ids of the sender's node, reserved for the receiver's spawns
PID_BLOCK_REQ = 16  # (): please grant another block
MONITOR_SEND = 18  # (watcher pid, target pid or name, ref, msg): MONITOR then SEND in one frame (a call)
SPAWN_AT = 17  # (caller pid, group leader pid, payload bytes, link, monitor_ref, pid id from a block)
BATCH = 19  # not a pickle: frames of one sender in order, each a 4-byte big-endian length + the frame
SEND_PID = 20  # not a pickle of (dest, msg): the id and creation of a pid of the receiver (8 bytes each, big-endian), then the pickled msg

NAMES = {v: k for k, v in dict(globals()).items() if isinstance(v, int) and k.isupper() and k != "PROTOCOL_VERSION"}


_dumps, _PROTOCOL = pickle.dumps, pickle.HIGHEST_PROTOCOL
_HEADS = [bytes((k,)) for k in range(256)]


_SEND_PID_HEAD = struct.Struct(">BQQ")
SEND_PID_HEAD_SIZE = _SEND_PID_HEAD.size
MAX_ID = (1 << 64) - 1  # ids and creations that fit SEND_PID's header


def encode(kind: int, payload: tuple) -> bytes:
    """Raises TypeError/PicklingError if something in ``payload`` cannot travel."""
    return _HEADS[kind] + _pickle(payload)


def encode_send_pid(id: int, creation: int, msg) -> bytes:
    """A SEND to the pid ``id``/``creation`` of the receiving node: the pid travels
    as two integers, not as a pickled Pid (the commonest frame: every reply).
    ``id`` and ``creation`` are at most ``MAX_ID``; raises as ``encode`` does."""
    return _SEND_PID_HEAD.pack(SEND_PID, id, creation) + _pickle(msg)


def _pickle(obj) -> bytes:
    """Plain ``pickle`` is 4x faster than cloudpickle for the small tuples most
    messages are, so it goes first. It would send functions and classes of
    ``__main__`` (the prompt, a script) *by reference*, which the other node
    cannot resolve, so any output naming ``__main__``, and everything while
    modules are registered to travel by value, goes through cloudpickle.
    """
    if not _BY_VALUE:
        try:
            body = _dumps(obj, _PROTOCOL)
        except Exception:
            pass
        else:
            if b"__main__" not in body:
                return body
    return cloudpickle.dumps(obj, protocol=_PROTOCOL)


def encode_envelope(kind: int, payload: tuple) -> bytes:
    """For frames that hold only pids, refs, numbers, strings and bytes that
    are pickles already (a spawn's function): plain pickle is always right,
    and the ``__main__`` check of ``encode`` would be fooled by those bytes."""
    return bytes((kind,)) + pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def decode(frame) -> tuple[int, tuple]:
    """Only ever called on frames that passed CURVE authentication. A SEND_PID
    frame decodes to ``(id, creation, msg)``."""
    view = memoryview(frame)
    if view[0] == SEND_PID:
        _, id, creation = _SEND_PID_HEAD.unpack_from(view)
        return SEND_PID, (id, creation, pickle.loads(view[SEND_PID_HEAD_SIZE:]))
    return view[0], pickle.loads(view[1:])
