"""`pydist epmd` and ensure_running() with real processes.

Every test has its own port (PYDIST_EPMD_PORT, inherited by the
subprocesses) and a finalizer that kills whatever server ended up on it.
"""

import os
import signal
import socket
import subprocess
import sys

import pytest
from conftest import free_port, wait_for

from pydist._net.epmd import client as ns
from pydist._net.epmd.protocol import epmd_port

pytestmark = pytest.mark.timeout(60)

EPMD = [sys.executable, "-c", "import sys; from pydist._net.epmd.cli import main; sys.exit(main(sys.argv[1:]))"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REGISTRANT = """
import sys
from pydist._net.epmd.client import register
reg = register(sys.argv[1], int(sys.argv[2]), on_notice=lambda t: print("notice:", t, flush=True))
print("registered", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def port(monkeypatch):
    """A free port for this test's name server; kills any server left on it."""
    number = free_port()
    monkeypatch.setenv("PYDIST_EPMD_PORT", str(number))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    yield number
    ns.kill()


@pytest.fixture
def spawn():
    """Start subprocesses; terminate, wait, then kill each one at teardown."""
    procs = []

    def start(argv, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(argv, text=True, **kw)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()


@pytest.fixture
def server(port, spawn):
    """A foreground `pydist epmd` subprocess on this test's port."""
    proc = spawn(EPMD)
    wait_for(ns.ping, what="the foreground name server to answer PING")
    return proc


def epmd(*args, timeout=30):
    return subprocess.run(EPMD + list(args), capture_output=True, text=True, timeout=timeout)


def registrant(spawn, name, node_port):
    proc = spawn([sys.executable, "-c", REGISTRANT, name, str(node_port)], stdin=subprocess.PIPE)
    assert proc.stdout.readline() == "registered\n"
    return proc


def test_names_lists_registered_nodes(server, spawn, port):
    registrant(spawn, "foo", 40123)
    registrant(spawn, "bar", 40124)
    result = epmd("--names")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"epmd: up and running on port {port} with data:\nname bar at port 40124\nname foo at port 40123\n"
    )


def test_names_and_kill_without_server(port):
    for flag in ("--names", "--kill"):
        result = epmd(flag)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == f"pydist epmd: no name server on port {port}\n"


def test_kill_stops_the_foreground_server(server):
    result = epmd("--kill")
    assert (result.returncode, result.stdout) == (0, "Killed\n")
    assert server.wait(5) == 0
    assert not ns.ping()


def test_kill_9_registrant_disappears_at_once(server, spawn):
    node = registrant(spawn, "foo", 40123)
    other = registrant(spawn, "bar", 40124)
    assert ns.lookup("127.0.0.1", "foo") == 40123
    node.send_signal(signal.SIGKILL)
    node.wait(5)
    wait_for(lambda: ns.lookup("127.0.0.1", "foo") is None, what="foo's entry to vanish after kill -9")
    assert ns.names() == [("bar", 40124)]
    other.stdin.close()  # a clean exit frees the name too
    other.wait(5)
    wait_for(lambda: ns.names() == [], what="bar's entry to vanish after it exited")


def test_notify_reaches_a_registrant_process(server, spawn):
    node = registrant(spawn, "foo", 40123)
    assert ns.notify("127.0.0.1", "foo", "bar@vm tried to connect with a wrong cookie")
    assert node.stdout.readline() == "notice: bar@vm tried to connect with a wrong cookie\n"


def test_second_registrant_with_same_name_is_refused(server, spawn):
    registrant(spawn, "foo", 40123)
    proc = spawn([sys.executable, "-c", REGISTRANT, "foo", "1"], stdin=subprocess.PIPE)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "NameInUse: the name foo is already in use on this host" in err


def test_second_server_on_the_same_port_exits_1(server):
    result = epmd()
    assert result.returncode == 1
    assert "already in use" in result.stderr and str(epmd_port()) in result.stderr
    assert ns.ping() and server.poll() is None


def test_daemon_detaches_and_is_idempotent(port):
    first = epmd("--daemon")
    assert (first.returncode, first.stdout, first.stderr) == (0, "", "")
    assert ns.ping(), "--daemon returned before its server answered"
    again = epmd("--daemon")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    with ns.register("foo", 40123):
        assert "name foo at port 40123" in epmd("--names").stdout
    assert epmd("--kill").returncode == 0
    assert not ns.ping()


def test_daemon_reports_a_port_held_by_another_program(port):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("0.0.0.0", port))
        squatter.listen()
        result = epmd("--daemon")
    assert result.returncode == 1
    assert f"could not start a name server on port {port}" in result.stderr
    assert "PYDIST_EPMD_PORT" in result.stderr


def test_ensure_running_races_from_two_processes(port, spawn):
    code = "from pydist._net.epmd.client import ensure_running, ping; ensure_running(); print(ping())"
    racers = [spawn([sys.executable, "-c", code]) for _ in range(2)]
    for proc in racers:
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out) == (0, "True\n"), err
    assert ns.ping() and ns.names() == []
    ns.ensure_running()  # already running: returns at once


def test_ensure_running_raises_with_advice(port):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("0.0.0.0", port))
        squatter.listen()
        with pytest.raises(ns.NameServerUnreachable, match="PYDIST_EPMD_PORT"):
            ns.ensure_running(timeout=1.0)


@pytest.mark.parametrize("args", [["--bogus"], ["--names", "--kill"], ["extra"]])
def test_bad_usage_exits_2(port, args):
    result = epmd(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: pydist epmd")


def test_help_exits_0(port):
    result = epmd("--help")
    assert result.returncode == 0 and "--names" in result.stdout and "4370" in result.stdout
