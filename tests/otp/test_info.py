"""Introspection on real nodes: i() lists every process of the node (pydist's own marked
as system), i(pid) shows one process, here or on another node, as a user reads them."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(120)

SETUP = """
def waiter():
    receive(match=lambda m: m == "go")
class Counter(GenServer):
    def handle_call(self, req, from_, n):
        return ("reply", n, n + 1)
w = spawn(waiter)
send(w, "not yet")
send(w, ("also", "queued"))
Process.register(w, "the-waiter")
GenServer.start(Counter, 0, name="counter")
"""

INFO = "__import__('pydist._api.info', fromlist=['info']).process_info"


def test_i_lists_the_node_s_processes_with_the_system_ones_marked(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    a.eval(SETUP)
    a.eval("Global.whereis_name('x')\npg.which_groups()")  # pydist's own servers start
    wait_for(lambda: "waiting" in a.value(f"{INFO}(w, 'status')"), what="the waiter to wait")
    out = a.eval("_ = i()")
    lines = out.splitlines()
    assert lines[0].split() == ["Pid", "Name", "What", "Status", "Msgs", "Current", "function"]
    row = next(x for x in lines if "the-waiter" in x)
    assert "waiter" in row and "waiting" in row and " 2 " in row and "__main__.waiter" in row
    row = next(x for x in lines if "counter" in x.split())
    assert "GenServer Counter" in row and "[system" not in row
    assert any("[system: io server]" in x for x in lines)
    assert any("pydist_global" in x and "[system: Global name server]" in x for x in lines)
    assert any(x.split()[1:2] == ["pg"] and "[system: pg scope]" in x for x in lines)
    assert lines[-1].startswith(f"{len(lines) - 2} processes on {a.full} (")
    # one process, from another node: asked where it lives
    b.eval(f"w = rpc.call({a.full!r}, Process.whereis, 'the-waiter')")
    out = b.eval("_ = i(w)")
    assert "registered_name" in out and "'the-waiter'" in out and "message_queue_len  2" in out
    assert "('also', 'queued')" in out and "__main__.waiter" in out
    a.eval("send(w, 'go')")
    wait_for(lambda: b.eval("_ = i(w)").endswith("not alive"), what="the waiter to be gone")


def test_process_info_keys_and_values(nodes):
    a = nodes.start("a")
    a.eval(SETUP)
    a.eval("Process.link(w)\nref = Process.monitor(w)")
    wait_for(lambda: a.value(f"{INFO}(w, 'status')") == "'waiting'", what="the waiter to wait")
    assert a.value(f"sorted({INFO}(w))") == (
        "['behaviour', 'current_function', 'green', 'group_leader', 'initial_call', 'links', 'memory', "
        "'message_queue_len', 'messages', 'messages_in', 'messages_out', 'monitored_by', 'monitors', 'pid', 'registered_name', 'status', "
        "'system', 'trap_exit']"
    )
    assert a.value(f"{INFO}(w, 'links') == [self()]") == "True"
    assert a.value(f"{INFO}(w, 'monitored_by') == [self()]") == "True"
    assert a.value(f"{INFO}(self(), 'monitors') == [('process', w)]") == "True"
    assert a.value(f"{INFO}(w, 'messages')") == "['not yet', ('also', 'queued')]"
    assert a.value(f"{INFO}(w, 'messages_in') >= 2 and {INFO}(self(), 'messages_out') >= 2") == "True"
    assert a.value(f"{INFO}(w, 'initial_call')") == "'waiter'"
    assert int(a.value(f"{INFO}(w, 'memory')")) > 0
    assert a.value(f"{INFO}(GenServer.whereis('counter'), 'behaviour')") == "'GenServer Counter'"
    a.eval("Process.unlink(w)\nsend(w, 'go')")
    wait_for(lambda: a.value(f"{INFO}(w)") == "None", what="a dead process's info to be None")


def test_process_info_hook(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(SETUP)
    assert a.value("Process.info(w)['registered_name']") == "'the-waiter'"
    assert b.value(f"Process.info(rpc.call({a.full!r}, Process.whereis, 'the-waiter'))['message_queue_len']") == "2"
