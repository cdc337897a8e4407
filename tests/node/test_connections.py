"""Connections between real nodes: mesh, cookies, failure detection."""

import os
import signal
import time

import pytest
from conftest import TIMEOUT, wait_for

pytestmark = pytest.mark.timeout(120)

SLOW_TICK = ("--ticktime", "30")  # heartbeats too slow to be what a test sees; connect timeout 7 s


def test_three_node_mesh_is_transitive(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    assert c.value(f"Node.ping({b.full!r})") == "'pong'"
    # c joined b, so it is joined to a too, and a learns about c
    wait_for(lambda: a.full in c.value("Node.list()"), what="c connected to a")
    wait_for(lambda: c.full in a.value("Node.list()"), what="a connected to c")
    assert sorted(eval(a.value("Node.list()"))) == sorted([b.full, c.full])


def test_wrong_cookie_pang_and_both_sides_told(nodes):
    a = nodes.start("a", "--cookie", "alpha")
    b = nodes.start("b", "--cookie", "beta", *SLOW_TICK)
    b.eval(f"import time; t = time.monotonic(); r = Node.ping({a.full!r}); took = time.monotonic() - t")
    verdict, took = eval(b.value("r, took"))  # a value: one line, whatever else b prints
    # pang from the refused handshake, well before the 7 s connect timeout of b's ticktime
    assert verdict == "pang" and took < 4, (verdict, took)
    b.wait_output(f"could not connect to {a.full}: the cookies differ")
    a.wait_output(f"connection attempt from node {b.full} rejected: its cookie differs")
    assert a.value("Node.list()") == "[]" and b.value("Node.list()") == "[]"


def test_kill_9_is_noticed_at_once(nodes):
    # a long ticktime, so only the closed socket (not the heartbeat) can tell a in time
    a, b = nodes.start("a", *SLOW_TICK), nodes.start("b", *SLOW_TICK)
    a.eval(f"Node.monitor({b.full!r})")
    t0 = time.monotonic()
    b.proc.kill()
    a.eval("print(receive(timeout=30))")
    assert f"('nodedown', '{b.full}')" in a.output
    assert time.monotonic() - t0 < 10  # the heartbeat alone would take 30 s
    assert a.value("Node.list()") == "[]"


def test_hung_node_is_declared_down_within_ticktime(nodes):
    a = nodes.start("a", "--ticktime", "2")
    b = nodes.start("b", "--ticktime", "2")
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"
    # a process of a's stamps the nodedown when it gets it (same clock as t0 below)
    a.eval(
        "import sys, time\n"
        "def watch():\n"
        f"    Node.monitor({b.full!r})\n"
        "    sys.stdout.write('watching\\n')\n"  # one write: it cannot split the agent's lines
        "    sys.stdout.write(f'DOWN {receive(timeout=30)} {time.time()}\\n')\n"
        "spawn(watch)"
    )
    a.wait_output("watching")
    b.signal(signal.SIGSTOP)
    try:
        t0 = time.time()
        a.wait_output("DOWN ")
    finally:
        b.signal(signal.SIGCONT)
    line = next(out for out in a.output.splitlines() if out.startswith("DOWN "))
    assert f"('nodedown', '{b.full}')" in line
    took = float(line.split()[-1]) - t0
    assert took < 2 + 1.5, line  # within the ticktime (2 s), with slack for a loaded machine


def test_a_green_sender_to_a_stopped_peer_waits_and_nothing_is_lost(nodes):
    # Batches count as one message against ZeroMQ's high-water mark: a green process
    # flooding a peer that does not read must still be held back (not buffer without
    # bound), its node must keep answering, and every message arrives once the peer reads.
    a = nodes.start("a", "--ticktime", "20")
    b = nodes.start("b", "--ticktime", "20")
    a.eval("import pydist._net.transport as tr\ntr.SNDHWM = 20")  # before a's DEALER to b exists
    b.eval(
        "def sink(parent, n):\n"
        "    got = [receive(timeout=60)[0] for _ in range(n)]\n"
        "    send(parent, got == list(range(n)))\n"
        "Process.register(spawn(sink, self(), 20_000), 'sink')"
    )
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"
    b.signal(signal.SIGSTOP)
    try:
        a.eval(
            "sent = [0]\n"
            "def flood():\n"
            "    blob = 'x' * 1024\n"
            "    for i in range(20_000):\n"  # 20 MB: more than the socket buffers hold
            f"        send(('sink', {b.full!r}), (i, blob))\n"
            "        sent[0] = i + 1\n"
            "spawn(flood)"
        )
        time.sleep(2.0)
        assert a.value("1 + 1") == "2"  # the node answers while its sender waits
        held = int(a.value("sent[0]"))
        assert held < 20_000, "the sender was never held back by a peer that does not read"
    finally:
        b.signal(signal.SIGCONT)
    assert b.value("receive(timeout=60)", timeout=90) == "True"


def test_pending_call_fails_at_once_when_node_dies(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(f"Node.ping({b.full!r})")
    a.eval(
        "import threading, time\n"
        "result = []\n"
        "def nap():\n"
        "    print('call in flight', flush=True)\n"
        "    time.sleep(60)\n"
        "def slow():\n"
        "    try:\n"
        f"        rpc.call({b.full!r}, nap, timeout=60)\n"
        "    except Exit as e:\n"
        "        result.append((e.reason[0], str(e)))\n"
        "t = threading.Thread(target=slow); t.start()"
    )
    a.wait_output("call in flight")  # printed by nap on b: the call is running there
    t0 = time.monotonic()
    b.proc.kill()
    a.eval("t.join(30)")
    assert time.monotonic() - t0 < 15  # not the call's 60 s timeout
    out = a.eval("print(result)")
    assert f"('nodedown', '{b.full}')" in out and "no connection to" in out


def test_duplicate_name_is_refused(nodes):
    a = nodes.start("dup")
    import subprocess

    from conftest import base_env, pydist_cmd

    r = subprocess.run(
        pydist_cmd("--sname", a.name, "-e", "print('should not run')"),
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=60,
    )
    assert r.returncode == 1
    assert "already in use" in r.stderr and a.name in r.stderr
    assert "Traceback" not in r.stderr and "should not run" not in r.stdout


def test_disconnect_and_reconnect(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert a.value(f"Node.connect({b.full!r})") == "True"
    assert a.value(f"Node.disconnect({b.full!r})") == "True"
    wait_for(lambda: b.value("Node.list()") == "[]", what="b to see a go")
    assert a.value("Node.list()") == "[]"
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"


def test_restarted_node_rejoins_under_the_same_name(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"
    b.proc.kill()
    wait_for(lambda: a.value("Node.list()") == "[]", what="a to notice b died")
    b2 = nodes.start(name=b.name)
    assert b2.value(f"Node.ping({a.full!r})") == "'pong'"
    assert a.value("Node.list()") == repr([b.full])
    assert a.value(f"rpc.call({b.full!r}, node)") == repr(b.full)


def test_dialling_a_node_by_another_name_is_refused_cleanly(nodes):
    foo, pp = nodes.start("foo"), nodes.start("pp", *SLOW_TICK)
    alias = foo.name + "@localhost"  # reaches foo's host, but foo is foo@vm
    pp.eval(f"import time; t = time.monotonic(); r = Node.ping({alias!r}); took = time.monotonic() - t")
    verdict, took = eval(pp.value("r, took"))
    assert verdict == "pang" and took < 4, (verdict, took)  # refused at once: not pp's 7 s connect timeout
    pp.wait_output(f"could not connect to {alias}: the node there is called {foo.full}")
    assert foo.value("Node.list()") == "[]"  # no half-open connection on the other side
    assert pp.value(f"Node.ping({foo.full!r})") == "'pong'"


def test_a_forged_notice_never_reaches_the_terminal(nodes):
    import socket

    a = nodes.start("a")
    port = int(os.environ["PYDIST_EPMD_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(f"NOTIFY {a.name} cookie-mismatch evil\x1b[31m FAKE run curl x|sh\n".encode())
        s.recv(100)
        # control: a well-formed notice after it is shown, so the forged one was handled by then
        s.sendall(f"NOTIFY {a.name} cookie-mismatch control@vm\n".encode())
        s.recv(100)
    a.wait_output("connection attempt from node control@vm rejected")
    assert a.value("1 + 1") == "2"
    assert "FAKE" not in a.output


def test_a_wrong_host_name_never_touches_a_live_connection(nodes):
    # the lecture mixes @greyarea and @localhost: a ping under an alias of a connected node
    a, b = nodes.start("a", *SLOW_TICK), nodes.start("b", *SLOW_TICK)
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"
    b.eval(f"Node.monitor({a.full!r})")
    alias = b.name + "@localhost"  # reaches b's host, but b is b@vm
    a.eval(f"import time; t = time.monotonic(); r = Node.ping({alias!r}); took = time.monotonic() - t")
    verdict, took = eval(a.value("r, took"))
    assert verdict == "pang" and took < 1.0, (verdict, took)  # at once, as Erlang (5 ms)
    a.wait_output(f"could not connect to {alias}: the node there is called {b.full}")
    time.sleep(1.0)  # a dropped connection would be noticed by now (closed socket: ms)
    assert a.value("Node.list()") == repr([b.full])
    assert b.value("Node.list()") == repr([a.full])
    assert b.eval("flush()").strip() == "None"  # flush printed nothing: no nodedown reached b's monitor
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"
