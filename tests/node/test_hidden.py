"""Hidden nodes (Erlang's ``-hidden``): a remote shell or a tool that is not a member of the cluster."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(150)


def test_a_hidden_node_stays_out_of_node_list_and_is_not_made_transitive(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    h = nodes.start("h", "--hidden")
    assert h.value(f"Node.ping({a.full!r})") == "'pong'"
    # a sees h only when asked for hidden (or all) connections
    assert a.value("Node.list()") == repr([b.full])
    assert a.value("Node.list('hidden')") == repr([h.full])
    assert a.value("Node.list('connected')") == repr([b.full, h.full])
    assert a.value("Node.list(['this', 'visible'])") == repr([a.full, b.full])
    # on h every connection is hidden, and it was not introduced to a's peers
    assert h.value("Node.list()") == "[]"
    assert h.value("Node.list('hidden')") == repr([a.full])
    assert b.value("Node.list('connected')") == repr([a.full])
    # a visible node joining later is not introduced to h either
    c = nodes.start("c")
    assert c.value(f"Node.ping({a.full!r})") == "'pong'"
    wait_for(lambda: sorted(eval(c.value("Node.list()"))) == sorted([a.full, b.full]), what="c meshed with a, b")
    assert h.full not in c.value("Node.list('connected')")
    assert h.value("Node.list('connected')") == repr([a.full])
    # calls over a hidden connection work as any other
    assert h.value(f"rpc.call({a.full!r}, node)") == repr(a.full)
    with pytest.raises(AssertionError, match=r"ValueError: Node\.list: the kind is 'visible'"):
        a.eval("Node.list('all')")


def test_monitor_nodes_by_node_type(nodes):
    a = nodes.start("a")
    a.eval(
        "import sys\n"
        "def watch(kind):\n"
        "    Node.monitor_nodes(True, **({} if kind is None else {'node_type': kind}))\n"
        "    sys.stdout.write(f'watching {kind}\\n')\n"
        "    while True:\n"
        "        sys.stdout.write(f'{kind}: {receive()!r}\\n')\n"
        "for kind in (None, 'visible', 'hidden', 'all'):\n"
        "    spawn(watch, kind)"
    )
    for kind in (None, "visible", "hidden", "all"):
        a.wait_output(f"watching {kind}")
    h = nodes.start("h", "--hidden")
    assert h.value(f"Node.ping({a.full!r})") == "'pong'"
    v = nodes.start("v")
    assert v.value(f"Node.ping({a.full!r})") == "'pong'"
    up_h = f"('nodeup', {h.full!r}, {{'node_type': 'hidden'}})"
    up_v = f"('nodeup', {v.full!r}, {{'node_type': 'visible'}})"
    a.wait_output(f"hidden: {up_h}")
    a.wait_output(f"all: {up_h}")
    a.wait_output(f"all: {up_v}")
    a.wait_output(f"visible: {up_v}")
    a.wait_output(f"None: ('nodeup', {v.full!r})")  # without node_type: visible nodes, Erlang's 2-tuple
    h.stop()
    a.wait_output(f"hidden: ('nodedown', {h.full!r}, {{'node_type': 'hidden'}})")
    a.wait_output(f"all: ('nodedown', {h.full!r}, {{'node_type': 'hidden'}})")
    a.eval("1")  # the watchers had their chance to print anything else
    lines = a.output.splitlines()
    assert not [ln for ln in lines if ln.startswith(("None:", "visible:")) and h.full in ln], lines
    assert not [ln for ln in lines if ln.startswith("hidden:") and v.full in ln], lines
