"""Timers on real nodes: messages that come when due, cancel and read (also after the
timer fired), intervals that stop with their process, one service thread for many timers."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(120)


def no_message(n, seconds=0.6, match="None"):
    out, ok = n.try_eval(f"receive({seconds}, {match})")
    return not ok and "TimeoutError" in out


def test_send_after_cancel_and_read(nodes):
    a = nodes.start("a")
    a.eval("import time\nref = Timer.send_after(0.5, self(), 'ping')")
    assert a.value("isinstance(ref, Ref)") == "True"
    assert 0 < float(a.value("Timer.read(ref)")) <= 0.5
    assert a.value("receive(5)") == "'ping'"
    assert a.value("Timer.read(ref)") == "False"  # fired: nothing left to read
    from_timers = "__import__('pydist._api.timers', fromlist=['x'])"
    assert a.value(f"{from_timers}.cancel_timer(ref)") == "False"  # cancelled after it fired
    a.eval("ref = Timer.send_after(5, self(), 'never')")
    left = float(a.value(f"{from_timers}.cancel_timer(ref)"))
    assert 4 < left <= 5
    assert no_message(a)
    assert a.value("Timer.cancel(ref)") == "('ok', 'cancel')"
    a.eval("Process.register(self(), 'me')\nTimer.send_after(0.1, 'me', 'by name')\nTimer.send_after(0.1, 'gone', 1)")
    assert a.value("receive(5)") == "'by name'"  # a name that is not registered: nothing, no error


def test_a_timer_to_another_node_and_apply_after(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    b.eval("p = spawn(lambda: print('b got', receive()))\nProcess.register(p, 'listener')")
    a.eval(f"Timer.send_after(0.2, ('listener', {b.full!r}), 'hello')")
    b.wait_output("b got hello")
    a.eval("Timer.apply_after(0.2, print, 'applied', 'later')")
    a.wait_output("applied later")


def test_intervals_stop_with_cancel_and_with_their_process(nodes):
    a = nodes.start("a")
    a.eval("ref = Timer.send_interval(0.1, self(), 'tick')")
    assert a.value("[receive(5) for _ in range(3)]") == "['tick', 'tick', 'tick']"
    a.eval("Timer.cancel(ref)\nflush()")
    assert no_message(a, match="lambda m: m == 'tick'")
    # an interval to a name belongs to its caller: it stops when the caller exits
    a.eval(
        "Process.register(self(), 'collector')\n"
        "p = spawn(lambda: (Timer.send_interval(0.1, 'collector', 'beat'), receive()))"
    )
    assert a.value("receive(5)") == "'beat'"
    a.eval("Process.exit(p, 'kill')\nimport time\ntime.sleep(0.3)\nflush()")
    assert no_message(a, match="lambda m: m == 'beat'")
    a.eval("Process.unregister('collector')\nr2 = Timer.apply_interval(0.1, print, 'again')")
    wait_for(lambda: a.output.count("again") >= 3, what="three runs of apply_interval")
    a.eval("Timer.cancel(r2)")
    assert a.value("Timer.tc(sum, [1, 2, 3])[1]") == "6"


def test_many_timers_share_one_thread(nodes):
    a = nodes.start("a")
    a.eval("import threading\nTimer.send_after(0.01, self(), 'warm')\nreceive(5)\nbefore = threading.active_count()")
    a.eval("refs = [Timer.send_after(0.5 + i / 10000, self(), i) for i in range(2000)]")
    assert a.value("threading.active_count() - before") == "0"  # no thread per timer
    a.eval("for r in refs[1000:]: Timer.cancel(r)")
    assert a.value("sorted(receive(10) for _ in range(1000)) == list(range(1000))") == "True"
    assert no_message(a)  # the cancelled half never came


def test_process_send_after_cancel_timer_read_timer(nodes):
    a = nodes.start("a")
    a.eval("ref = Process.send_after(self(), 'soon', 0.3)")
    assert a.value("isinstance(ref, Ref) and 0 < Process.read_timer(ref) <= 0.3") == "True"
    assert a.value("receive(5)") == "'soon'"
    assert a.value("Process.cancel_timer(ref)") == "False"
    a.eval("ref = Process.send_after(self(), 'never', 5)")
    assert 4 < float(a.value("Process.cancel_timer(ref)")) <= 5
    assert no_message(a)
