"""GenServer on real nodes: every exit reason and its words, timeouts, multi_call.

The servers are defined at the node's prompt-like namespace (tests/agent.py),
so they are what a user types. Reasons are compared as Erlang's tuples; the
messages are checked for the plain words a user reads.
"""

import time

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(120)

STACK = """
import time
class Stack(GenServer):
    def init(self, arg):
        return ("ok", list(arg))
    def handle_call(self, req, from_, st):
        if req == "pop":
            return ("reply", st[0], st[1:])
        if req == "later":
            GenServer.reply(from_, "replied later")
            return ("noreply", st)
        if req == "slow":
            time.sleep(0.6)
            return ("reply", "late", st)
        if req == "div":
            return ("reply", 1 / 0, st)
        if req == "bad":
            return "oops"
        if req == "where":
            return ("reply", node(), st)
        if req == "bye":
            return ("stop", "normal", "bye", st)
    def handle_cast(self, req, st):
        return ("noreply", [req] + st)
    def terminate(self, reason, st):
        print("terminate", reason)
"""


def exit_of(n, src):
    """Run ``src`` expecting pydist.Exit; return (reason repr, message)."""
    out = n.eval(f"try:\n    {src}\nexcept Exit as e:\n    print(repr(e.reason)); print(str(e))")
    lines = out.strip().splitlines()
    return lines[-2], lines[-1]


def test_call_cast_reply_stop(nodes):
    a = nodes.start("a")
    a.eval(STACK)
    assert a.value("GenServer.start(Stack, [1, 2], name='Stack')").startswith("('ok', #PID<")
    assert a.value("GenServer.start(Stack, [], name='Stack')").startswith("('error', ('already_started', #PID<")
    assert a.value("GenServer.call('Stack', 'pop')") == "1"
    assert a.value("GenServer.cast('Stack', 9)") == "'ok'"
    assert a.value("GenServer.call('Stack', 'pop')") == "9"
    assert a.value("GenServer.call('Stack', 'later')") == "'replied later'"
    assert a.value("GenServer.whereis('Stack') == Process.whereis('Stack')") == "True"
    assert a.value("GenServer.stop('Stack')") == "'ok'"
    a.wait_output("terminate normal")
    assert a.value("GenServer.whereis('Stack')") == "None"
    assert a.value("GenServer.start(Stack, [], name='Stack')").startswith("('ok', ")
    assert a.value("GenServer.call('Stack', 'bye')") == "'bye'"
    assert a.value("GenServer.cast('NoSuchServer', 1)") == "'ok'"


def test_local_exit_reasons_and_words(nodes):
    a = nodes.start("a")
    a.eval(STACK)
    a.eval("GenServer.start(Stack, [1], name='Stack')")

    reason, msg = exit_of(a, "GenServer.call('Nope', 'pop')")
    assert reason == "('noproc', ('GenServer', 'call', ['Nope', 'pop', 5.0]))"
    assert (
        "no process: the process is not alive or there's no process currently associated with the given name" in msg
        and f"'Nope' on {a.full}" in msg
    )

    t0 = time.monotonic()
    reason, msg = exit_of(a, "GenServer.call('Stack', 'slow', timeout=0.2)")
    assert 0.2 <= time.monotonic() - t0 < 5
    assert reason == "('timeout', ('GenServer', 'call', ['Stack', 'slow', 0.2]))"
    assert "time out" in msg and f"'Stack' on {a.full}" in msg
    # the late reply is dropped, not left in the caller's mailbox
    assert a.value("GenServer.call('Stack', 'pop')") == "1"
    out, ok = a.try_eval("receive(0.5)")
    assert not ok and "TimeoutError" in out

    reason, msg = exit_of(a, "GenServer.call(self(), 'x')")
    assert reason.startswith("('calling_self', ('GenServer', 'call', [#PID<")
    assert "process attempted to call itself" in msg

    reason, msg = exit_of(a, "GenServer.call('Stack', 'div')")
    assert reason == (
        "(('exception', 'ZeroDivisionError: division by zero'), ('GenServer', 'call', ['Stack', 'div', 5.0]))"
    )
    assert "the server crashed: ZeroDivisionError: division by zero" in msg
    out = a.wait_output("terminating: handle_call raised ZeroDivisionError: division by zero\nLast message (from #PID<")
    report = out[out.index("handle_call raised ZeroDivisionError") :]
    assert 'File "<test>", line' in report and "_genserver_loop" not in report  # from the callback on
    a.wait_output("terminate ('exception', 'ZeroDivisionError: division by zero')")

    a.eval("GenServer.start(Stack, [], name='Stack')")
    reason, msg = exit_of(a, "GenServer.call('Stack', 'bad')")
    assert reason == "(('bad_return_value', 'oops'), ('GenServer', 'call', ['Stack', 'bad', 5.0]))"
    assert "bad value: 'oops'" in msg
    a.wait_output("handle_call returned 'oops', which is not a valid return value")


def test_start_failures_do_not_take_the_caller_down(nodes):
    a = nodes.start("a")
    a.eval("""
class Init(GenServer):
    def init(self, arg):
        if arg == "raise":
            return {}["missing"]
        return arg
""")
    assert a.value("GenServer.start_link(Init, ('stop', 'no way'))") == "('error', 'no way')"
    assert a.value("GenServer.start_link(Init, 'ignore')") == "'ignore'"
    assert a.value("GenServer.start_link(Init, 42)") == "('error', ('bad_return_value', 42))"
    a.wait_output("init returned 42, which is not a valid return value")
    assert a.value("GenServer.start_link(Init, 'raise')") == "('error', ('exception', \"KeyError: 'missing'\"))"
    a.wait_output("terminating: init raised KeyError: 'missing'\nArgument of init: 'raise'")
    assert a.value("GenServer.start_link(Init, ('ok', 1, 0.1))").startswith("('ok', ")
    # its 0.1 s timeout fires: the default handle_info says so, and nothing dies of it
    a.wait_output(f"GenServer Init on {a.full} received an unexpected message in handle_info: 'timeout'")
    assert a.value("Process.alive(self()) and 'still here'") == "'still here'"


