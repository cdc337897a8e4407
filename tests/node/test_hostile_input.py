"""Random bytes on both kinds of port never crash or wedge anything."""

import os
import socket

import pytest

pytestmark = pytest.mark.timeout(120)


def _garbage(port: int, payloads) -> None:
    for data in payloads:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(data)
                s.settimeout(0.3)
                try:
                    s.recv(4096)
                except OSError:
                    pass
        except OSError:
            pass  # a server that hangs up on garbage is doing its job


PAYLOADS = [
    os.urandom(64),
    os.urandom(5000),
    b"\xff" * 10 + os.urandom(100),
    # a ZMTP greeting with a bogus mechanism, then junk
    b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00CURVE" + b"\x00" * 15 + b"\x00" * 32 + os.urandom(300),
    # a NULL-mechanism greeting (unauthenticated peer) followed by a READY and a message
    b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL"
    + b"\x00" * 16
    + b"\x00" * 32
    + b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
    + b"\x00\x05hello",
    b"REGISTER x 1\n" * 100,
    b"LOOKUP " + b"a" * 10000 + b"\n",
    b"\n" * 1000,
]


def test_random_bytes_on_the_node_port(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    port = int(a.value("__import__('pydist._core.runtime', fromlist=['RUNTIME']).RUNTIME.dist.port"))
    _garbage(port, PAYLOADS * 3)
    # a silent half-open connection must not block anyone either
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        assert b.value(f"Node.ping({a.full!r})") == "'pong'"
        assert b.value(f"rpc.call({a.full!r}, node)") == repr(a.full)
    finally:
        idle.close()
    assert "Traceback" not in a.output


def test_random_bytes_on_the_name_server_port(nodes):
    a = nodes.start("a")
    port = int(os.environ["PYDIST_EPMD_PORT"])
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        _garbage(port, PAYLOADS * 3)
        b = nodes.start("b")  # registering still works
        assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    finally:
        idle.close()
