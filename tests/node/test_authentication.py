"""Nothing from a peer without the cookie is ever unpickled.

A real ZeroMQ client sends a frame whose unpickling would create a file;
the node must drop it before pickle ever sees it, whether the client
speaks no security at all or CURVE with keys from another cookie.
"""

import pickle
import time

import pytest
import zmq
from conftest import COOKIE, wait_for

from pydist._net.cookie import curve_keys
from pydist._net.wire import SEND

pytestmark = pytest.mark.timeout(120)


class _Boom:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _attack(port: int, path: str, keys=None, server_key=None, until=None) -> None:
    """Send the booby-trapped frame five times on one connection.

    With ``until`` (a predicate), keep the connection open until it holds
    (the control: the frame does get through). Without, give the node one
    second to misbehave: on purpose, as nothing observable happens when the
    frames are (rightly) dropped.
    """
    ctx = zmq.Context()
    try:
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.routing_id = b"mallory@vm"
        if keys:
            s.curve_publickey, s.curve_secretkey = keys
            s.curve_serverkey = server_key
        s.connect(f"tcp://127.0.0.1:{port}")
        frame = bytes((SEND,)) + pickle.dumps((_Boom(path), "x"))
        for _ in range(5):
            s.send(frame)
        if until is None:
            time.sleep(1.0)
        else:
            wait_for(until, what=f"the control frame to be unpickled (creating {path})")
        s.close()
    finally:
        ctx.term()


def test_unauthenticated_frames_are_never_unpickled(nodes, tmp_path):
    a = nodes.start("a")
    port = int(a.value("__import__('pydist._core.runtime', fromlist=['RUNTIME']).RUNTIME.dist.port"))
    null_target = tmp_path / "null-mechanism"
    _attack(port, str(null_target))
    wrong = curve_keys("not-the-cookie")
    curve_target = tmp_path / "wrong-cookie"
    _attack(port, str(curve_target), keys=wrong, server_key=wrong[0])
    # a client that knows the server's public key but not the cookie's secret key
    right_pub = curve_keys(COOKIE)[0]
    half = tmp_path / "half-key"
    _attack(port, str(half), keys=zmq.curve_keypair(), server_key=right_pub)
    b = nodes.start("b")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"  # the node is fine
    assert not null_target.exists() and not curve_target.exists() and not half.exists()
    # control: the same frame sent with the cookie's keys IS unpickled, so the checks above can fail
    control = tmp_path / "with-cookie"
    _attack(port, str(control), keys=curve_keys(COOKIE), server_key=right_pub, until=control.exists)
    # the control got through after the forged frames were sent: they had their chance too
    assert not null_target.exists() and not curve_target.exists() and not half.exists()