def test_remote_calls_and_node_failures(nodes):
    a = nodes.start("a")
    b = nodes.start("b")
    b.eval(STACK)
    b.eval("GenServer.start(Stack, [1, 2], name='Stack')")
    a.eval(STACK)  # the class is only needed where it runs; a needs nothing but the name
    assert a.value(f"GenServer.call(('Stack', {b.full!r}), 'where')") == repr(b.full)
    assert a.value(f"GenServer.call(('Stack', {b.name!r}), 'where')") == repr(b.full)  # bare: this host
    assert a.value(f"GenServer.call(('Stack', {b.full!r}), 'pop')") == "1"
    assert a.value(f"GenServer.cast(('Stack', {b.full!r}), 5)") == "'ok'"
    assert a.value(f"GenServer.call(('Stack', {b.full!r}), 'pop')") == "5"

    reason, msg = exit_of(a, f"GenServer.call(('Nope', {b.full!r}), 'pop')")
    assert reason == f"('noproc', ('GenServer', 'call', [('Nope', {b.full!r}), 'pop', 5.0]))"
    assert f"'Nope' on {b.full}" in msg and "no process" in msg

    host = a.full.split("@")[1]
    t0 = time.monotonic()
    reason, msg = exit_of(a, f"GenServer.call(('Stack', 'ghost@{host}'), 'pop', 30)")
    assert time.monotonic() - t0 < 10, "an unknown node must fail at once, not after the 30 s timeout"
    assert reason == f"(('nodedown', 'ghost@{host}'), ('GenServer', 'call', [('Stack', 'ghost@{host}'), 'pop', 30]))"
    assert f"no connection to ghost@{host}" in msg

    b.proc.kill()
    b.proc.wait()
    wait_for(lambda: a.value("Node.list()") == "[]", what="a to see b down")
    t0 = time.monotonic()
    reason, msg = exit_of(a, f"GenServer.call(('Stack', {b.full!r}), 'pop', 30)")
    assert time.monotonic() - t0 < 10, "a dead node must fail at once, not after the 30 s timeout"
    assert reason.startswith(f"(('nodedown', {b.full!r}), ")
    assert f"no connection to {b.full}" in msg


def test_call_to_a_node_that_dies_during_the_call(nodes):
    a = nodes.start("a")
    b = nodes.start("b")
    b.eval(
        "class Hang(GenServer):\n    def handle_call(self, r, f, s):\n        print('got', r)\n        return ('noreply', s)"
    )
    b.eval("GenServer.start(Hang, None, name='Hang')")
    a.eval(
        f"import threading, time\nres = []\n"
        f"def go():\n    t0 = time.monotonic()\n    try:\n        GenServer.call(('Hang', {b.full!r}), 'x', 60)\n"
        f"    except Exit as e:\n        res.append((e.reason[0], time.monotonic() - t0))\n"
        f"spawn(go)"
    )
    b.wait_output("got x")  # the call is pending on b when b dies
    b.proc.kill()
    wait_for(lambda: a.value("res") != "[]", timeout=30, what="the pending call to fail")
    head, took = eval(a.value("res[0]"))
    assert head == ("nodedown", b.full) and took < 15  # at once, not after the call's 60 s


def test_multi_call_with_dead_and_unknown_nodes(nodes):
    a = nodes.start("a")
    b = nodes.start("b")
    c = nodes.start("c")
    for n in (a, b, c):
        n.eval(STACK)
        n.eval("GenServer.start(Stack, [], name='Stack')")
    assert a.value(f"Node.ping({b.full!r}), Node.ping({c.full!r})") == "('pong', 'pong')"
    c.proc.kill()
    c.proc.wait()
    wait_for(lambda: c.full not in a.value("Node.list()"), what="a to see c down")
    host = a.full.split("@")[1]
    a.eval(
        f"t0 = time.monotonic()\n"
        f"got = GenServer.multi_call([{a.full!r}, {b.full!r}, {c.full!r}, 'ghost@{host}'], 'Stack', 'where', 30)\n"
        f"took = time.monotonic() - t0"
    )
    replies, bad = eval(a.value("got"))
    assert replies == [(a.full, a.full), (b.full, b.full)]
    assert bad == [c.full, f"ghost@{host}"]
    assert float(a.value("took")) < 10, "dead and unknown nodes are bad at once, not after the 30 s timeout"
    # a server that does not answer in time is a bad node too; its late reply is dropped
    a.eval(f"got = GenServer.multi_call([{a.full!r}, {b.full!r}], 'Stack', 'slow', 0.2)")
    assert eval(a.value("got")) == ([], [a.full, b.full])
    # calls queued behind 'slow' on both servers: once they answer, the late replies have come
    a.eval(f"GenServer.call('Stack', 'where'); GenServer.call(('Stack', {b.full!r}), 'where')")
    out, ok = a.try_eval("receive(0.5)")
    assert not ok and "TimeoutError" in out
    assert a.value(f"GenServer.abcast([{a.full!r}, {b.full!r}], 'Stack', 'cast!')") == "'abcast'"
    # the casts and the calls after them ride the same connection, so they stay in order
    assert a.value(f"GenServer.call(('Stack', {b.full!r}), 'pop')") == "'cast!'"
    assert a.value("GenServer.call('Stack', 'pop')") == "'cast!'"
