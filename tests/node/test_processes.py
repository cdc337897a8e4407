"""Processes across real nodes: spawn, output at home, links, monitors, exits."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(120)


def test_output_is_streamed_line_by_line(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(
        "import time\n"
        "def talk():\n"
        "    print('first line')\n"
        "    time.sleep(30)\n"
        "    print('never seen in this test')\n"
        f"p = Node.spawn({b.full!r}, talk)"
    )
    # the first line arrives while the process is still running
    a.wait_output("first line", timeout=20)  # well before the 30 s sleep ends
    assert "never seen" not in a.output
    b.eval("1")  # a round trip, so anything b printed has arrived
    assert "first line" not in b.output


def test_text_without_newline_is_not_held_back(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(
        "import time\n"
        "def working():\n"
        "    print('working...', end='')\n"
        "    time.sleep(30)\n"
        f"p = Node.spawn({b.full!r}, working)"
    )
    # the harness reads lines: end a's current line now and then until the text shows up,
    # which must happen long before the process ends (30 s)
    wait_for(
        lambda: a.eval("print('|')") is not None and "working..." in a.output,
        timeout=20,
        what="the partial line to arrive",
    )


def test_remote_crash_is_reported_on_both_terminals(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(f"Node.spawn({b.full!r}, lambda: 1 / 0)")
    for n in (a, b):
        out = n.wait_output("ZeroDivisionError: division by zero")
        assert f"on node {b.full} raised an exception" in out


def test_unpicklable_closure_fails_at_the_call_site(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    out, ok = a.try_eval(
        "import threading\n"
        "lock = threading.Lock()\n"
        "def uses_lock():\n"
        "    with lock:\n"
        "        print('x')\n"
        f"Node.spawn({b.full!r}, uses_lock)"
    )
    assert not ok
    assert "TypeError: Node.spawn: cannot send uses_lock to" in out
    assert "'lock', a lock" in out


def test_spawn_to_unreachable_node_returns_at_once(nodes):
    a = nodes.start("a", "--ticktime", "30")  # a 7 s connect timeout: "at once" is well below it
    out = a.eval(
        "import time; t = time.monotonic(); p = Node.spawn('nosuch', lambda: None)\n"
        "took = time.monotonic() - t; print(p)"
    )
    assert "can not start" in out and "nosuch@" in out
    assert float(a.value("took")) < 4


def test_messages_between_a_pair_arrive_in_order(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    b.eval("Process.register(self(), 'sink')")
    a.eval(f"for i in range(2000): send(('sink', {b.name!r}), i)")  # a bare name: b on this host
    b.eval("got = [receive(timeout=10) for _ in range(2000)]")
    assert b.value("got == list(range(2000))") == "True"


def test_a_burst_longer_than_one_read_arrives_whole_and_in_order(nodes):
    # The prompt's process sends each message as its own frame: 20,000 of them are more
    # than the loop reads in one go (1,000), so the rest is read before it next blocks.
    a, b = nodes.start("a"), nodes.start("b")
    b.eval(
        "def counter(parent, n):\n"
        "    got = [receive(timeout=60) for _ in range(n)]\n"
        "    send(parent, got == list(range(n)))\n"
        "Process.register(spawn(counter, self(), 20000), 'counter')"
    )
    a.eval(f"for i in range(20000): send(('counter', {b.full!r}), i)", timeout=120)
    assert b.value("receive(timeout=60)", timeout=90) == "True"


def test_a_green_senders_messages_and_signals_keep_their_order(nodes):
    # A green process's frames to a peer are batched under load (many ready processes):
    # per sender, messages and the exit signal after them still arrive in order, none lost.
    a, b = nodes.start("a"), nodes.start("b")
    b.eval(
        "def sink(parent):\n"
        "    Process.flag('trap_exit', True)\n"
        "    got = {}\n"
        "    while True:\n"
        "        m = receive(timeout=60)\n"
        "        if m[0] == 'EXIT':\n"
        "            send(parent, ('done', m[1], got.get(m[1], [])))\n"
        "        else:\n"
        "            got.setdefault(m[0], []).append(m[1])\n"
        "Process.register(spawn(sink, self()), 'sink')"
    )
    a.eval(
        f"sink = rpc.call({b.full!r}, Process.whereis, 'sink')\n"
        "def sender(n):\n"
        "    me = self()\n"
        "    for i in range(n):\n"
        "        send(sink, (me, i))\n"
        "        if i % 100 == 0:\n"
        "            Process.sleep(0)\n"
        "    Process.exit(sink, 'done')\n"
        "senders = [spawn(sender, 3000) for _ in range(20)]"
    )
    out = b.eval(
        "res = [receive(timeout=60) for _ in range(20)]\n"
        "print(all(got == list(range(3000)) for _, _, got in res), len({pid for _, pid, _ in res}))",
        timeout=120,
    )
    assert "True 20" in out


def test_a_killed_green_processs_messages_arrive_before_its_exit_signal(nodes):
    # The killer (the agent's thread process) fires the victim's links at once, from its
    # own thread; the messages the victim sent before must still arrive first, even
    # those its node had not handed to the socket yet (batched).
    a, b = nodes.start("a"), nodes.start("b")
    b.eval(
        "def sink(parent):\n"
        "    Process.flag('trap_exit', True)\n"
        "    while True:\n"
        "        got, m = [], receive(timeout=60)\n"
        "        while m[0] != 'EXIT':\n"
        "            got.append(m[1])\n"
        "            m = receive(timeout=60)\n"
        "        late = []\n"
        "        try:\n"
        "            while True:\n"
        "                late.append(receive(timeout=0.3)[1])\n"
        "        except TimeoutError:\n"
        "            pass\n"
        "        send(parent, (got == list(range(len(got))), len(late)))\n"
        "Process.register(spawn(sink, self()), 'sink')"
    )
    a.eval(
        f"sink = rpc.call({b.full!r}, Process.whereis, 'sink')\n"
        "def victim():\n"
        "    Process.link(sink)\n"
        "    spawn(lambda: [Process.sleep(0) for _ in range(50_000)])\n"  # keeps the run queue busy
        "    i = 0\n"
        "    while True:\n"
        "        send(sink, ('m', i))\n"
        "        i += 1"
    )
    for _ in range(8):
        a.eval("v = spawn(victim); Process.sleep(0.05); Process.exit(v, 'kill')")
        # in order, none lost; at most the one message a victim may send while the kill lands
        ordered, late = b.value("receive(timeout=60)").strip("()").split(", ")
        assert ordered == "True" and int(late) <= 1, (ordered, late)


def test_remote_monitor_link_and_exit_signals(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(f"Process.flag('trap_exit', True)\npid = Node.spawn_link({b.full!r}, receive)\nref = Process.monitor(pid)")
    a.eval("Process.exit(pid, 'boom')")
    out = a.eval("print(sorted([receive(timeout=10)[0], receive(timeout=10)[0]]))")
    assert "['DOWN', 'EXIT']" in out
    a.eval("flush()")
    # a monitor of a registered name on the other node
    b.eval("Process.register(spawn(receive), 'worker')")
    a.eval(f"ref = Process.monitor(('worker', {b.full!r}))")
    a.eval(f"Node.ping({b.full!r})")  # the monitor request travels before the ping: b has it now
    b.eval("send('worker', 'stop')")
    out = a.eval("print(receive(timeout=10))")
    assert f"'process', ('worker', '{b.full}'), 'normal')" in out
    # monitoring something that does not exist: noproc at once
    out = a.eval(f"Process.monitor(('ghost', {b.full!r})); print(receive(timeout=10))")
    assert "'noproc')" in out


def test_link_to_a_node_that_dies_gives_noconnection(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(f"Process.flag('trap_exit', True)\npid = Node.spawn_link({b.full!r}, receive)")
    b.proc.kill()
    out = a.eval("print(receive(timeout=10))")
    assert "'EXIT'" in out and "'noconnection'" in out


def test_ten_thousand_processes_waiting_in_receive(nodes):
    a = nodes.start("a")
    a.eval("pids = [spawn(receive) for _ in range(10_000)]", timeout=120)
    wait_for(lambda: int(a.value("len(Process.list())")) >= 10_000, timeout=60, what="10,000 live processes")
    a.eval("for p in pids: send(p, 'go')", timeout=120)
    wait_for(lambda: int(a.value("len(Process.list())")) < 100, timeout=120, what="the 10,000 processes to finish")


def test_local_send_to_unregistered_name_raises(nodes):
    a = nodes.start("a")
    out, ok = a.try_eval("send('nobody', 1)")
    assert not ok and "no process is registered as 'nobody'" in out
    # but a (name, node) never raises, nor does a dead pid
    a.eval(f"send(('nobody', {a.full!r}), 1)")
    a.eval("p = spawn(lambda: None)")
    wait_for(lambda: a.value("Process.alive(p)") == "False", what="the spawned process to end")
    a.eval("send(p, 1)")


def test_an_unpicklable_message_fails_at_the_send(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    out, ok = a.try_eval(f"import threading; send(('x', {b.full!r}), threading.Lock())")
    assert not ok
    assert f"TypeError: send: cannot send this message to {b.full}: cannot pickle '_thread.lock'" in out
    assert a.value(f"Node.ping({b.full!r})") == "'pong'"  # nothing else broke


def test_lines_printed_by_concurrent_processes_stay_whole(nodes):
    a = nodes.start("a")
    a.eval("def shout(ch):\n    for _ in range(300):\n        print(ch * 40)\nfor ch in 'AB':\n    spawn(shout, ch)")
    wait_for(
        lambda: a.output.count("A" * 40) + a.output.count("B" * 40) >= 600 or None,
        what="600 lines from the two processes",
    )
    for line in a.output.splitlines():
        if "A" in line or "B" in line:
            assert line in ("A" * 40, "B" * 40), f"a line was split or mixed: {line!r}"
