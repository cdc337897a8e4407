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
from pydist._net.epmd import client, protocol
from pydist._net.epmd import server as daemon

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server(monkeypatch):
    """A name server running in a thread of this process; yields its port."""
    port = free_port()
    monkeypatch.setenv("PYDIST_EPMD_PORT", str(port))
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", daemon.serve(port)), daemon=True)
    thread.start()
    wait_for(client.ping, what="the in-process name server to answer PING")
    yield port
    client.kill()
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
    except TimeoutError:
        return False


def test_split_name():
    assert protocol.split_name("foo@vm") == "foo"
    assert protocol.split_name("a.b-c_1@host.example.com") == "a.b-c_1"
    assert protocol.split_name("foo") == "foo"
    for bad in ["", "@vm", "foo@", "fo o@vm", "x" * 65 + "@vm", "a@b@c", "föö@vm"]:
        with pytest.raises(ValueError, match="invalid node name"):
            protocol.split_name(bad)


NAME_CASES = ["foo", "a.b-c_1", "x" * 64, "_x", "9lives", "lookup", "", "x" * 65, "fo o", "föö", "foo\n", "a@b", "a:b"]
NAME_CASES += [".", "..", "-", "--help", ".hidden", "-x", "LOOKUP", "REGISTER", "NAMES", "KILL"]  # not node names
VALID_NAMES = ("foo", "a.b-c_1", "x" * 64, "_x", "9lives", "lookup")


@pytest.mark.parametrize("name", NAME_CASES)
def test_one_name_grammar_for_flags_names_and_the_name_server(name):
    # A name the name server refuses must be refused by --sname and by names.split too, and back
    from pydist._base.names import is_valid_name, make_own_name, split

    valid = is_valid_name(name)
    assert valid == (name in VALID_NAMES)
    verdicts = []
    for check in (
        lambda: protocol.split_name(f"{name}@vm"),
        lambda: protocol.check_name(name),
        lambda: split(f"{name}@vm"),
        lambda: make_own_name(f"{name}@vm", None),
    ):
        try:
            check()
            verdicts.append(True)
        except (ValueError, PydistError):
            verdicts.append(False)
    assert verdicts == [valid] * 4


def test_epmd_port(monkeypatch):
    monkeypatch.delenv("PYDIST_EPMD_PORT", raising=False)
    assert protocol.epmd_port() == protocol.DEFAULT_PORT == 4370
    monkeypatch.setenv("PYDIST_EPMD_PORT", "5555")
    assert protocol.epmd_port() == 5555
    monkeypatch.setenv("PYDIST_EPMD_PORT", "nope")
    with pytest.raises(PydistError, match="PYDIST_EPMD_PORT"):
        protocol.epmd_port()


def test_register_lookup_names(server):
    assert client.names() == []
    assert client.lookup("127.0.0.1", "foo") is None
    with client.register("foo", 40123) as foo, client.register("bar", 40124):
        assert foo.active
        assert client.lookup("127.0.0.1", "foo") == 40123
        assert client.lookup("localhost", "bar") == 40124
        assert client.names() == [("bar", 40124), ("foo", 40123)]
    wait_for(lambda: client.names() == [], what="both entries to disappear after close")


def test_lookup_says_the_full_node_name_it_was_registered_with(server):
    # so a dial of foo@localhost learns "foo@vm" without opening a connection to it
    with client.register("foo", 40123, node="foo@vm"), client.register("bar", 40124):
        assert client.lookup_node("127.0.0.1", "foo") == (40123, "foo@vm")
        assert client.lookup_node("127.0.0.1", "bar") == (40124, None)
        assert client.lookup("127.0.0.1", "foo") == 40123
    for bad in (b"REGISTER foo 1 bar@vm\n", b"REGISTER foo 1 foo@\x1b[31m\n", b"REGISTER foo 1 foo@vm x\n"):
        with raw(server, bad) as sock:
            assert sock.recv(100) == b"ERR bad request\n"
    assert client.lookup("127.0.0.1", "foo") is None


def test_taken_name_is_refused_with_advice(server):
    first = client.register("foo", 1000)
    with pytest.raises(NameInUse) as err:
        client.register("foo", 2000)
    assert "foo is already in use" in str(err.value) and "--sname" in str(err.value)
    assert client.lookup("127.0.0.1", "foo") == 1000
    first.close()
    first.close()  # idempotent
    assert not first.active
    wait_for(lambda: client.lookup("127.0.0.1", "foo") is None, what="foo to be freed")
    client.register("foo", 2000).close()


