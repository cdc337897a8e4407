"""Supervisor on a real node: strategies, restart intensity, the child API."""

import pytest
from conftest import wait_for

pytestmark = pytest.mark.timeout(120)

WORKERS = """
class W(GenServer):
    @classmethod
    def start_link(cls, name):
        return GenServer.start_link(cls, name, name=name)
    def handle_call(self, req, from_, st):
        if req == "crash":
            raise ValueError("boom")
        return ("reply", st, st)

def pids():
    return {k: Process.whereis(k) for k in "abc"}

specs = [Supervisor.child_spec((W, k), id=k) for k in "abc"]

def crash(name):
    try:
        GenServer.call(name, "crash")
    except Exit:
        pass
"""


@pytest.mark.parametrize("strategy, restarted", [("one_for_one", "b"), ("one_for_all", "abc"), ("rest_for_one", "bc")])
def test_strategies_restart_the_right_children(nodes, strategy, restarted):
    n = nodes.start("s")
    n.eval(WORKERS)
    assert n.value(f"Supervisor.start(specs, strategy={strategy!r}, name='Sup')").startswith("('ok', ")
    n.eval("before = pids()\ncrash('b')")
    # the crashed child is reported, and restarted under the same (freed) name
    n.wait_output("child 'b' exited: it crashed: ValueError: boom; restarting it")
    wait_for(lambda: n.value("all(pids().values())") == "True", what="all children back")
    changed = eval(n.value("''.join(k for k in 'abc' if pids()[k] != before[k])"))
    assert changed == restarted
    assert n.value("GenServer.call('b', 'hi')") == "'b'"
    assert n.value("[c[0] for c in Supervisor.which_children('Sup')]") == "['a', 'b', 'c']"


def test_restart_intensity_stops_the_supervisor(nodes):
    n = nodes.start("s")
    n.eval(WORKERS)
    n.eval("ok, sup = Supervisor.start(specs, max_restarts=2, max_seconds=30, name='Sup')\nref = Process.monitor(sup)")
    for _ in range(3):
        wait_for(lambda: n.value("Process.whereis('c') is not None") == "True", what="c running")
        n.eval("crash('c')")
    down = n.value("receive(10, lambda m: m[0] == 'DOWN' and m[1] == ref)")
    assert down.endswith("'shutdown')")
    n.wait_output("reached its maximum restart intensity (more than 2 restarts in 30 s)")
    assert n.value("pids()") == "{'a': None, 'b': None, 'c': None}"  # children shut down too


def test_child_api_and_restart_kinds(nodes):
    n = nodes.start("s")
    n.eval(WORKERS)
    n.eval("""
def once(name):
    return GenServer.start_link(W, name, name=name)
kids = [
    {"id": "perm", "start": (once, ("perm",))},
    {"id": "trans", "start": (once, ("trans",)), "restart": "transient"},
    {"id": "temp", "start": (once, ("temp",)), "restart": "temporary", "shutdown": "brutal_kill"},
]
ok, sup = Supervisor.start(kids, name="Sup")
""")
    assert n.value("Supervisor.count_children('Sup')") == "{'specs': 3, 'active': 3, 'supervisors': 0, 'workers': 3}"
    n.eval("GenServer.stop('trans')\ncrash('temp')")  # a normal exit, a crash
    wait_for(
        lambda: n.value("[c[0] for c in Supervisor.which_children('Sup')]") == "['perm', 'trans']",
        what="the temporary child to be dropped",
    )
    assert n.value("Supervisor.which_children('Sup')[1][1]") == "None"  # transient: not restarted
    assert n.value("Supervisor.restart_child('Sup', 'trans')[0]") == "'ok'"
    assert n.value("Supervisor.restart_child('Sup', 'trans')") == "('error', 'running')"
    assert n.value("Supervisor.terminate_child('Sup', 'perm')") == "'ok'"
    assert n.value("Process.whereis('perm')") == "None"
    assert n.value("Supervisor.delete_child('Sup', 'perm')") == "'ok'"
    assert n.value("Supervisor.delete_child('Sup', 'perm')") == "('error', 'not_found')"
    assert n.value("Supervisor.start_child('Sup', Supervisor.child_spec((W, 'x'), id='x'))[0]") == "'ok'"
    assert (
        n.value("Supervisor.start_child('Sup', Supervisor.child_spec((W, 'x'), id='x'))[1][0]") == "'already_started'"
    )
    assert n.value("GenServer.call('x', 'hi')") == "'x'"
    # a nested supervisor, and stopping the tree stops every child in it
    n.eval(
        "sub = {'id': 'sub', 'start': (Supervisor.start_link, ([Supervisor.child_spec((W, 'y'), id='y')],)),"
        " 'type': 'supervisor'}\nSupervisor.start_child('Sup', sub)"
    )
    assert n.value("GenServer.call('y', 'hi')") == "'y'"
    assert n.value("Supervisor.stop('Sup')") == "'ok'"
    assert n.value("[Process.whereis(k) for k in ('trans', 'x', 'y')]") == "[None, None, None]"


def test_bad_specs_and_failed_starts(nodes):
    n = nodes.start("s")
    n.eval(WORKERS)
    out, ok = n.try_eval("Supervisor.start([(W, 'a'), (W, 'b')])")
    assert not ok and "two children have the id 'W'" in out
    out, ok = n.try_eval("Supervisor.start([{'id': 'x', 'start': 42}])")
    assert not ok and "'start' must be (function, args)" in out
    n.eval("class No(GenServer):\n    def init(self, arg):\n        return ('stop', 'nope')")
    assert (
        n.value("Supervisor.start([Supervisor.child_spec((W, 'a'), id='a'), No])")
        == "('error', ('shutdown', ('failed_to_start_child', 'No', 'nope')))"
    )
    assert n.value("Process.whereis('a')") == "None"  # the children started before it are stopped
