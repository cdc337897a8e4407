"""Supervisor.tree(sup): the tree below a supervisor, drawn, with pids and restart counts,
for a supervisor here or on another node."""

import re

import pytest

pytestmark = pytest.mark.timeout(120)

TREE = (
    "class W(GenServer):\n"
    "    pass\n"
    "inner = {'id': 'inner', 'type': 'supervisor', 'start': (Supervisor.start_link, "
    "([{'id': 'leaf', 'start': (GenServer.start_link, (W, None))}],))}\n"
    "Supervisor.start([W, inner], name='top')\n"
)


def test_a_tree_shows_ids_pids_nesting_and_restarts(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(TREE)
    a.eval("Process.exit(Supervisor.which_children('top')[0][1], 'kill')")  # W restarts once
    a.value("Process.sleep(0.3)")
    drawn = a.eval("from rich.console import Console; Console(width=120).print(Supervisor.tree('top'))")
    lines = drawn.splitlines()
    assert re.match(rf"top  #PID<{re.escape(a.full)}\.\d+>  \(one_for_one\)  on {re.escape(a.full)}", lines[0])
    assert re.match(rf"├── W  #PID<{re.escape(a.full)}\.\d+>  restarts: 1$", lines[1]), drawn
    assert re.match(r"└── inner  #PID<.*>  \(one_for_one\)$", lines[2]), drawn
    assert re.match(r"    └── leaf  #PID<.*>$", lines[3]), drawn
    # the same tree, asked from another node
    remote = b.eval(f"from rich.console import Console; Console(width=120).print(Supervisor.tree(('top', {a.full!r})))")
    assert "restarts: 1" in remote and "└── leaf" in remote
