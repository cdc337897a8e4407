"""Two and three real nodes on loopback: ping, list, spawn, rpc."""

import pytest

pytestmark = pytest.mark.timeout(120)


def test_ping_list_both_sides(nodes):
    a = nodes.start("a")
    b = nodes.start("b")
    assert a.value(f"Node.ping({b.name!r})") == "'pong'"
    assert a.value("Node.list()") == repr([b.full])
    assert b.value("Node.list()") == repr([a.full])


def test_ping_unknown_node_is_pang(nodes):
    a = nodes.start("a")
    assert a.value("Node.ping('nosuchnode')") == "'pang'"
    assert a.value("Node.list()") == "[]"


def test_spawn_output_lands_on_caller_only(nodes):
    a = nodes.start("a")
    b = nodes.start("b")
    a.eval(f"Node.spawn({b.full!r}, lambda: print('really on', node()))")
    a.wait_output(f"really on {b.full}")
    b.eval("1")  # a round trip, so anything b printed has arrived
    assert "really on" not in b.output


def test_rpc_value_and_remote_exception(nodes):
    a = nodes.start("a")
    b = nodes.start("b")
    assert a.value(f"rpc.call({b.full!r}, lambda x: x * 2, 21)") == "42"
    out, ok = a.try_eval(f"rpc.call({b.full!r}, lambda: 1 / 0)")
    assert not ok
    assert "ZeroDivisionError: division by zero" in out
    assert f"raised on node {b.full}" in out
