"""Agent on real nodes: state changed by functions, here and from another node,
errors that say what went wrong, and an agent under a supervisor."""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique

pytestmark = pytest.mark.timeout(120)


def test_get_update_cast_and_stop(nodes):
    a = nodes.start("a")
    assert a.value("Agent.start(lambda: {'hits': 0}, name='cfg')").startswith("('ok', #PID<")
    assert a.value("Agent.update('cfg', lambda s: {**s, 'hits': s['hits'] + 1})") == "'ok'"
    assert a.value("Agent.cast('cfg', lambda s: {**s, 'mode': 'fast'})") == "'ok'"
    assert a.value("Agent.get('cfg', lambda s: s)") == "{'hits': 1, 'mode': 'fast'}"
    assert a.value("Agent.get_and_update('cfg', lambda s: (s['hits'], {**s, 'hits': 0}))") == "1"
    assert a.value("Agent.get('cfg', lambda s: s['hits'])") == "0"
    assert a.value("Agent.start(lambda: 0, name='cfg')").startswith("('error', ('already_started', #PID<")
    assert a.value("Agent.stop('cfg')") == "'ok'"
    out, ok = a.try_eval("Agent.get('cfg', lambda s: s)")
    assert not ok and "GenServer.call to 'cfg' on" in out and "no process" in out


def test_an_agent_on_another_node(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval("Agent.start(lambda: [], name='log')")
    # the functions travel to a with the call and run there
    assert b.value(f"Agent.update(('log', {a.full!r}), lambda s: s + [node()])") == "'ok'"
    assert b.value(f"Agent.get(('log', {a.full!r}), lambda s: (s, node()))") == f"([{a.full!r}], {a.full!r})"
    assert a.value("Agent.get('log', len)") == "1"


def test_a_failing_function_crashes_the_agent_and_the_caller_is_told(nodes):
    a = nodes.start("a")
    a.eval("ok, ag = Agent.start(lambda: 1)")
    out, ok = a.try_eval("Agent.get(ag, lambda s: s / 0)")
    assert not ok and "the server crashed: ZeroDivisionError: division by zero" in out
    a.wait_output("ZeroDivisionError")  # the agent's crash report on its node
    assert a.value("Process.alive(ag)") == "False"
    out, ok = a.try_eval("Agent.get_and_update(Agent.start(lambda: 1)[1], lambda s: s + 1)")
    assert not ok and "must return (reply, new_state), not 2" in out
    out, ok = a.try_eval("Agent.start(lambda: 1 / 0)")
    assert ok and "('error', ('exception', 'ZeroDivisionError: division by zero'))" in out


def test_an_agent_under_a_supervisor_is_restarted_with_fresh_state(nodes):
    a = nodes.start("a")
    a.eval(
        "spec = Supervisor.child_spec((Agent, lambda: 0), id='counter', start=(Agent.start_link, (lambda: 0, 'counter')))\n"
        "ok, sup = Supervisor.start([spec])\n"
        "Agent.update('counter', lambda s: s + 5)\n"
        "first = Process.whereis('counter')\n"
        "Process.exit(first, 'kill')"
    )
    a.wait_output("child 'counter' exited")
    a.eval("import time\nwhile Process.whereis('counter') in (None, first): time.sleep(0.05)")
    assert a.value("Agent.get('counter', lambda s: s)") == "0"


def test_agent_from_e_code():
    code = "ok, pid = Agent.start_link(lambda: 0)\nfor _ in range(3): Agent.update(pid, lambda s: s + 1)\nprint(Agent.get(pid, lambda s: s))"
    out = subprocess.run(
        pydist_cmd("--sname", unique("e"), "-e", code), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"
