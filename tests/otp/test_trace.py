"""trace(): one line per traced message, across nodes, printed where trace() was called;
trace.record()/stop_recording(): a chart of the kv_store's replicated put over three nodes."""

import re
from pathlib import Path

import pytest
from conftest import unique, wait_for

pytestmark = pytest.mark.timeout(120)

KV_STORE = Path(__file__).resolve().parents[2] / "examples" / "kv_store"

ECHO = (
    "class Echo(GenServer):\n"
    "    def handle_call(self, req, from_, state):\n"
    "        return ('reply', ('echo', req), state)\n"
)


def test_a_remote_genserver_call_shows_as_a_call_and_its_reply(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    b.eval(ECHO)
    assert b.value("GenServer.start(Echo, None, name='echo')[0]") == "'ok'"
    me = a.value("self()")
    out = a.value(f"trace(('echo', {b.full!r}))")
    assert out == f"\"tracing 'echo' on {b.full} (send, receive); trace.stop() ends it\""
    assert a.value(f"GenServer.call(('echo', {b.full!r}), 'hi')") == "('echo', 'hi')"
    # printed on a (where trace was called), though the server and its messages are on b
    call = rf"\d\d:\d\d:\d\d\.\d{{3}}  {re.escape(me)} → 'echo' on {re.escape(b.full)}  call 'hi'"
    reply = rf"\d\d:\d\d:\d\d\.\d{{3}}  'echo' on {re.escape(b.full)} → {re.escape(me)}  reply \('echo', 'hi'\)"
    wait_for(lambda: re.search(call, a.output) and re.search(reply, a.output), what="the call and reply lines")
    # a plain message from another node: its sender is not known there (Erlang's trace
    # does not say either); stopped, nothing more is printed
    a.eval(f"send(('echo', {b.full!r}), ('ping', 1))")
    wait_for(lambda: f"  ? → 'echo' on {b.full}  ('ping', 1)" in a.output, what="the receive line")
    assert a.value(f"trace.stop(('echo', {b.full!r}))") == "'ok'"
    a.value(f"GenServer.call(('echo', {b.full!r}), 'unseen')")
    a.value("Process.sleep(0.3)")
    assert "call 'unseen'" not in a.output
    # b stops tracing when a goes: its hot path is back to nothing at all
    b.eval("import pydist._core.state")
    assert b.value("pydist._core.state.TRACER is None") == "True"
    # the caller traced instead: its call leaves with its monitor (one frame), its reply
    # comes from another node and is named by the call it answers
    a.eval("trace(self())")
    a.value(f"GenServer.call(('echo', {b.full!r}), 'mine')")
    wait_for(lambda: f"{me} → 'echo' on {b.full}  call 'mine'" in a.output, what="the caller's call line")
    wait_for(lambda: f"'echo' on {b.full} → {me}  reply ('echo', 'mine')" in a.output, what="its reply line")
    a.eval("trace.stop()")
    a.eval(f"trace(('echo', {b.full!r}))")
    assert b.value("pydist._core.state.TRACER is None") == "False"
    a.stop()
    wait_for(lambda: b.value("pydist._core.state.TRACER is None") == "True", what="b to stop tracing")


def test_what_cannot_be_traced_says_why(nodes):
    a = nodes.start("a")
    out, ok = a.try_eval("trace('nobody')")
    assert not ok
    assert f"trace: no process is registered as 'nobody' on {a.full} (Process.registered() lists the names)" in out
    out, ok = a.try_eval("trace(42)")
    assert not ok and "trace: a target is a Pid, a registered name, (name, node)" in out
    out, ok = a.try_eval("trace(self(), events=('call',))")
    assert not ok and "trace: events are 'send' and/or 'receive'" in out


def test_a_recorded_kv_store_put_is_a_chart_of_three_nodes(nodes, tmp_path):
    names = [f"{unique('kv')}@localhost" for _ in range(3)]
    env = {"KV_STORE_POLL": "0.5", "KV_STORE_HOSTS": ",".join(names), "KV_STORE_HOSTS_FILE": None}
    n0, n1, n2 = (nodes.start("kv", "-S", "kv_store", name=n, cwd=KV_STORE, env=env) for n in names)
    for n in (n0, n1, n2):
        wait_for(lambda n=n: len(eval(n.value("Node.list()"))) == 2, what=f"{n.name} to see the others")
    targets = "[self()] + [('MapServer', n) for n in [node(), *Node.list()]]"
    assert n0.value(f"trace.record({targets})").startswith("'recording 4 processes on 3 nodes")
    assert n0.value("kv_store.put('a', 5)") == "'ok'"
    n0.eval("chart = trace.stop_recording()")
    assert n0.value("len(chart)") == "6"  # a call and a reply per replica, each drawn once
    svg = tmp_path / "put.svg"
    n0.eval(f"chart.save({str(svg)!r})")
    text = svg.read_text()
    assert text.startswith("<svg") and all(n in text for n in names)
    assert text.count("call (&#x27;put&#x27;, &#x27;a&#x27;, 5)") == 3 and text.count("reply &#x27;ok&#x27;") == 3
    drawing = n0.eval(
        "from pydist._repl.evaluate import render_value; print(render_value(chart, color=False, width=120))"
    )
    assert all(n in drawing for n in names) and drawing.count("call ('put', 'a', 5)") == 3
    mermaid = n0.eval("print(chart.mermaid())")
    assert mermaid.startswith("sequenceDiagram") and mermaid.count("-->>") == 3
