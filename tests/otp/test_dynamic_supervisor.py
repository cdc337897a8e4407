"""DynamicSupervisor on real nodes: children started on demand, restarted alone by
their restart kind, capped by max_children, and started from another node."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(120)

WORKER = """
class W(GenServer):
    @classmethod
    def start_link(cls, name):
        return GenServer.start_link(cls, name, name=name)
    def handle_call(self, req, from_, st):
        if req == "crash":
            raise ValueError("boom")
        return ("reply", (st, node()), st)
def spec(name, restart="permanent"):
    return Supervisor.child_spec((W, name), id=name, restart=restart)
def crash(name):
    try:
        GenServer.call(name, "crash")
    except Exit:
        pass
"""


def test_children_on_demand_restarted_alone(nodes):
    n = nodes.start("d")
    n.eval(WORKER)
    assert n.value("DynamicSupervisor.start(name='Dyn')").startswith("('ok', #PID<")
    assert n.value("DynamicSupervisor.which_children('Dyn')") == "[]"
    for name in ("a", "b"):
        assert n.value(f"DynamicSupervisor.start_child('Dyn', spec({name!r}))").startswith("('ok', #PID<")
    assert n.value("DynamicSupervisor.start_child('Dyn', spec('t', 'temporary'))[0]") == "'ok'"
    kids = n.value("[(c[0], c[2]) for c in DynamicSupervisor.which_children('Dyn')]")
    assert kids == "[('undefined', 'worker'), ('undefined', 'worker'), ('undefined', 'worker')]"
    assert n.value("DynamicSupervisor.count_children('Dyn')") == (
        "{'specs': 3, 'active': 3, 'supervisors': 0, 'workers': 3}"
    )
    n.eval("a_before, b_before = Process.whereis('a'), Process.whereis('b')\ncrash('a')")
    n.wait_output("child")
    n.wait_output("crashed: ValueError: boom; restarting it")
    wait_for(lambda: n.value("Process.whereis('a') not in (None, a_before)") == "True", what="a restarted")
    assert n.value("Process.whereis('b') == b_before") == "True"  # one_for_one: b untouched
    n.eval("crash('t')")  # temporary: gone for good
    wait_for(lambda: n.value("len(DynamicSupervisor.which_children('Dyn'))") == "2", what="t to be dropped")
    assert n.value("Process.whereis('t')") == "None"
    assert n.value("DynamicSupervisor.terminate_child('Dyn', Process.whereis('b'))") == "'ok'"
    assert n.value("Process.whereis('b')") == "None"
    assert n.value("DynamicSupervisor.terminate_child('Dyn', self())") == "('error', 'not_found')"
    assert n.value("DynamicSupervisor.stop('Dyn')") == "'ok'"
    assert n.value("Process.whereis('a')") == "None"  # its children stop with it


def test_max_children_and_restart_intensity(nodes):
    n = nodes.start("d")
    n.eval(WORKER)
    n.eval(
        "ok, sup = DynamicSupervisor.start(max_children=1, max_restarts=1, max_seconds=30)\nref = Process.monitor(sup)"
    )
    assert n.value("DynamicSupervisor.start_child(sup, spec('x'))[0]") == "'ok'"
    assert n.value("DynamicSupervisor.start_child(sup, spec('y'))") == "('error', 'max_children')"
    n.eval("crash('x')")
    wait_for(lambda: n.value("Process.whereis('x') is not None") == "True", what="x restarted once")
    n.eval("crash('x')")
    assert n.value("receive(10, lambda m: m[0] == 'DOWN' and m[1] == ref)[4]") == "'shutdown'"
    n.wait_output("reached its maximum restart intensity (more than 1 restarts in 30 s)")
    out, ok = n.try_eval("DynamicSupervisor.start(strategy='one_for_all')")
    assert not ok and "the only strategy is 'one_for_one'" in out


def test_a_child_started_from_another_node(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(WORKER)
    b.eval(WORKER)
    a.eval("DynamicSupervisor.start(name='Dyn')")
    got = b.value(f"DynamicSupervisor.start_child(('Dyn', {a.full!r}), spec('remote'))")
    assert got.startswith(f"('ok', #PID<{a.full}.")
    assert b.value(f"GenServer.call(('remote', {a.full!r}), 'hi')") == f"('remote', {a.full!r})"
