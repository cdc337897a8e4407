"""``--remsh NODE``: the prompt evaluates on NODE; leaving leaves NODE running."""

import pytest
from conftest import unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_remote_shell(terms, nodes):
    target = nodes.start("target")
    target.eval("import os; secret = 41")  # the agent's namespace, not the session's
    t = terms("--sname", unique("cli"), "--remsh", target.name)
    t.expect(f"pydist({target.full})1>")  # the prompt names the node it evaluates on
    t.line("import os; (node(), os.getpid())")
    t.expect(f"('{target.full}', {target.proc.pid})")
    t.expect(f"pydist({target.full})2>")
    t.line("x = 20")
    t.expect(f"pydist({target.full})3>")
    t.line("x * 2 + 2")
    t.expect("\n42\n")
    t.expect(f"pydist({target.full})4>")
    t.line("self()")
    t.expect(f"#PID<{target.full}.")
    t.expect(f"pydist({target.full})5>")

    # output of what the session spawns comes here (the group leader travelled)
    t.line("spawn(lambda: print('spawned on', node()))")
    t.expect(f"spawned on {target.full}")
    t.expect(f"pydist({target.full})6>")

    # errors and Ctrl-C
    t.line("1/0")
    t.expect("ZeroDivisionError: division by zero")
    t.expect(f"pydist({target.full})6>")
    t.line("print('rec' + 'eiving'); receive()")
    t.expect("receiving")  # the entry runs: now Ctrl-C
    t.ctrl("c")
    t.expect("KeyboardInterrupt")
    t.expect(f"pydist({target.full})6>")
    t.line("v(3)")
    t.expect("\n42\n")
    t.expect(f"pydist({target.full})7>")

    t.ctrl("d")
    assert t.wait_exit() == 0
    assert target.value("node()") == repr(target.full)  # still running
    assert target.value("secret") == "41"


def test_ctrl_c_in_a_blocking_call_keeps_waiting_then_a_second_one_leaves(terms, nodes):
    target = nodes.start("target")
    t = terms("--sname", unique("cli"), "--remsh", target.name)
    prompt = f"pydist({target.full})"
    t.expect(f"{prompt}1>")
    t.line("import time; print('sle' + 'eping'); time.sleep(6); 'slept'")
    t.expect("sleeping")
    t.ctrl("c")  # time.sleep cannot be interrupted: say so, keep waiting
    t.expect("inside a blocking call")
    t.expect("Ctrl-C again leaves this remote shell")
    t.type("'typed ahead'\r")  # typed while waiting: runs once the prompt is back
    assert prompt not in t.settle(1.0)  # no prompt while the entry still sleeps (some 4 s of 6 left)
    t.expect("KeyboardInterrupt")  # the entry really stopped (when the call returned)
    assert 'File "<pydist:1>", line 1' in t.text
    t.expect("'typed ahead'")
    t.expect(f"{prompt}2>")
    t.line("'still usable'")
    t.expect("'still usable'")
    t.expect(f"{prompt}3>")

    t.line("print('sle' + 'eping'); time.sleep(60)")
    t.expect("sleeping")
    t.ctrl("c")
    t.expect("Ctrl-C again leaves this remote shell")
    t.ctrl("c")  # give up: the session is killed, the node keeps running
    t.expect(f"left the remote shell; its session on {target.full} was killed")
    assert t.wait_exit() == 130
    assert target.value("1 + 1") == "2"


def test_a_remote_shell_connects_hidden(terms, nodes):
    # so a teacher's remote shell is not taken for a replica of the class's kv_store
    a, b = nodes.start("a"), nodes.start("b")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    t = terms("--sname", unique("teacher"), "--remsh", a.full)
    t.expect(f"pydist({a.full})1>")
    t.line("Node.list()")  # on a: its cluster is what it was
    t.expect(repr([b.full]))
    t.expect(f"pydist({a.full})2>")
    hidden = eval(a.value("Node.list('hidden')"))
    assert len(hidden) == 1 and hidden[0].startswith("teacher"), hidden
    assert b.value("Node.list('connected')") == repr([a.full])
