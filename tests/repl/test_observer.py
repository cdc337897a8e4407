"""observer() in a real terminal: the nodes, a registered process with its mailbox, the tabs,
one process's detail, and back to the prompt as it was; `pydist observer NODE` from a shell."""

import inspect

import pytest
from conftest import unique, wait_for
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

from pydist._api.node import start

pytestmark = pytest.mark.timeout(120)


def test_observer_shows_nodes_processes_and_returns_to_the_prompt(terms, nodes):
    other = nodes.start("other")
    foo = terms("--sname", unique("foo"))
    full = foo.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    foo.line(f"Node.ping({other.full!r})")
    foo.expect("'pong'")
    foo.line("p = spawn(receive, None, lambda m: False); Process.register(p, 'keeper'); [send(p, i) for i in range(3)]")
    foo.expect(f"pydist({full})3>")
    foo.line("spawn(lambda: (Process.sleep(2), print('printed while away')))")
    foo.expect(f"pydist({full})4>")
    foo.line("observer()")
    # Nodes: this node and the other, with their process counts
    foo.expect("1 Nodes")
    foo.expect("Msgs out/s")
    foo.expect(full)
    foo.expect(other.full)
    foo.type("2")  # Processes, sorted by mailbox: the keeper first, its 3 messages
    foo.expect(rf"#PID<{full}\.\d+>\s+keeper\s+waiting\s+3\s+\d+\s+[\d.]+\s+receive\s", literal=False)
    foo.type("\r")  # its detail
    foo.expect("registered_name    'keeper'")
    foo.expect("message_queue_len  3")
    foo.type("3")
    foo.expect("no application started")
    foo.type("\t")  # Tab: the next tab, the detail again
    foo.expect("Last messages")
    foo.type("q")
    # the prompt as it was, the output held meanwhile, and it still evaluates
    foo.expect("printed while away")
    foo.expect(f"pydist({full})5>")
    foo.line("6 * 7")
    foo.expect("42")
    foo.expect(f"pydist({full})6>")


def test_observer_in_a_pipe_says_it_needs_a_terminal(nodes):
    a = nodes.start("a")
    out, ok = a.try_eval("observer()")
    assert not ok and "observer: needs a terminal (run it at the prompt, or `pydist observer NODE` in a shell)" in out


def test_pydist_observer_node_from_a_shell(terms, nodes):
    target = nodes.start("watched")
    target.eval("Process.register(spawn(receive), 'watched_one')")
    obs = terms("observer", target.full)
    obs.expect("1 Nodes")
    obs.expect(target.full)
    me = obs.expect(r"from (observer\d+@[\w.-]+)", literal=False).group(1)
    hidden = "hidden" in inspect.signature(start).parameters
    listed = eval(target.value("Node.list()"))
    # a hidden node is no member of the cluster it looks at (where nodes can be hidden)
    assert (me not in listed) if hidden else (me in listed)
    obs.type("\r")  # Enter on the first node (the one observed): its processes
    obs.expect("watched_one")
    obs.type("\x1b")  # Esc leaves
    assert obs.wait_exit() == 0
    # the watched node counts no more messages once the observer is gone
    target.eval("import pydist._core.state")
    wait_for(lambda: target.value("pydist._core.state.TRACER is None") == "True", what="the lease to end")
