"""rpc.multicall, rpc.cast and erpc on real nodes: results in node order, bad nodes,
remote exceptions, timeouts that leave nothing behind, a node that is down."""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique, wait_for

pytestmark = pytest.mark.timeout(180)

HELPERS = """
import time
def slow_on(name, seconds):
    if node() == name:
        Process.sleep(seconds)
    return node()
def exit_of(fn):
    try:
        fn()
    except Exit as e:
        return (e.reason, str(e))
"""


def cluster(*ns):
    for n in ns[1:]:
        assert n.value(f"Node.ping({ns[0].full!r})") == "'pong'"
    wait_for(lambda: all(len(eval(n.value("Node.list()"))) == len(ns) - 1 for n in ns), what="a full mesh")


def test_rpc_multicall_in_node_order_with_bad_nodes(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    a.eval(HELPERS)
    order = [c.full, a.full, b.full]
    assert eval(a.value(f"rpc.multicall({order!r}, node)")) == (order, [])
    assert eval(a.value("rpc.multicall(None, node)"))[0][0] == a.full  # None: this node and the connected ones
    results, bad = eval(a.value(f"rpc.multicall({[b.full, c.full]!r}, lambda: 1 / (node() != {c.full!r}))"))
    assert results == [1.0, ("badrpc", ("EXIT", ("exception", "ZeroDivisionError: division by zero")))] and bad == []
    # a slow node is bad after the timeout; the whole call costs the timeout, not the sum
    a.eval("t0 = time.monotonic()")
    got = eval(a.value(f"rpc.multicall({order!r}, slow_on, {b.full!r}, 30, timeout=1.0)"))
    assert got == ([c.full, a.full], [b.full])
    assert float(a.value("time.monotonic() - t0")) < 10
    assert a.value(f"rpc.call({b.full!r}, lambda: [p for p in Process.list() if p != self()])") == "[]"  # stopped
    out, ok = a.try_eval("receive(timeout=0.5)")
    assert not ok and "TimeoutError" in out  # and its late reply dropped
    c.proc.kill()
    wait_for(lambda: c.full not in a.value("Node.list()"), what="c to be down")
    assert eval(a.value(f"rpc.multicall({order!r}, node)")) == ([a.full, b.full], [c.full])


def test_rpc_cast_output_comes_home(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert a.value(f"rpc.cast({b.full!r}, lambda: print('cast ran on', node()))") == "True"
    a.wait_output(f"cast ran on {b.full}")


def test_erpc_call_and_multicall(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    a.eval(HELPERS)
    assert a.value(f"erpc.call({b.full!r}, node)") == repr(b.full)
    out, ok = a.try_eval(f"erpc.call({b.full!r}, lambda: {{}}['missing'])")
    assert not ok and "KeyError: 'missing'" in out and b.full in out  # raised here as itself, the remote traceback too
    assert (
        a.value(f"exit_of(lambda: erpc.call({b.full!r}, Process.sleep, 30, timeout=0.5))[0]") == "('erpc', 'timeout')"
    )
    res = a.value(
        f"[(k, v if k != 'error' else repr(v)) for k, v in erpc.multicall({[b.full, a.full, c.full]!r}, "
        f"lambda: node() if node() != {c.full!r} else 1 / 0)]"
    )
    assert eval(res) == [("ok", b.full), ("ok", a.full), ("error", "ZeroDivisionError('division by zero')")]
    res = eval(
        a.value(
            f"erpc.multicall({[b.full, c.full]!r}, lambda: (_ for _ in ()).throw(Exit('shutdown')) if node() == {c.full!r} else 'fine')"
        )
    )
    assert res == [("ok", "fine"), ("exit", "shutdown")]
    assert a.value(f"erpc.multicast({[b.full, c.full]!r}, lambda: print('multicast on', node()))") == "'ok'"
    a.wait_output(f"multicast on {b.full}")
    a.wait_output(f"multicast on {c.full}")
    c.proc.kill()
    wait_for(lambda: c.full not in a.value("Node.list()"), what="c to be down")
    assert eval(a.value(f"erpc.multicall({[c.full, b.full]!r}, node)")) == [
        ("error", ("erpc", "noconnection")),
        ("ok", b.full),
    ]
    assert a.value(f"exit_of(lambda: erpc.call({c.full!r}, node))[0]") == "('erpc', 'noconnection')"


def test_multicall_from_e_code(nodes):
    b, c = nodes.start("b"), nodes.start("c")
    code = f"print(rpc.multicall([{b.full!r}, {c.full!r}], node))"
    out = subprocess.run(
        pydist_cmd("--sname", unique("e"), "-e", code), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert eval(out.stdout.strip()) == ([b.full, c.full], [])
