"""Green processes: run by the node's loop, cheap, and stopped only at safe points.

Real nodes over loopback, driven as in the other node tests. Figures
(spawn rate, memory) live in benchmarks/core.py; these tests check what a
user sees: things work, nothing wedges, the messages say what to do.
"""

import pytest

pytestmark = pytest.mark.timeout(240)


def test_a_hundred_thousand_processes_and_the_node_stays_responsive(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval("def waiter():\n    receive()\npids = [spawn(waiter) for _ in range(100_000)]\nn_live = len(Process.list())")
    assert int(a.value("n_live")) >= 100_000
    # while they all wait, the node answers its peers and runs new work at once
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    assert b.value(f"rpc.call({a.full!r}, lambda: sum(range(10)))") == "45"
    a.eval("for p in pids:\n    send(p, 'go')")
    a.eval(
        "import time\ndeadline = time.monotonic() + 60\nwhile len(Process.list()) > 5 and time.monotonic() < deadline:\n    time.sleep(0.05)"
    )
    assert int(a.value("len(Process.list())")) <= 5
    # a burst of short processes, then an ordinary sleep takes its time, not more
    a.eval("for _ in range(100_000):\n    spawn(lambda: None)")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    a.eval("t0 = time.monotonic(); Process.sleep(0.2); slept = time.monotonic() - t0")
    assert float(a.value("slept")) < 10


def test_time_sleep_in_a_green_process_sleeps_only_that_process(nodes):
    a = nodes.start("a")
    a.eval(
        "import time\n"
        "me = self()\n"
        "t0 = time.monotonic()\n"
        "for i in range(50):\n"
        "    spawn(lambda i=i: (time.sleep(1.0), send(me, ('woke', i))))\n"
        "woke = sorted(receive(timeout=30)[1] for _ in range(50))\n"
        "took = time.monotonic() - t0"
    )
    assert a.value("woke == list(range(50))") == "True"
    assert float(a.value("took")) < 25  # one after the other would be 50 s


def test_a_green_process_that_holds_the_loop_is_named_and_the_node_keeps_serving(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    a.eval(
        "import time\n"
        "def spin(seconds):\n"
        "    end = time.monotonic() + seconds\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "hog = spawn(spin, 4.0)"
    )
    # the peer still sees the node up and gets its pings answered meanwhile
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    # and a node that was never connected can connect (its host is looked up off the loop)
    assert c.value(f"Node.ping({a.full!r})") == "'pong'"
    # thread processes (the prompt, here the agent's main thread) keep working
    assert a.value("(spawn(lambda p: send(p, 'hi'), self(), thread=True), receive(timeout=10))[1]") == "'hi'"
    out = a.wait_output("has held the scheduler for")
    assert "spin" in out and "thread=True" in out
    # once it yields, green processes run again
    assert a.value("(spawn(lambda p: send(p, 'green again'), self()), receive(timeout=30))[1]") == "'green again'"


@pytest.mark.parametrize("thread", [False, True], ids=["green", "thread"])
def test_a_thousand_exit_signals_leave_no_lock_held_and_no_ghost(nodes, thread):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(
        "import io, logging\n"
        "log = logging.getLogger('victim')\n"
        "log.propagate = False\n"
        "sink = logging.StreamHandler(io.StringIO())\n"
        "log.addHandler(sink)\n"
        "class Echo(GenServer):\n"
        "    def handle_call(self, req, from_, state):\n"
        "        return ('reply', req, state)\n"
        "_, echo = GenServer.start_link(Echo, None)\n"
        f"peer = {b.full!r}\n"
        "def victim(kind):\n"
        "    me = self()\n"
        "    while True:\n"
        "        if kind == 'log':\n"
        "            log.warning('victim %s logs', me)\n"
        "        elif kind == 'print':\n"
        "            print('victim prints', me)\n"
        "        elif kind == 'send':\n"
        "            send(me, 'x'); receive(timeout=1)\n"
        "        elif kind == 'spawn':\n"
        "            spawn(lambda: None)\n"
        "        elif kind == 'call':\n"
        "            GenServer.call(echo, 'ping')\n"
        "        elif kind == 'rpc':\n"
        "            rpc.call(peer, abs, -1)\n"
        "        else:\n"
        "            receive(timeout=0.01) if False else receive()\n"
        "        if kind != 'receive':\n"
        "            Process.sleep(0)\n"
    )
    for kind in ("log", "print", "send", "spawn", "call", "rpc", "receive"):
        a.eval(
            "before = set(Process.list())\n"
            "for i in range(1000):\n"
            f"    p = spawn(victim, {kind!r}, thread={thread})\n"
            "    Process.sleep(0.0005 * (i % 4))\n"
            "    Process.exit(p, 'kill' if i % 2 else 'shutdown')\n",
            timeout=180,
        )
        # no ghost: every victim leaves the process list
        a.eval(
            "import time\n"
            "deadline = time.monotonic() + 60\n"
            "while set(Process.list()) - before and time.monotonic() < deadline:\n"
            "    time.sleep(0.05)",
            timeout=90,
        )
        assert a.value("list(set(Process.list()) - before)") == "[]", kind
    # every lock the runtime and logging use can be taken now
    locks = (
        "[h.lock for h in logging.getLogger('pydist').handlers + logging.getLogger().handlers + [sink] if h.lock]"
        " + [logging._lock]"
    )
    assert a.value(f"all(l.acquire(timeout=5) and (l.release() or True) for l in {locks})") == "True"
    rt = "__import__('pydist._core.runtime', fromlist=['RUNTIME']).RUNTIME"
    assert a.value(f"{rt}.lock.acquire(timeout=5) and ({rt}.lock.release() or True)") == "True"
    # and the node answers, its loop included
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    assert b.value(f"rpc.call({a.full!r}, lambda: 'alive')") == "'alive'"
    assert a.value("GenServer.call(echo, 'still')") == "'still'"


def test_a_capped_mailbox_stops_its_process_with_a_reason_that_says_so(nodes):
    a = nodes.start("a")
    a.eval(
        "def capped(parent):\n"
        "    Process.flag('max_mailbox', 1000)\n"
        "    send(parent, 'capped')\n"
        "    receive(match=lambda m: m == 'never')\n"
        "pid, ref = spawn_monitor(capped, self())\n"
        "receive(timeout=10, match=lambda m: m == 'capped')\n"
        "for i in range(2000):\n"
        "    send(pid, i)\n"
        "down = receive(timeout=30, match=lambda m: m[0] == 'DOWN')"
    )
    assert a.value("down[4]") == "('mailbox_full', 1000)"
    out = a.wait_output("exceeded its mailbox limit of 1000 messages")
    assert "Process.flag('max_mailbox', n)" in out
    assert "ValueError" in a.try_eval("Process.flag('max_mailbox', -1)")[0]


def test_a_long_mailbox_is_said_once(nodes):
    a = nodes.start("a")
    a.eval("sink = spawn(lambda: receive(match=lambda m: m == 'never'))\nfor i in range(100_001):\n    send(sink, i)")
    out = a.wait_output("messages waiting in its mailbox")
    assert out.count("messages waiting in its mailbox") == 1


def test_a_frame_whose_handling_raises_system_exit_is_dropped_and_the_node_goes_on(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval("Process.register(self(), 'target')")
    b.eval(
        "import sys\n"
        "class Exits:\n"
        "    def __reduce__(self):\n"
        "        return (sys.exit, ('a peer made me exit',))\n"
        f"send(('target', {a.full!r}), Exits())"
    )
    a.wait_output("dropped a message that could not be handled")
    assert b.value(f"Node.ping({a.full!r})") == "'pong'"
    b.eval(f"send(('target', {a.full!r}), 'after')")
    assert a.value("receive(timeout=10)") == "'after'"


def test_thread_option_on_every_spawn(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    kind = "__import__('pydist._core.runtime', fromlist=['RUNTIME']).RUNTIME.local_proc(self()).sched is None"
    b.eval(f"def kind():\n    return {kind}")
    assert b.value("kind()") == "True"  # the agent's main thread is a thread process
    assert b.value(f"rpc.call({a.full!r}, kind)") == "False"
    assert b.value(f"rpc.call({a.full!r}, kind, thread=True)") == "True"
    b.eval(
        f"me = self()\n"
        f"Node.spawn({a.full!r}, lambda: send(me, ('kind', kind())), thread=True)\n"
        f"Node.spawn({a.full!r}, lambda: send(me, ('kind', kind())))\n"
        "got = sorted(receive(timeout=10)[1] for _ in range(2))"
    )
    assert b.value("got") == "[False, True]"
    assert b.value("(spawn_link(lambda p: send(p, kind()), self(), thread=True), receive(timeout=10))[1]") == "True"
    assert b.value("spawn_monitor(lambda: None, thread=True)[0].node") == repr(b.full)