def test_notify_reaches_on_notice(server, caplog):
    got, calls = [], []

    def on_notice(text):
        calls.append(threading.current_thread().name)
        if text == "boom":
            raise RuntimeError("callback bug")
        got.append(text)

    with client.register("foo", 1000, on_notice=on_notice):
        with caplog.at_level(logging.ERROR, logger="pydist.epmd"):
            assert client.notify("127.0.0.1", "foo", "boom")
            assert client.notify("127.0.0.1", "foo", "bar@vm tried to connect\nwith a wrong cookie")
            assert client.notify("127.0.0.1", "foo", "é" * 1000)
            wait_for(lambda: len(got) == 2, what="two notices after the failing one")
        assert got[0] == "bar@vm tried to connect with a wrong cookie"
        assert set(got[1]) == {"é"} and len(got[1]) <= protocol.MAX_NOTICE
        assert calls == ["pydist-epmd-foo"] * 3
        assert "on_notice callback of foo failed" in caplog.text
    assert client.notify("127.0.0.1", "nobody", "hello") is False
    assert client.notify("127.0.0.1", "bad name", "hello") is False


def test_client_without_server(monkeypatch):
    port = free_port()
    monkeypatch.setenv("PYDIST_EPMD_PORT", str(port))
    with pytest.raises(NameServerUnreachable, match=f"127.0.0.1:{port}"):
        client.lookup("127.0.0.1", "foo")
    with pytest.raises(NameServerUnreachable):
        client.register("foo", 1)
    with pytest.raises(NameServerUnreachable):
        client.names()
    with pytest.raises(NameServerUnreachable, match="resolve"):
        client.lookup("no-such-host.invalid", "foo")
    assert client.ping() is False
    assert client.notify("127.0.0.1", "foo", "x") is False
    assert client.kill() is False


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
    with client.register("foo", 1000):
        sock = raw(server, payload())
        assert closed_by_server(sock), "the server kept a garbage connection open"
        sock.close()
        assert client.ping()
        assert client.lookup("127.0.0.1", "foo") == 1000


def test_unknown_command_gets_an_error_line(server):
    with raw(server, b"HELLO\n") as sock:
        assert sock.recv(100) == b"ERR unknown command\n"


def test_idle_connections_do_not_block_and_are_dropped(server, monkeypatch):
    monkeypatch.setattr(daemon, "IDLE_TIMEOUT", 0.3)
    reg = client.register("foo", 1000)
    half = raw(server, b"PIN")  # half a line, then silence
    idle = [raw(server) for _ in range(200)]
    # Generous timeouts: on a loaded machine this thread and the server's share one GIL.
    assert client.ping(timeout=15) and client.lookup("127.0.0.1", "foo", timeout=15) == 1000
    assert closed_by_server(half), "a connection with half a line was never dropped"
    for sock in [*idle, half]:
        sock.close()
    time.sleep(0.6)  # twice the idle limit: registrations must survive it
    assert reg.active and client.lookup("127.0.0.1", "foo", timeout=15) == 1000
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
        assert client.lookup("127.0.0.1", "foo2") is None
    wait_for(lambda: client.lookup("127.0.0.1", "foo") is None, what="foo to vanish with its connection")


def test_is_loopback():
    assert protocol.is_loopback(("127.0.0.1", 1)) and protocol.is_loopback(("127.5.6.7", 1))
    assert protocol.is_loopback(("::1", 1, 0, 0)) and protocol.is_loopback(("::ffff:127.0.0.1", 1, 0, 0))
    assert not protocol.is_loopback(("10.0.0.1", 1)) and not protocol.is_loopback(None)


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
    assert client.lookup(addr, "foo") is None and client.ping()


def test_kill_drops_registrations(server):
    reg = client.register("foo", 1000)
    assert client.kill()
    assert not client.ping()
    wait_for(lambda: not reg.active, what="the registration to notice the server is gone")
    reg.close()


def test_serve_on_taken_port_exits_1(capsys):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        assert daemon.serve(taken.getsockname()[1]) == 1
    assert "already in use" in capsys.readouterr().err


