"""Processes inside one (undistributed) node, in-process: fast semantics checks."""

import sys
import time

import pytest
from conftest import wait_for

from pydist import Exit, Process, receive, self, send, spawn, spawn_link, spawn_monitor

pytestmark = pytest.mark.timeout(60)


def test_selective_receive_and_timeout():
    me = self()
    send(me, ("a", 1))
    send(me, ("b", 2))
    assert receive(timeout=1, match=lambda m: m[0] == "b") == ("b", 2)
    assert receive(timeout=1) == ("a", 1)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        receive(timeout=0.2)
    assert time.monotonic() - t0 >= 0.19


def test_spawn_reply_and_registry():
    me = self()
    pid = spawn(lambda: send(me, ("got", receive(timeout=5))))
    Process.register(pid, "echo_unit")
    assert Process.whereis("echo_unit") == pid
    with pytest.raises(ValueError, match="already registered"):
        Process.register(me, "echo_unit")
    send("echo_unit", "hi")
    assert receive(timeout=5) == ("got", "hi")
    # a dead process's name is free again
    wait_for(lambda: Process.whereis("echo_unit") is None, what="echo_unit's name to be freed")


def test_monitor_reports_crash_reason():
    pid, ref = spawn_monitor(lambda: 1 / 0)
    msg = receive(timeout=5, match=lambda m: m[0] == "DOWN")
    assert msg[:4] == ("DOWN", ref, "process", pid)
    assert msg[4] == ("exception", "ZeroDivisionError: division by zero")


def test_trap_exit_turns_link_exits_into_messages():
    done = []

    def parent():
        Process.flag("trap_exit", True)
        spawn_link(lambda: (_ for _ in ()).throw(Exit("boom")))
        done.append(receive(timeout=5))

    _pid, ref = spawn_monitor(parent)
    receive(timeout=5, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert done and done[0][0] == "EXIT" and done[0][2] == "boom"


def test_linked_process_dies_with_its_partner():
    def parent():
        spawn_link(lambda: (_ for _ in ()).throw(Exit("boom")))
        receive()  # killed by the exit signal while waiting

    _pid, ref = spawn_monitor(parent)
    msg = receive(timeout=5, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert msg[4] == "boom"


def started():
    """Wait for the child's ("started", pid) message."""
    return receive(timeout=30, match=lambda m: m[0] == "started")[1]


def _running(fn) -> bool:
    """Whether some thread is running ``fn`` (its code is on a thread's stack)."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code is fn.__code__:
                return True
            frame = frame.f_back
    return False


def _stops(fn, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while _running(fn) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(fn)


def test_kill_is_untrappable_and_reaches_a_busy_thread_process():
    # a busy loop that never yields belongs in a thread process (a green one would hold the loop)
    def busy(parent):
        Process.flag("trap_exit", True)
        send(parent, ("started", self()))
        while True:
            sum(range(1000))

    pid, ref = spawn_monitor(busy, self(), thread=True)
    assert started() == pid
    Process.exit(pid, "kill")
    msg = receive(timeout=5, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert msg[4] == "killed"
    assert _stops(busy), "the killed process's thread still runs its loop"


def test_a_busy_green_process_obeys_at_its_next_yield():
    def busy(parent):
        Process.flag("trap_exit", True)
        send(parent, ("started", self()))
        while True:
            sum(range(1000))
            Process.sleep(0)  # a yield: the loop runs the others, and exit signals land here

    pid, ref = spawn_monitor(busy, self())
    assert started() == pid
    Process.exit(pid, "kill")
    msg = receive(timeout=5, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert msg[4] == "killed"
    assert wait_until(lambda: pid not in Process.list())


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("thread", [False, True], ids=["green", "thread"])
def test_kill_is_immediate_even_for_a_process_stuck_in_sleep(thread):
    # time.sleep in a green process sleeps that process only; in a thread process it
    # is the real C call, and the kill's bookkeeping does not wait for it to return
    def stuck(parent):
        send(parent, ("started", self()))
        time.sleep(60)

    pid, ref = spawn_monitor(stuck, self(), thread=thread)
    started()
    time.sleep(0.1)  # on purpose: let it get into the C call
    t0 = time.monotonic()
    Process.exit(pid, "kill")
    msg = receive(timeout=30, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert msg[4] == "killed" and time.monotonic() - t0 < 10  # not when the 60 s sleep ends
    assert not Process.alive(pid)


def test_a_swallowed_kill_still_kills():
    def stubborn(parent):
        send(parent, ("started", self()))
        while True:
            try:
                while True:
                    sum(range(100))
            except BaseException:
                pass

    pid, ref = spawn_monitor(stubborn, self(), thread=True)
    started()
    Process.exit(pid, "kill")
    msg = receive(timeout=5, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert msg[4] == "killed"
    Process.exit(pid, "kill")  # the thread is told again (it may swallow that one too: Python cannot do more)


def test_process_sleep_dies_on_an_exit_signal():
    def napper(parent):
        send(parent, ("started", self()))
        Process.sleep(30)

    pid, ref = spawn_monitor(napper, self())
    started()
    Process.exit(pid, "shutdown")
    msg = receive(timeout=5, match=lambda m: m[0] == "DOWN" and m[1] == ref)
    assert msg[4] == "shutdown"


def test_exit_to_self_while_trapping_is_a_message():
    def trapper(parent):
        Process.flag("trap_exit", True)
        Process.exit(self(), "bye")
        send(parent, receive(timeout=5))

    me = self()
    spawn(trapper, me)
    msg = receive(timeout=5, match=lambda m: m[0] == "EXIT")
    assert msg[2] == "bye"


def test_messages_with_unhashable_parts_after_a_call_gave_up():
    from pydist import GenServer

    class Mute(GenServer):
        def init(self, arg):
            return ("ok", None)

        def handle_call(self, req, from_, state):
            return ("noreply", state)

    _ok, srv = GenServer.start(Mute, None)
    with pytest.raises(Exit):
        GenServer.call(srv, "x", timeout=0.2)
    send(self(), ("data", [1, 2, 3]))
    assert receive(timeout=2) == ("data", [1, 2, 3])
    GenServer.stop(srv)
