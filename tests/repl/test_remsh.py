"""``--remsh NODE``: the prompt evaluates on NODE; leaving leaves NODE running."""

import pytest

from conftest import unique
from pty_term import terms  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(120)


def test_remote_shell(terms, nodes):  # noqa: F811
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
    t.line("receive()")
    t.settle(0.5)
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
