"""IPython in a terminal with ``%load_ext pydist``: other processes print above its prompt."""

import re

import pytest
from conftest import unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_remote_output_shows_above_ipythons_prompt(terms, nodes):
    peer = nodes.start("peer")
    t = terms(
        "--no-banner",
        "--colors=NoColor",
        "--no-confirm-exit",
        "--TerminalInteractiveShell.term_title=False",
        module="IPython",
    )
    t.expect("In [1]:")
    t.line("%load_ext pydist")
    t.expect("pydist loaded: %pydist --sname NAME makes this IPython a node")
    t.expect("In [2]:")
    name = unique("ipy")
    t.line(f"%pydist --sname {name}")
    full = t.expect(rf"this IPython is the node ({name}@\S+)", literal=False).group(1)
    t.expect("In [3]:")
    t.line("node()")
    t.expect(f"Out[3]: '{full}'")

    # a process on the other node prints while IPython waits, half a line typed
    t.line(f"Node.spawn({peer.full!r}, lambda: (Process.sleep(1.5), print('news from', node())))")
    t.expect("In [5]:")
    t.type("40 + ")
    t.expect(f"news from {peer.full}")
    # on screen: the line above the prompt, the prompt drawn again under it with the typed text
    t.expect_screen(rf"^Out\[4\]: #PID<.*\n+^news from {re.escape(peer.full)}\n+^In \[5\]: 40 \+$")
    t.line("2")
    t.expect("Out[5]: 42")

    # its own prints still show. (A local green process's print right after the cell is
    # a known bug: it showed in 15 of 15 runs on a quiet machine, but was lost in about one
    # run in three with a CPU hog beside it; suspected: prompt_toolkit's StdoutProxy while
    # the next prompt starts. Not checked here until it is fixed.)
    t.line("print('own', 'print')")
    t.expect("own print")
    t.line("exit")
    assert t.wait_exit() == 0
