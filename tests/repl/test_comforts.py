"""Tab completion (names, attributes, node names), history across restarts, start-up file, h()."""

import pytest
from conftest import unique
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def completed(t, typed, full):
    """Wait until Tab has put the rest of ``full`` after ``typed`` on the screen (later
    expects still start before it)."""
    assert full.startswith(typed)
    start = t.pos
    t.expect(full[len(typed) :])
    t.pos = start


def test_completion_history_startup_and_help(terms, nodes, tmp_path):
    peer = nodes.start("zebra")  # known to the name server, not connected yet
    (tmp_path / ".pydist.py").write_text("greeting = 'hi from .pydist.py'\n")
    home = tmp_path / "home"
    home.mkdir()
    name = unique("comp")
    t = terms("--sname", name, cwd=tmp_path, env={"HOME": str(home)})
    full = t.expect(r"pydist\((\S+)\)1>", literal=False).group(1)

    # the start-up file ran in the prompt's namespace
    t.line("greeting")
    t.expect("'hi from .pydist.py'")
    t.expect(f"pydist({full})2>")

    # a node name inside Node.ping('...: from the name server
    t.type(f"Node.ping('{peer.name[:-3]}")
    t.type("\t")
    completed(t, peer.name[:-3], peer.full)
    t.line("')")
    t.expect(f"Node.ping('{peer.full}')")  # completed: the only node name that fits
    t.expect("'pong'")
    t.expect(f"pydist({full})3>")

    # an attribute, then a name
    t.type("Node.li")
    t.type("\t")
    completed(t, "Node.li", "Node.list")
    t.line("()")
    t.expect("Node.list()")
    t.expect(f"['{peer.full}']")
    t.expect(f"pydist({full})4>")
    t.type("greet")
    t.type("\t")
    completed(t, "greet", "greeting")
    t.line("")
    t.expect("'hi from .pydist.py'")
    t.expect(f"pydist({full})5>")

    # help
    t.line("h()")
    t.expect("Built-ins")
    t.expect("rpc.call(node, fn, *args")
    t.expect(f"pydist({full})6>")
    t.line("h(Node.ping)")
    t.expect("pong")
    t.expect(f"pydist({full})7>")

    t.line("'remember me ' * 2")
    t.expect("'remember me remember me '")
    t.expect(f"pydist({full})8>")
    t.ctrl("d")
    assert t.wait_exit() == 0

    # history survives a restart: Up brings back the last entry
    again = terms("--sname", unique("comp"), cwd=tmp_path, env={"HOME": str(home)})
    full2 = again.expect(r"pydist\((\S+)\)1>", literal=False).group(1)
    again.type("\x1b[A")
    again.expect("'remember me ' * 2")
    again.settle(0.2)
    again.line("")
    again.expect("'remember me remember me '")
    again.expect(f"pydist({full2})2>")
    again.ctrl("d")
    assert again.wait_exit() == 0
    assert "+'remember me ' * 2" in (home / ".pydist_history").read_text()
