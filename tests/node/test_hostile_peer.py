"""A peer that holds the cookie is trusted (as in Erlang), yet its malformed terms cannot crash a node.

pickle builds a tuple nested 200,000 deep without recursing; hashing it (a
lookup of a destination or a ref) recursed in C and the node died with
SIGSEGV. Every control frame's fields are checked before use now.
"""

import pickle
import time

import pytest
import zmq
from conftest import COOKIE

from pydist import Pid, Ref
from pydist._net import shapes, wire
from pydist._net.cookie import curve_keys

pytestmark = pytest.mark.timeout(120)

MARK = "MARKxMARK"
MALLORY = "mallory@localhost"


def _deep_frame(kind: int, payload, depth: int = 200_000) -> bytes:
    """A frame in which each MARK is a tuple nested ``depth`` deep (pickle cannot make one)."""
    body = pickle.dumps(payload, protocol=2)
    needle = b"X" + len(MARK).to_bytes(4, "little") + MARK.encode()
    assert needle in body
    return bytes((kind,)) + body.replace(needle, b"X\x01\x00\x00\x00x" + b"\x85" * depth)


def _as_cookie_holder(port: int, target: str, frames) -> None:
    """Connect with the cookie's keys, say HELLO (so the node takes us for a peer), send ``frames``."""
    ctx = zmq.Context()
    try:
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.routing_id = MALLORY.encode()
        pub, sec = curve_keys(COOKIE)
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, pub
        s.connect(f"tcp://127.0.0.1:{port}")
        s.send(wire.encode(wire.HELLO, (MALLORY, 1, 1, False, [], wire.PROTOCOL_VERSION, target, False)))
        time.sleep(0.5)
        for frame in frames:
            s.send(frame)
        time.sleep(1.0)
        s.close()
    finally:
        ctx.term()


def test_deeply_nested_fields_of_every_control_frame_are_dropped(nodes):
    a = nodes.start("a")
    port = int(a.value("__import__('pydist._core.runtime', fromlist=['x']).RUNTIME.dist.port"))
    me, target = Pid(MALLORY, 1, 1), Pid(a.full, 1, int(a.value("Node.self() and self().creation")))
    ref = Ref(MALLORY, 5)
    frames = [
        _deep_frame(wire.SEND, (MARK, "hi")),  # the destination
        _deep_frame(wire.SEND, (Pid(MARK, 1, 1), "hi")),  # a pid whose node is the deep term
        _deep_frame(wire.MONITOR, (me, MARK, ref)),
        _deep_frame(wire.MONITOR, (me, target, MARK)),  # the ref
        _deep_frame(wire.MONITOR_SEND, (me, MARK, ref, "call")),
        _deep_frame(wire.DEMONITOR, (me, MARK, MARK)),
        _deep_frame(wire.DOWN, (MARK, target, target, "x")),
        _deep_frame(wire.DOWN, (ref, target, target, MARK)),  # a reason
        _deep_frame(wire.EXIT, (me, target, MARK, True)),
        _deep_frame(wire.LINK, (MARK, MARK)),
        _deep_frame(wire.UNLINK, (MARK, target)),
        _deep_frame(wire.PING, (MARK,)),
        _deep_frame(wire.PONG, (MARK,)),
        _deep_frame(wire.SPAWN_AT, (me, MARK, b"", False, MARK, MARK)),
        _deep_frame(wire.PID_BLOCK, (MARK, 1)),
    ]
    _as_cookie_holder(port, a.full, frames)
    assert a.proc.poll() is None, f"the node died (exit status {a.proc.returncode})"
    assert a.value("1 + 1") == "2"
    b = nodes.start("b")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"  # and it still serves its peers
    a.wait_output(f"dropped a malformed SEND frame from {MALLORY}")
    assert "Traceback" not in a.output