def test_compatibility_module_reexports_the_client():
    # _core.dist still imports pydist._net.nameserver; it must be the epmd client's API, not a copy
    from pydist._net import nameserver

    assert sorted(nameserver.__all__) == ["ensure_running", "lookup", "lookup_node", "notify", "register", "split_name"]
    for name in nameserver.__all__:
        assert getattr(nameserver, name) is (getattr(client, name, None) or getattr(protocol, name))


def test_notify_only_from_this_host_and_rate_limited(server):
    got = []
    with client.register("foo", 1000, on_notice=got.append):
        addr = _non_loopback_address()
        if addr is not None:  # another host (this machine's own outside address) may not notify
            with socket.create_connection((addr, server), timeout=5) as sock, sock.makefile("rb") as reader:
                sock.sendall(b"NOTIFY foo cookie-mismatch evil@vm\n")
                assert reader.readline() == b"ERR notify only from this host\n"
        started = time.monotonic()
        with raw(server) as sock, sock.makefile("rb") as reader:
            sock.sendall(b"".join(b"NOTIFY foo cookie-mismatch n%d@vm\n" % i for i in range(2000)))
            replies = [reader.readline() for _ in range(2000)]
        took = time.monotonic() - started  # long on a loaded machine: the budget refills meanwhile
        sent = replies.count(b"OK\n")
        assert sent + replies.count(b"BUSY\n") == 2000
        # A burst, then one a second of however long the 2,000 requests took.
        assert daemon.NOTIFY_BURST <= sent <= daemon.NOTIFY_BURST + took * daemon.NOTIFY_RATE + 1, (sent, took)
        wait_for(lambda: len(got) == sent, what=f"the {sent} notices sent to reach the registrant")
    assert addr is not None, "this machine has no outside address to test NOTIFY from another host"


def test_a_flood_of_kept_alive_connections_cannot_lock_nodes_out(server, monkeypatch):
    monkeypatch.setattr(daemon, "MAX_UNREGISTERED", 64)
    flood = [raw(server, b"PING\n") for _ in range(200)]  # each answered once, then kept open
    for sock in flood[-5:]:
        assert sock.recv(100) == b"PONG\n"
    with client.register("node1", 4000):  # a node can still register, and be found
        assert client.lookup("127.0.0.1", "node1") == 4000
        closed = sum(1 for sock in flood[:100] if closed_by_server(sock))
        assert closed == 100, closed  # the oldest went first
    for sock in flood:
        sock.close()


def test_an_unregistered_connection_cannot_stay_for_ever(server, monkeypatch):
    monkeypatch.setattr(daemon, "UNREGISTERED_LIFETIME", 0.6)
    monkeypatch.setattr(daemon, "IDLE_TIMEOUT", 0.3)
    sock = raw(server)
    deadline = time.monotonic() + 5
    with pytest.raises((ConnectionError, OSError, AssertionError)):
        while time.monotonic() < deadline:  # busy, never idle: PING every 0.1 s
            sock.sendall(b"PING\n")
            assert sock.recv(100) == b"PONG\n"
            time.sleep(0.1)
    assert time.monotonic() < deadline, "a busy unregistered connection was never closed"
    sock.close()
    with client.register("keeper", 5000) as reg:  # a registration lives on past that
        time.sleep(1.0)
        assert reg.active and client.lookup("127.0.0.1", "keeper") == 5000


def test_too_many_connections_from_another_host_are_refused(server):
    addr = _non_loopback_address()
    assert addr is not None, "this machine has no outside address to connect from"
    held = [socket.create_connection((addr, server), timeout=5) for _ in range(daemon.MAX_PER_HOST)]
    extra = socket.create_connection((addr, server), timeout=5)
    assert closed_by_server(extra)
    assert client.ping()  # this host's clients are not counted with them
    for sock in [*held, extra]:
        sock.close()


def test_a_registration_comes_back_after_the_name_server_restarts(server, monkeypatch):
    monkeypatch.setattr(client.Registration, "RETRY", 0.1)
    reg = client.register("phoenix", 6000, node="phoenix@vm")
    assert client.kill()
    wait_for(lambda: not reg.active, what="the registration to notice the server is gone")
    thread = threading.Thread(target=daemon.serve, args=(server,), daemon=True)
    thread.start()  # started again, on the same port
    wait_for(lambda: reg.active, what="the node to register again by itself")
    assert client.lookup_node("127.0.0.1", "phoenix") == (6000, "phoenix@vm")
    reg.close()
