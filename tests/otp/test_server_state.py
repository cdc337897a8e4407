"""get_state / replace_state on real nodes: a running GenServer's state read and
replaced between two messages, from this node and another, and a failing replacement."""

import pytest

pytestmark = pytest.mark.timeout(120)

COUNTER = """
class Counter(GenServer):
    def handle_call(self, req, from_, n):
        return ("reply", n, n + 1)
def exit_of(fn):
    try:
        fn()
    except Exit as e:
        return (e.reason, str(e))
"""


def test_get_and_replace_the_state_of_a_running_server(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(COUNTER)
    a.eval("GenServer.start(Counter, 0, name='counter')")
    assert a.value("GenServer.call('counter', 'next')") == "0"
    assert a.value("get_state('counter')") == "1"
    assert a.value("replace_state('counter', lambda n: n * 100)") == "100"
    assert a.value("GenServer.call('counter', 'next')") == "100"
    # from another node, by (name, node): the function runs in the server, on a
    assert b.value(f"get_state(('counter', {a.full!r}))") == "101"
    assert b.value(f"replace_state(('counter', {a.full!r}), lambda n: (n, node()))") == f"(101, {a.full!r})"
    a.eval("replace_state('counter', lambda st: st[0])")
    reason, words = eval(a.value("exit_of(lambda: replace_state('counter', lambda n: n / 0))"))
    assert reason == ("callback_failed", ("exception", "ZeroDivisionError: division by zero"))
    assert "the state is unchanged" in words
    assert a.value("get_state('counter')") == "101"
    assert a.value("GenServer.call('counter', 'next')") == "101"  # the server lives on
    # an Agent is a GenServer: its state is there too
    a.eval("ok, ag = Agent.start(lambda: {'k': 1})")
    assert a.value("get_state(ag)") == "{'k': 1}"
    out, ok = a.try_eval("get_state('nobody')")
    assert not ok and "no process" in out