def test_frames_of_real_nodes_pass_the_shape_checks():
    me, ref = Pid("a@vm", 3, 9), Ref("a@vm", 4)
    good = [
        (wire.HELLO, ("a@vm", 9, 4000, False, ["b@vm"], wire.PROTOCOL_VERSION, "c@vm", False)),
        (wire.HELLO, ("a@vm", 9, 4000, False, [], wire.PROTOCOL_VERSION, "c@vm")),
        (wire.HELLO_ACK, ("a@vm", 9, ["b@vm"], False)),
        (wire.BYE, ("wrong name", "a@vm", "a@localhost")),
        (wire.SEND, (me, {"any": ["message", (1, 2)]})),
        (wire.SEND, ("kv", "x")),
        (wire.SPAWN, (ref, me, me, b"payload", True, None, False)),
        (wire.SPAWN_AT, (me, me, b"payload", False, ref, 1024)),
        (wire.EXIT, (me, me, (("nodedown", "b@vm"), ("rpc", "call", ["b@vm", "f"])), False)),
        (wire.DOWN, (ref, me, ("kv", "b@vm"), "noproc")),
        (wire.MONITOR_SEND, (me, "kv", ref, ("$gen_call", (me, ref), "get"))),
        (wire.PID_BLOCK, (1024, 1024)),
        (wire.PID_BLOCK_REQ, ()),
    ]
    for kind, payload in good:
        assert shapes.valid(kind, payload), (wire.NAMES[kind], payload)
    kind, payload = wire.decode(wire.encode_send_pid(3, 9, {"any": ["message"]}))  # a SEND to a pid here
    assert kind == wire.SEND_PID and payload == (3, 9, {"any": ["message"]}) and shapes.valid(kind, payload)
    deep = "x"
    for _ in range(shapes.MAX_DEPTH + 1):
        deep = (deep,)
    assert not shapes.valid(wire.EXIT, (me, me, deep, True))
    assert not shapes.valid(wire.SEND, ((1, 2), "x")) and not shapes.valid(99, ())
    with pytest.raises(TypeError, match="a pid is"):
        Pid(("deep",), 1, 1)


def test_malformed_batches_are_dropped_and_good_parts_delivered(nodes):
    """A BATCH frame's parts are length-prefixed: lengths that run past the end,
    empty parts and batches inside batches are dropped; the good parts before
    them still arrive, in order."""
    from pydist._net.transport import _pack

    a = nodes.start("a")
    port = int(a.value("__import__('pydist._core.runtime', fromlist=['x']).RUNTIME.dist.port"))
    a.eval(
        "got = []\ndef sink():\n    while True:\n        got.append(receive())\nProcess.register(spawn(sink), 'sink')"
    )
    good = [wire.encode(wire.SEND, ("sink", i)) for i in range(3)]
    frames = [
        _pack(good),  # 0 1 2
        _pack([good[0]])[:-3],  # a length that runs past the end
        bytes((wire.BATCH,)) + (0).to_bytes(4, "big"),  # an empty part
        _pack([_pack(good)]),  # a batch inside a batch
        bytes((wire.BATCH,)) + b"\xff\xff",  # half a length
        _pack([wire.encode(wire.SEND, ("sink", "last"))]),
    ]
    _as_cookie_holder(port, a.full, frames)
    assert a.proc.poll() is None, f"the node died (exit status {a.proc.returncode})"
    assert a.value("got") == "[0, 1, 2, 'last']"
    assert "Traceback" not in a.output


def test_malformed_sends_to_a_pid_are_dropped(nodes):
    """SEND_PID carries the destination as two integers before the pickle: a short
    header or a broken pickle is reported and dropped, alone or inside a batch."""
    from pydist._net.transport import _pack

    a = nodes.start("a")
    port = int(a.value("__import__('pydist._core.runtime', fromlist=['x']).RUNTIME.dist.port"))
    a.eval("got = []\ndef sink():\n    while True:\n        got.append(receive())\nsink_pid = spawn(sink)")
    pid_id, creation = (int(x) for x in a.value("(sink_pid.id, sink_pid.creation)").strip("()").split(","))
    good = wire.encode_send_pid(pid_id, creation, "first")
    frames = [
        good,
        bytes((wire.SEND_PID,)) + b"\x00" * 5,  # half a header
        good[: wire.SEND_PID_HEAD_SIZE] + b"\x80\x05garbage",  # a broken pickle
        wire.encode_send_pid(pid_id, creation + 1, "an old incarnation"),  # dropped silently, as in Erlang
        _pack([wire.encode_send_pid(pid_id, creation, "batched"), good[:-4]]),
        wire.encode_send_pid(pid_id, creation, "last"),
    ]
    _as_cookie_holder(port, a.full, frames)
    assert a.proc.poll() is None, f"the node died (exit status {a.proc.returncode})"
    assert a.value("got") == "['first', 'batched', 'last']"
    a.wait_output(f"dropped a malformed SEND_PID frame from {MALLORY}")
    assert "Traceback" not in a.output
