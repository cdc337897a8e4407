"""The name server and its client, in one process: a server thread per test.

Each test gets its own port (bound to 0 first) and PYDIST_EPMD_PORT points
at it, so the user's name server is never touched.
"""

import logging
import os
import socket
import threading
import time

import pytest
from conftest import free_port, wait_for

from pydist._base.errors import NameInUse, NameServerUnreachable, PydistError
from pydist._net import nameserver as ns

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server(monkeypatch):
    """A name server running in a thread of this process; yields its port."""
    port = free_port()
    monkeypatch.setenv("PYDIST_EPMD_PORT", str(port))
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", ns.serve(port)), daemon=True)
    thread.start()
    wait_for(ns.ping, what="the in-process name server to answer PING")
    yield port
    ns.kill()
    thread.join(5)
    assert not thread.is_alive(), "the name server thread did not stop after KILL"
    assert result["rc"] == 0


def raw(port, payload: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if payload:
        sock.sendall(payload)
    return sock


def closed_by_server(sock) -> bool:
    """Read until EOF; True if the server closed the connection."""
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_split_name():
    assert ns.split_name("foo@vm") == "foo"
    assert ns.split_name("a.b-c_1@host.example.com") == "a.b-c_1"
    assert ns.split_name("foo") == "foo"
    for bad in ["", "@vm", "foo@", "fo o@vm", "x" * 65 + "@vm", "a@b@c", "föö@vm"]:
        with pytest.raises(ValueError, match="invalid node name"):
            ns.split_name(bad)


def test_epmd_port(monkeypatch):
    monkeypatch.delenv("PYDIST_EPMD_PORT", raising=False)
    assert ns.epmd_port() == ns.DEFAULT_PORT == 4370
    monkeypatch.setenv("PYDIST_EPMD_PORT", "5555")
    assert ns.epmd_port() == 5555
    monkeypatch.setenv("PYDIST_EPMD_PORT", "nope")
    with pytest.raises(PydistError, match="PYDIST_EPMD_PORT"):
        ns.epmd_port()


def test_register_lookup_names(server):
    assert ns.names() == []
    assert ns.lookup("127.0.0.1", "foo") is None
    with ns.register("foo", 40123) as foo, ns.register("bar", 40124):
        assert foo.active
        assert ns.lookup("127.0.0.1", "foo") == 40123
        assert ns.lookup("localhost", "bar") == 40124
        assert ns.names() == [("bar", 40124), ("foo", 40123)]
    wait_for(lambda: ns.names() == [], what="both entries to disappear after close")


def test_taken_name_is_refused_with_advice(server):
    first = ns.register("foo", 1000)
    with pytest.raises(NameInUse) as err:
        ns.register("foo", 2000)
    assert "foo is already in use" in str(err.value) and "--sname" in str(err.value)
    assert ns.lookup("127.0.0.1", "foo") == 1000
    first.close()
    first.close()  # idempotent
    assert not first.active
    wait_for(lambda: ns.lookup("127.0.0.1", "foo") is None, what="foo to be freed")
    ns.register("foo", 2000).close()


def test_notify_reaches_on_notice(server, caplog):
    got, calls = [], []

    def on_notice(text):
        calls.append(threading.current_thread().name)
        if text == "boom":
            raise RuntimeError("callback bug")
        got.append(text)

    with ns.register("foo", 1000, on_notice=on_notice):
        with caplog.at_level(logging.ERROR, logger="pydist.epmd"):
            assert ns.notify("127.0.0.1", "foo", "boom")
            assert ns.notify("127.0.0.1", "foo", "bar@vm tried to connect\nwith a wrong cookie")
            assert ns.notify("127.0.0.1", "foo", "é" * 1000)
            wait_for(lambda: len(got) == 2, what="two notices after the failing one")
        assert got[0] == "bar@vm tried to connect with a wrong cookie"
        assert set(got[1]) == {"é"} and len(got[1]) <= ns.MAX_NOTICE
        assert calls == ["pydist-epmd-foo"] * 3
        assert "on_notice callback of foo failed" in caplog.text
    assert ns.notify("127.0.0.1", "nobody", "hello") is False
    assert ns.notify("127.0.0.1", "bad name", "hello") is False


def test_client_without_server(monkeypatch):
    port = free_port()
    monkeypatch.setenv("PYDIST_EPMD_PORT", str(port))
    with pytest.raises(NameServerUnreachable, match=f"127.0.0.1:{port}"):
        ns.lookup("127.0.0.1", "foo")
    with pytest.raises(NameServerUnreachable):
        ns.register("foo", 1)
    with pytest.raises(NameServerUnreachable):
        ns.names()
    with pytest.raises(NameServerUnreachable, match="resolve"):
        ns.lookup("no-such-host.invalid", "foo")
    assert ns.ping() is False
    assert ns.notify("127.0.0.1", "foo", "x") is False
    assert ns.kill() is False


GARBAGE = [
    pytest.param(lambda: os.urandom(4096), id="urandom"),
    pytest.param(lambda: b"A" * 10000, id="long-line-no-newline"),
    pytest.param(lambda: b"LOOKUP " + b"x" * 600 + b"\n", id="long-line"),
    pytest.param(lambda: b"\xff\xfe\x00\n", id="invalid-utf8"),
    pytest.param(lambda: b"HELLO\n", id="unknown-command"),
    pytest.param(lambda: b"LOOKUP\n", id="missing-argument"),
    pytest.param(lambda: b"REGISTER foo notaport\n", id="bad-port"),
    pytest.param(lambda: b"REGISTER foo 99999\n", id="port-out-of-range"),
    pytest.param(lambda: b"PING\x00\n", id="nul"),
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_closes_only_that_connection(server, payload):
    with ns.register("foo", 1000):
        sock = raw(server, payload())
        assert closed_by_server(sock), "the server kept a garbage connection open"
        sock.close()
        assert ns.ping()
        assert ns.lookup("127.0.0.1", "foo") == 1000


def test_unknown_command_gets_an_error_line(server):
    with raw(server, b"HELLO\n") as sock:
        assert sock.recv(100) == b"ERR unknown command\n"


def test_idle_connections_do_not_block_and_are_dropped(server, monkeypatch):
    monkeypatch.setattr(ns, "IDLE_TIMEOUT", 0.3)
    reg = ns.register("foo", 1000)
    half = raw(server, b"PIN")  # half a line, then silence
    idle = [raw(server) for _ in range(200)]
    assert ns.ping() and ns.lookup("127.0.0.1", "foo") == 1000
    assert closed_by_server(half), "a connection with half a line was never dropped"
    for sock in idle + [half]:
        sock.close()
    time.sleep(0.6)  # twice the idle limit: registrations must survive it
    assert reg.active and ns.lookup("127.0.0.1", "foo") == 1000
    reg.close()


def test_registered_connection_takes_commands(server):
    with raw(server, b"REGISTER foo 1234\n") as sock, sock.makefile("rb") as reader:
        assert reader.readline() == b"OK\n"
        sock.sendall(b"PING\r\nREGISTER foo2 1\nLOOKUP foo\nNOTIFY foo hi there\n")
        assert [reader.readline() for _ in range(3)] == [
            b"PONG\n",
            b"ERR already registered on this connection\n",
            b"PORT 1234\n",
        ]
        # The notice to ourselves and the reply to NOTIFY, in either order.
        assert {reader.readline(), reader.readline()} == {b"OK\n", b"NOTICE hi there\n"}
        assert ns.lookup("127.0.0.1", "foo2") is None
    wait_for(lambda: ns.lookup("127.0.0.1", "foo") is None, what="foo to vanish with its connection")


def test_is_loopback():
    assert ns._is_loopback(("127.0.0.1", 1)) and ns._is_loopback(("127.5.6.7", 1))
    assert ns._is_loopback(("::1", 1, 0, 0)) and ns._is_loopback(("::ffff:127.0.0.1", 1, 0, 0))
    assert not ns._is_loopback(("10.0.0.1", 1)) and not ns._is_loopback(None)


def _non_loopback_address():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


def test_register_and_kill_refused_from_other_hosts(server):
    addr = _non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    for request, reply in [
        (b"REGISTER foo 1\n", b"ERR registration only from this host\n"),
        (b"KILL\n", b"ERR kill only from this host\n"),
    ]:
        with socket.create_connection((addr, server), timeout=5) as sock, sock.makefile("rb") as reader:
            sock.sendall(request)
            assert reader.readline() == reply
    assert ns.lookup(addr, "foo") is None and ns.ping()


def test_kill_drops_registrations(server):
    reg = ns.register("foo", 1000)
    assert ns.kill()
    assert not ns.ping()
    wait_for(lambda: not reg.active, what="the registration to notice the server is gone")
    reg.close()


def test_serve_on_taken_port_exits_1(capsys):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        assert ns.serve(taken.getsockname()[1]) == 1
    assert "already in use" in capsys.readouterr().err
