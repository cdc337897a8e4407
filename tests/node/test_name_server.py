"""The name server as nodes meet it: killed and started again, flooded, spoofed, fed odd names."""

import os
import resource
import socket
import subprocess
import threading

import pytest
from conftest import TIMEOUT, base_env, free_port, pydist_cmd, wait_for

pytestmark = pytest.mark.timeout(150)


def _epmd(*args):
    return subprocess.run(pydist_cmd("epmd", *args), capture_output=True, text=True, env=base_env(), timeout=TIMEOUT)


def test_nodes_register_again_when_the_name_server_comes_back(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert _epmd("--kill").returncode == 0
    a.wait_output("the name server dropped the registration of")
    assert _epmd("--daemon").returncode == 0  # started again (as a new node, or an admin, would)
    wait_for(lambda: a.name in _epmd("--names").stdout and b.name in _epmd("--names").stdout, what="both back")
    a.wait_output(f"registered {a.name} with the name server again")
    c = nodes.start("c")  # a newcomer finds them by name
    assert c.value(f"Node.ping({a.full!r})") == "'pong'"
    assert c.value(f"Node.ping({b.full!r})") == "'pong'"


def test_a_flood_of_connections_does_not_lock_new_nodes_out(nodes):
    # a name server held to 1,024 descriptors, as on many hosts, and 1,200 connections kept open
    port = free_port()
    env = base_env(PYDIST_EPMD_PORT=str(port))

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    server = subprocess.Popen(
        pydist_cmd("epmd"), env=env, preexec_fn=low_limit, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    flood: list = []
    stop = threading.Event()

    def keep_alive():  # each connection asks again every 2 s: never idle long enough to be dropped
        while not stop.wait(2.0):
            for s in list(flood):
                try:
                    s.sendall(b"PING\n")
                except OSError:
                    pass

    try:
        wait_for(lambda: _answers(port), what="the name server to answer")
        for _ in range(1200):
            try:
                flood.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break  # the server cannot take more: the flood has done its work
        threading.Thread(target=keep_alive, daemon=True).start()
        a = nodes.start("a", env={"PYDIST_EPMD_PORT": str(port)})  # registers, and is found
        b = nodes.start("b", env={"PYDIST_EPMD_PORT": str(port)})
        assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    finally:
        stop.set()
        for s in flood:
            s.close()
        subprocess.run(pydist_cmd("epmd", "--kill"), env=env, capture_output=True, timeout=TIMEOUT)
        server.wait(TIMEOUT)


def _answers(port) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\n")
            return s.recv(10) == b"PONG\n"
    except OSError:
        return False


def test_a_notice_flood_is_one_line(nodes):
    a = nodes.start("a")
    port = int(os.environ["PYDIST_EPMD_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s, s.makefile("rb") as reader:
        s.sendall(f"NOTIFY {a.name} cookie-mismatch liar@vm\n".encode() * 2000)
        for _ in range(2000):
            reader.readline()
    a.wait_output("connection attempt from node liar@vm rejected")
    assert a.value("1 + 1") == "2"
    assert a.output.count("connection attempt from node liar@vm rejected") == 1


@pytest.mark.parametrize("name", [".", "..", "-", "--help", "LOOKUP"])
def test_names_that_are_not_node_names_are_refused(name):
    r = subprocess.run(
        pydist_cmd(f"--sname={name}", "-e", "print(node())"),
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=TIMEOUT,
    )
    assert r.returncode == 1 and f"pydist: bad node name {name!r}" in r.stderr, r.stderr
    assert "@" not in r.stdout  # it never ran as a node


def test_an_empty_sname_is_a_usage_error():
    r = subprocess.run(
        pydist_cmd("--sname", "", "-e", "print(node())"), capture_output=True, text=True, env=base_env(), timeout=60
    )
    assert r.returncode == 2 and "pydist: --sname needs a node name" in r.stderr, r.stderr
    assert "nonode@nohost" not in r.stdout


def test_a_localhost_node_listens_on_loopback_only(nodes):
    endpoint = "__import__('pydist._core.runtime', fromlist=['x']).RUNTIME.dist.transport.router.last_endpoint"
    a = nodes.start(name=f"lo{os.getpid()}@localhost")
    b = nodes.start(name=f"lo2x{os.getpid()}@localhost")
    assert a.value(endpoint).startswith("b'tcp://127.0.0.1:")  # nobody elsewhere can reach foo@localhost
    assert b.value(f"Node.ping({a.name!r})") == "'pong'"
    c = nodes.start("c")  # named after the host: other hosts dial it, so all interfaces
    assert c.value(endpoint).startswith("b'tcp://0.0.0.0:")
