"""One prompt, typed at as a person would: counter, values, errors, keys, bad input."""

import pytest
from conftest import unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_one_session_at_the_prompt(terms):
    name = unique("p")
    t = terms("--sname", name)
    me = f"{name}@"
    full = t.expect(r"pydist\((\S+@\S+)\)1>", literal=False).group(1)
    assert full.startswith(me)

    # values shown, counter advancing
    t.line("1 + 1")
    t.expect("\n2\n")
    t.expect(f"pydist({full})2>")
    t.line("node()")
    t.expect(f"'{full}'")
    t.expect(f"pydist({full})3>")

    # an exception: readable traceback, no pydist frames, counter unchanged
    t.line("1/0")
    t.expect("ZeroDivisionError: division by zero")
    shown = t.text
    assert 'File "<pydist:' in shown and "pydist/_repl" not in shown
    t.expect(f"pydist({full})3>")

    # a block: continuation prompt, ended by an empty line
    t.line("def triple(x):")
    t.expect(f"...({full})3>")
    t.line("return 3 * x")  # indented by the prompt itself
    t.line("")
    t.expect(f"pydist({full})4>")
    t.line("triple(14)")
    t.expect("\n42\n")
    t.expect(f"pydist({full})5>")
    t.line("v(4) + v(-1)")  # v(4) is the 42 above, v(-1) the same entry
    t.expect("\n84\n")
    t.expect(f"pydist({full})6>")

    # Ctrl-C on a typed line clears it
    t.type("this would not run")
    t.ctrl("c")
    t.expect(f"pydist({full})6>")
    t.line("'cleared'")
    t.expect("'cleared'")
    t.expect(f"pydist({full})7>")

    # Ctrl-C out of a receive() that waits forever, and out of a busy loop; each entry
    # first prints a word (not in its echo) so Ctrl-C surely lands while it runs
    t.line("print('rec' + 'eiving'); receive()")
    t.expect("receiving")
    t.ctrl("c")
    t.expect("KeyboardInterrupt")
    t.expect(f"pydist({full})7>")
    t.line("print('spin' + 'ning'); any(False for _ in iter(int, 1))   # loops forever")
    t.expect("spinning")
    t.ctrl("c")
    t.expect("KeyboardInterrupt")
    t.expect(f"pydist({full})7>")

    # the prompt is a process: its mailbox still works after the interrupts
    t.line("send(self(), ('hello', 1)); receive(timeout=5)")
    t.expect("('hello', 1)")
    t.expect(f"pydist({full})8>")

    # a linked process crashes: iex's EXIT line, and the prompt goes on
    t.line("spawn_link(lambda: 1 / 0); receive(timeout=10)")
    t.expect("raised an exception")
    t.expect(r"\*\* \(EXIT from #PID<[^>]+>\) \('exception', 'ZeroDivisionError: division by zero'\)", literal=False)
    t.expect(f"pydist({full})8>")
    t.line("Process.alive(self())")
    t.expect("True")
    t.expect(f"pydist({full})9>")
    # ... also while the prompt waits for input: shown above it at once
    t.line("spawn_link(lambda: (Process.sleep(0.3), 1 / 0))")
    t.expect(f"pydist({full})10>")
    t.expect("** (EXIT from #PID<")
    t.expect(f"pydist({full})10>")

    # huge output is cut with a note; non-UTF-8 bytes do not kill the prompt
    t.line("list(range(100000))")
    t.expect("+99900")
    t.expect(f"pydist({full})11>")
    t.type("'a")
    t.raw_bytes(b"\xff\xfe")
    t.line("'")
    t.expect(f"pydist({full})12>")
    t.line("'still here'")
    t.expect("'still here'")

    t.line("exit()")
    assert t.wait_exit() == 0


def test_undistributed_prompt_on_a_dumb_terminal(terms):
    t = terms(env={"TERM": "dumb"})
    t.expect("pydist(1)> ")
    t.line("node()")
    t.expect("'nonode@nohost'")
    t.expect("pydist(2)> ")
    t.line("for i in range(2):")
    t.expect("...(2)> ")
    t.line("    print('line', i)")
    t.line("")
    t.expect("line 1")
    t.expect("pydist(3)> ")
    t.ctrl("d")
    assert t.wait_exit() == 0
