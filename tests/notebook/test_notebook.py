"""A Jupyter notebook is a node: a real ipykernel, a second node as an OS process.

Each test reads what each cell shows, the way a notebook front end files
IOPub messages: by the request (cell) that caused them.
"""

import pytest
from conftest import unique
from kernel import kernel_fixture  # noqa: F401 (pytest finds the "kernel" fixture here)

from pydist._repl.namespace import BUILTIN_NAMES

pytestmark = pytest.mark.timeout(180)


def _start(k, name: str) -> str:
    loaded = k.run("%load_ext pydist")
    assert "%pydist --sname NAME makes this kernel a node" in loaded.stdout
    started = k.run(f"%pydist --sname {name}")
    full = started.stdout.split()[-1]
    assert started.stdout == f"this kernel is the node {full}\n" and full.startswith(f"{name}@")
    return full


def test_cells_show_their_own_output_and_their_processes_on_any_node(kernel, nodes):
    peer = nodes.start("peer")
    k = kernel()
    full = _start(k, unique("nb"))

    # the prompt's built-ins are in the notebook's namespace
    missing = k.run(f"[n for n in {BUILTIN_NAMES!r} if n not in globals()]")
    assert missing.result == "[]"
    assert k.run("node()").result == repr(full)

    # a cell's own print and value, then what a process it spawned on the other node printed
    cell = k.run("print('hello from', node()); 6 * 7")
    assert cell.stdout == f"hello from {full}\n" and cell.result == "42"
    remote = k.run(f"Node.spawn({peer.full!r}, lambda: print('printed on', node()))")
    remote.wait_for(f"printed on {peer.full}\n")

    # late output goes to the cell that spawned the process, even while another cell runs
    late_remote = k.run(f"Node.spawn({peer.full!r}, lambda: (Process.sleep(2), print('late news from', node())))")
    late_local = k.run("spawn(lambda: (Process.sleep(2), print('late local news')))")
    busy = k.run("import time; time.sleep(4); print('busy cell done')")
    late_remote.wait_for(f"late news from {peer.full}\n")
    late_local.wait_for("late local news\n")
    assert busy.stdout == "busy cell done\n", busy.shown()
    assert "news" not in late_local.stdout.replace("late local news", "")

    # a crash report of a process a cell spawned on the other node shows in that cell, once
    crash = k.run(f"Node.spawn({peer.full!r}, lambda: 1 / 0)")
    crash.wait_for("ZeroDivisionError: division by zero", stream="stderr")
    assert crash.stderr.count("ZeroDivisionError: division by zero") == 1, crash.shown()

    # later cells are not silent
    assert k.run("print('still', 'here')").stdout == "still here\n"


def test_the_kernel_is_a_process_with_a_mailbox(kernel, nodes):
    peer = nodes.start("peer")
    k = kernel()
    full = _start(k, unique("nb"))

    me = k.run("self()").result
    assert me.startswith(f"#PID<{full}.")
    reply = k.run(f"me = self()\nNode.spawn({peer.full!r}, lambda: send(me, ('hi from', node())))\nreceive(timeout=10)")
    assert reply.result == f"('hi from', '{peer.full}')"

    # the kernel's interrupt stops a receive() that waits for ever; the mailbox still works
    waiting = k.submit("print('wait' + 'ing'); receive()")
    waiting.wait_for("waiting\n")
    k.interrupt()
    waiting.wait()
    assert waiting.error is not None and waiting.error["ename"] == "KeyboardInterrupt", waiting.shown()
    assert k.run("send(self(), 'after the interrupt'); receive(timeout=5)").result == "'after the interrupt'"
    assert k.run("self()").result == me

    # a linked process crashes: Elixir's EXIT line ends the cell, the kernel's process lives on
    crashed = k.submit("spawn_link(lambda: 1 / 0); receive(timeout=10)").wait()
    assert crashed.error is not None, crashed.shown()
    shown = "\n".join(crashed.error["traceback"])
    assert shown.startswith("** (EXIT from #PID<"), shown
    assert "('exception', 'ZeroDivisionError: division by zero')" in shown
    assert k.run("Process.alive(self()), self()").result == f"(True, {me})"


def test_pydist_start_in_a_cell(kernel, nodes):
    peer = nodes.start("peer")
    k = kernel()
    k.run("%load_ext pydist")
    name = unique("nb")
    cell = k.run(
        f"import pydist\nfull = pydist.start({name!r})\n"
        f"Node.spawn({peer.full!r}, lambda: print('answered', node()))\nfull"
    )
    full = cell.result.strip("'")
    assert full.startswith(f"{name}@")
    cell.wait_for(f"answered {peer.full}\n")  # the cell's group leader took the node's name at once
    assert k.run("self().node == node()").result == "True"

    # %pydist says which node this is; a second start is refused in one line
    assert k.run("%pydist").stdout == f"this kernel is the node {full}; connected to ['{peer.full}']\n"
    again = k.run("%pydist --sname other")
    assert again.stderr == f"pydist: this node is already distributed as {full}\n", again.shown()


def test_without_the_extension_later_cells_still_show_their_output(kernel, nodes):
    peer = nodes.start("peer")
    k = kernel()
    name = unique("nb")
    k.run(f"import pydist, time\npydist.start({name!r})")
    assert k.run("print('a later cell')").stdout == "a later cell\n"
    cell = k.run(f"pydist.Node.spawn({peer.full!r}, lambda: print('from the peer'))\ntime.sleep(3)")
    assert cell.stdout == "from the peer\n", cell.shown()
