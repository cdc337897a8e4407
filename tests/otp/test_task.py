"""Task on real nodes: values back from here and from another node, timeouts that stop
the task, yield/shutdown, streams spread over nodes, a task's node dying."""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique, wait_for

pytestmark = pytest.mark.timeout(180)

HELPERS = """
import time
def slow(x, seconds):
    Process.sleep(seconds)
    return x
def where(x):
    return (x, node())
def boom(x):
    if x == 3:
        raise ValueError("three")
    return x * 10
def exit_of(fn):
    try:
        fn()
    except Exit as e:
        return (e.reason[0], e.reason[1][:2], str(e))  # (why, (module, function), words)
"""


def test_async_await_here_and_on_another_node(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(HELPERS)
    assert a.value("Task.await_(Task.async_(lambda: 6 * 7))") == "42"
    assert a.value(f"Task.await_(Task.async_(where, 1, node={b.full!r}))") == f"(1, {b.full!r})"
    # output of a task on b comes home, as for Node.spawn
    a.eval(f"Task.await_(Task.async_(lambda: print('hello from', node()), node={b.full!r}))")
    a.wait_output(f"hello from {b.full}")
    # the reply is Elixir's (ref, value): a user can receive it by hand
    a.eval("t = Task.async_(lambda: 'by hand')")
    assert a.value("receive(5, lambda m: m[0] == t.ref)[1]") == "'by hand'"
    a.eval("Process.demonitor(t.mref, flush=True)")  # as Elixir's demonitor(ref, [:flush])
    assert a.value("Task.await_many([Task.async_(slow, i, 0.2) for i in range(5)], timeout=10)") == "[0, 1, 2, 3, 4]"
    assert a.eval("flush()") == "None"  # nothing left behind


def test_await_timeout_exits_and_stops_the_task(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(HELPERS)
    a.eval("t = Task.async_(slow, 'x', 30)")
    why, call, words = eval(a.value("exit_of(lambda: Task.await_(t, timeout=0.5))"))
    assert why == "timeout" and call == ("Task", "await_")
    assert "timed out after 0.5 s" in words and "stopped" in words
    assert a.value("Process.alive(t.pid)") == "False"
    # the same across nodes: the remote task is gone too
    a.eval(f"r = Task.async_(slow, 'y', 30, node={b.full!r})")
    assert eval(a.value("exit_of(lambda: Task.await_(r, timeout=0.5))"))[0] == "timeout"
    assert a.value(f"rpc.call({b.full!r}, Process.alive, r.pid)") == "False"
    # no late reply and no DOWN is left in the mailbox
    out, ok = a.try_eval("receive(timeout=0.5)")
    assert not ok and "TimeoutError" in out


def test_yield_shutdown_and_owner_only(nodes):
    a = nodes.start("a")
    a.eval(HELPERS)
    a.eval("t = Task.async_(slow, 5, 1.0)")
    assert a.value("Task.yield_(t, 0.1)") == "None"  # still running: it keeps running
    assert a.value("Task.yield_(t, 10)") == "('ok', 5)"
    a.eval("s = Task.async_(slow, 6, 30)")
    assert a.value("Task.shutdown(s)") == "None"
    assert a.value("Process.alive(s.pid)") == "False"
    a.eval("d = Task.async_(lambda: 'done')\ntime.sleep(0.5)")
    assert a.value("Task.shutdown(d)") == "('ok', 'done')"  # the reply had arrived
    # a timeout that is neither seconds nor "brutal_kill" is refused before anything is stopped
    a.eval("w = Task.async_(slow, 8, 0.5)")
    out, ok = a.try_eval("Task.shutdown(w, 'soon')")
    assert not ok and "ValueError: Task.shutdown: timeout is a number of seconds or 'brutal_kill', not 'soon'" in out
    assert a.value("Task.await_(w)") == "8"
    # only the owner may await: another process is told so
    a.eval("u = Task.async_(slow, 7, 0.1)")
    a.eval(
        "def other():\n"
        "    try:\n"
        "        Task.await_(u)\n"
        "    except ValueError as e:\n"
        "        print('refused:', e)\n"
        "spawn(other)"
    )
    a.wait_output("refused: Task.await_: Task(pid=")
    assert a.value("Task.await_(u)") == "7"
    assert a.value("Task.start(print, 'started')[0]") == "'ok'"
    a.wait_output("started")


def test_a_crashing_task_takes_its_linked_owner_down_unless_it_traps_exits(nodes):
    a = nodes.start("a")
    a.eval(HELPERS)
    a.eval("def owner(reply_to):\n    Task.await_(Task.async_(boom, 3))\npid, ref = spawn_monitor(owner, self())")
    down = a.value("receive(10, lambda m: m[0] == 'DOWN' and m[1] == ref)[4]")
    assert down == "('exception', 'ValueError: three')"
    a.wait_output("ValueError: three")  # the task's crash report
    a.eval("Process.flag('trap_exit', True)")
    why, _, words = eval(a.value("exit_of(lambda: Task.await_(Task.async_(boom, 3)))"))
    assert why == ("exception", "ValueError: three") and "the task crashed: ValueError: three" in words


def test_async_stream_over_nodes_in_order_with_crashes_and_timeouts(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    a.eval(HELPERS)
    spread = eval(a.value(f"[r[1] for r in Task.async_stream(range(6), where, nodes=[{b.full!r}, {c.full!r}])]"))
    assert [x for x, _ in spread] == list(range(6))
    assert {n for _, n in spread} == {b.full, c.full}
    assert a.value("list(Task.async_stream(range(5), boom))") == (
        "[('ok', 0), ('ok', 10), ('ok', 20), ('exit', ('exception', 'ValueError: three')), ('ok', 40)]"
    )
    # max_concurrency=2: 4 elements of 0.5 s take about 1 s, not 0.5 s
    a.eval("t0 = time.monotonic()\nres = list(Task.async_stream(range(4), lambda x: slow(x, 0.5), max_concurrency=2))")
    took = float(a.value("time.monotonic() - t0"))
    assert 0.9 < took < 10, took
    # ordered=False: the fast one first
    a.eval("res = [r[1] for r in Task.async_stream([(1, 1.0), (2, 0.0)], lambda p: slow(*p), ordered=False)]")
    assert a.value("res") == "[2, 1]"
    # a slow element: the stream exits, or that element gives ('exit', 'timeout')
    why, call, _ = eval(a.value("exit_of(lambda: list(Task.async_stream([0, 5], lambda s: slow(s, s), timeout=0.5)))"))
    assert (why, call) == ("timeout", ("Task", "async_stream"))
    killed = a.value("list(Task.async_stream([0, 5], lambda s: slow(s, s), timeout=0.5, on_timeout='kill_task'))")
    assert killed == "[('ok', 0), ('exit', 'timeout')]"
    wait_for(lambda: a.value("len(Process.list())") == "1", what="the stream's tasks to be gone")


def test_a_task_whose_node_dies(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(HELPERS)
    a.eval("Process.flag('trap_exit', True)")
    a.eval(f"t = Task.async_(slow, 1, 60, node={b.full!r})")
    wait_for(lambda: a.value(f"rpc.call({b.full!r}, Process.alive, t.pid)") == "True", what="the task to run")
    b.proc.kill()
    why, _, words = eval(a.value("exit_of(lambda: Task.await_(t, timeout=30))"))
    assert why == ("nodedown", b.full)
    assert f"the task's node {b.full} went down" in words
    # a stream over a dead node gives ('exit', 'noconnection') for its share, values for the rest
    got = eval(a.value(f"list(Task.async_stream(range(4), where, nodes=[node(), {b.full!r}]))"))
    assert [g[0] for g in got] == ["ok", "exit", "ok", "exit"]
    assert got[1] == ("exit", "noconnection")


def test_task_supervisor_on_another_node(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    b.eval("Task.Supervisor.start(name='tasks')")
    a.eval(HELPERS)
    sup = f"('tasks', {b.full!r})"
    assert a.value(f"Task.await_(Task.Supervisor.async_({sup}, where, 1))") == f"(1, {b.full!r})"
    # nolink: a crash is a value for the caller, who lives on
    assert a.value(f"Task.yield_(Task.Supervisor.async_nolink({sup}, boom, 3), 10)") == (
        "('exit', ('exception', 'ValueError: three'))"
    )
    assert a.value(f"Task.Supervisor.start_child({sup}, print, 'child on', 'b')[0]") == "'ok'"
    b.wait_output("child on b")  # printed where the supervisor runs (its group leader)
    a.eval(f"t = Task.Supervisor.async_nolink({sup}, slow, 'x', 30)")
    assert a.value(f"Task.Supervisor.children({sup}) == [t.pid]") == "True"
    assert a.value("Task.shutdown(t, 'brutal_kill')") == "None"
    wait_for(lambda: a.value(f"Task.Supervisor.children({sup})") == "[]", what="the task to be gone")
    b.eval("Task.Supervisor.start(name='one', max_children=1)\nTask.Supervisor.start_child('one', Process.sleep, 30)")
    out, ok = b.try_eval("Task.Supervisor.async_('one', lambda: 1)")
    assert not ok and "did not start the task: ('error', 'max_children')" in out


def test_task_from_e_code(nodes):
    b = nodes.start("b")
    code = f"print(Task.await_(Task.async_(lambda: (6 * 7, node()), node={b.full!r})))"
    out = subprocess.run(
        pydist_cmd("--sname", unique("e"), "-e", code), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"(42, {b.full!r})"
