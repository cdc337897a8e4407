"""The lecture's first demo, typed in two terminals, and what happens around it."""

import time

import pytest
from conftest import unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_lecture_demo_in_two_terminals(terms):
    foo_name, bar_name = unique("foo"), unique("bar")
    foo = terms("--sname", foo_name)
    bar = terms("--sname", bar_name)
    foo_full = foo.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    bar_full = bar.expect(r"pydist\((\S+)\)1>", literal=False).group(1)

    # Window 1
    foo.line("node()")
    foo.expect(f"'{foo_full}'")
    foo.expect(f"pydist({foo_full})2>")
    # Window 2
    bar.line(f"Node.ping('{foo_full}')")
    bar.expect("'pong'")
    bar.expect(f"pydist({bar_full})2>")
    bar.line("Node.list()")
    bar.expect(f"['{foo_full}']")
    bar.expect(f"pydist({bar_full})3>")
    # Window 1
    foo.line("Node.list()")
    foo.expect(f"['{bar_full}']")
    foo.expect(f"pydist({foo_full})3>")
    foo.line("hello = lambda: print('Hello')")
    foo.expect(f"pydist({foo_full})4>")
    foo.line(f"Node.spawn('{bar_full}', hello)")
    start = foo.pos
    foo.expect(f"#PID<{bar_full}.")  # the value, and (before or after it) the output
    foo.pos = start
    foo.expect("Hello")
    foo.expect(f"pydist({foo_full})5>")
    foo.line(f"Node.spawn('{bar_full}', lambda: print('really on', node()))")
    foo.expect(f"really on {bar_full}")
    foo.expect(f"pydist({foo_full})6>")
    # the output went to the caller only
    bar.line("'round trip'")
    bar.expect("'round trip'")
    assert "Hello" not in bar.text and "really on" not in bar.text

    # output from bar arrives while a line is half typed on foo: the line survives
    foo.line(f"Node.spawn('{bar_full}', lambda: (Process.sleep(1.0), print('late news')))")
    foo.expect(f"pydist({foo_full})7>")
    foo.type("x = 'half")
    foo.expect("late news")
    foo.expect("x = 'half")  # the prompt was redrawn below the news, the line kept
    foo.line(" done'")
    foo.expect(f"pydist({foo_full})8>")
    foo.line("x")
    foo.expect("'half done'")
    foo.expect(f"pydist({foo_full})9>")

    # a process spawned on bar crashes: the report shows on both terminals
    foo.line(f"Node.spawn('{bar_full}', lambda: 1 / 0)")
    foo.expect("raised an exception")
    foo.expect("ZeroDivisionError")
    bar.expect("raised an exception")
    bar.expect("ZeroDivisionError")

    # Ctrl-C out of a slow rpc.call: back to the prompt, no late reply in the mailbox
    foo.expect(f"pydist({foo_full})10>")
    foo.line(f"rpc.call('{bar_full}', lambda: (print('call ' + 'running'), Process.sleep(4)), timeout=30)")
    foo.expect("call running")  # printed by the call on bar: it is in flight
    foo.ctrl("c")
    foo.expect("KeyboardInterrupt")
    foo.expect(f"pydist({foo_full})10>")
    # a second call ends after the first on bar and answers on the same connection:
    # when it is back, the interrupted call's late reply has arrived too
    foo.line(f"rpc.call('{bar_full}', Process.sleep, 4)")
    foo.expect(f"pydist({foo_full})11>")
    foo.line("receive(timeout=0.5)")
    foo.expect("TimeoutError")  # the late reply was dropped: the mailbox is empty
    foo.expect(f"pydist({foo_full})11>")
    foo.line("Process.list() == [self()] or Process.list()")
    foo.expect("\nTrue\n")
    foo.expect(f"pydist({foo_full})12>")

    # bar watches foo; Ctrl-D on foo: bar's prompt process gets nodedown at once
    bar.line(f"Node.monitor('{foo_full}')")
    bar.expect("True")
    foo.ctrl("d")
    left = time.monotonic()
    assert foo.wait_exit() == 0
    bar.line("receive(timeout=20)")
    bar.expect(f"('nodedown', '{foo_full}')")
    bar.line("Node.list()")
    bar.expect("[]")
    assert time.monotonic() - left < 10


def test_ctrl_d_peer_sees_nodedown_at_once(terms, nodes):
    # a long ticktime on both: only the leaver's goodbye can tell the watcher in time
    watcher = nodes.start("w", "--ticktime", "30")
    name = unique("leaver")
    t = terms("--sname", name, "--ticktime", "30")
    full = t.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    t.line(f"Node.ping('{watcher.full}')")
    t.expect("'pong'")
    t.expect(f"pydist({full})2>")
    watcher.eval(f"Node.monitor({full!r})")
    t.ctrl("d")
    t0 = time.monotonic()
    out = watcher.eval("print(receive(timeout=30))")
    assert f"('nodedown', '{full}')" in out
    assert time.monotonic() - t0 < 10, out  # the heartbeat alone would take 30 s
    assert t.wait_exit() == 0
