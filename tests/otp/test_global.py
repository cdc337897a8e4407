"""Global on real nodes: cluster-wide names, a GenServer under one, names that go
with their process or its node, a clash when two clusters join, racing registrations."""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique, wait_for

pytestmark = pytest.mark.timeout(180)

HELPERS = """
import time
def holder(tag):
    while True:
        msg = receive()
        if msg == "stop":
            return
        print(tag, "got", msg)
def exit_of(fn):
    try:
        fn()
    except Exit as e:
        return (e.reason, str(e))
"""

COUNTER = """
class Counter(GenServer):
    def handle_call(self, req, from_, n):
        return ("reply", (n, node()), n)
    def handle_cast(self, req, n):
        return ("noreply", n + req)
"""


def cluster(*ns):
    for n in ns[1:]:
        assert n.value(f"Node.ping({ns[0].full!r})") == "'pong'"
    wait_for(lambda: all(len(eval(n.value("Node.list()"))) == len(ns) - 1 for n in ns), what="a full mesh")


def test_a_name_is_known_on_every_node(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    for n in (a, b, c):
        n.eval(HELPERS)
    a.eval("p = spawn(holder, 'a-holder')")
    assert a.value("Global.register_name('printer', p)") == "'yes'"
    pid = a.value("p")
    assert b.value("Global.whereis_name('printer')") == pid  # at once: register returns when all know
    assert c.value("Global.registered_names()") == "['printer']"
    assert b.value("Global.register_name('printer', self())") == "'no'"
    c.eval("Global.send('printer', 'hello')")
    a.wait_output("a-holder got hello")  # printed by the holder, on a
    reason, words = eval(c.value("exit_of(lambda: Global.send('nobody', 1))"))
    assert reason == ("badarg", ("nobody", 1)) and "no process is registered globally as 'nobody'" in words
    assert b.value("Global.unregister_name('printer')") == "'ok'"
    assert a.value("Global.whereis_name('printer')") == "None"
    assert c.value("Global.registered_names()") == "[]"
    # a pid of another node can hold a name too
    a.eval("Process.register(p, 'local-p')")
    assert c.value(f"Global.register_name('remote', rpc.call({a.full!r}, Process.whereis, 'local-p'))") == "'yes'"
    assert a.value("Global.whereis_name('remote') == p") == "True"


def test_names_go_with_their_process_and_with_its_node(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    for n in (a, b, c):
        n.eval(HELPERS)
    a.eval("p = spawn(holder, 'x')")
    assert a.value("Global.register_name('short-lived', p)") == "'yes'"
    assert c.value("Global.whereis_name('short-lived') is not None") == "True"
    a.eval("send(p, 'stop')")
    for n in (a, b, c):
        wait_for(lambda n=n: n.value("Global.whereis_name('short-lived')") == "None", what=f"{n.name} to drop it")
    c.eval("q = spawn(holder, 'c')")
    assert c.value("Global.register_name('on-c', q)") == "'yes'"
    assert a.value("Global.whereis_name('on-c') is not None") == "True"
    c.proc.kill()  # the owner's node goes down: its names go everywhere
    for n in (a, b):
        wait_for(lambda n=n: n.value("Global.registered_names()") == "[]", what=f"{n.name} to drop c's name")


def test_a_genserver_under_a_global_name(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    cluster(a, b)
    a.eval(COUNTER)
    b.eval(COUNTER)
    assert a.value("GenServer.start(Counter, 5, name=('via', Global, 'counter'))").startswith("('ok', #PID<")
    via = "('via', Global, 'counter')"
    assert b.value(f"GenServer.call({via}, 'get')") == f"(5, {a.full!r})"
    assert b.value(f"GenServer.cast({via}, 2)") == "'ok'"
    assert b.value(f"GenServer.call({via}, 'get')") == f"(7, {a.full!r})"
    assert b.value(f"GenServer.whereis({via}) == Global.whereis_name('counter')") == "True"
    taken = b.value(f"GenServer.start(Counter, 0, name={via})")
    assert taken.startswith("('error', ('already_started', #PID<") and a.full in taken
    assert b.value(f"GenServer.stop({via})") == "'ok'"
    wait_for(lambda: a.value("Global.whereis_name('counter')") == "None", what="the name to go with the server")
    out, ok = b.try_eval(f"GenServer.call({via}, 'get')")
    assert not ok and "GenServer.call to 'counter' (via Global) failed: no process" in out
    assert b.value(f"GenServer.cast({via}, 1)") == "'ok'"  # a cast to nobody is still 'ok'


def test_a_clash_when_two_nodes_connect_is_resolved_and_logged(nodes):
    a, b = nodes.start("a"), nodes.start("b")  # not connected yet: each registers 'leader'
    for n in (a, b):
        n.eval(HELPERS)
        n.eval(f"p = spawn(holder, {n.name!r})")
        assert n.value("Global.register_name('leader', p)") == "'yes'"
        n.eval("ref = Process.monitor(p)")
    pa, pb = a.value("p"), b.value("p")
    cluster(a, b)
    resolver = min((a, b), key=lambda n: n.full)
    out = resolver.wait_output("global: name conflict on 'leader': keeping ")
    line = next(x for x in out.splitlines() if "global: name conflict on 'leader'" in x)
    kept, lost = (pa, pb) if line.split("keeping ")[1].startswith(pa) else (pb, pa)
    assert f"terminating {lost}" in line
    for n in (a, b):
        wait_for(lambda n=n: n.value("Global.whereis_name('leader')") == kept, what=f"{n.name} to agree on {kept}")
    loser = a if lost == pa else b
    assert loser.value("receive(10, lambda m: m[0] == 'DOWN' and m[1] == ref)[4]") == "'killed'"


def test_a_resolve_function_decides_a_clash(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    for n in (a, b):
        n.eval(HELPERS)
        n.eval("p = spawn(lambda: print('told:', receive()[0]))")
        assert n.value("Global.register_name('svc', p, resolve=Global.notify_all_names)") == "'yes'"
    cluster(a, b)
    a.wait_output("told: global_name_conflict")
    b.wait_output("told: global_name_conflict")
    for n in (a, b):
        wait_for(lambda n=n: n.value("Global.whereis_name('svc')") == "None", what="the name to be unregistered")


def test_racing_registrations_of_one_name_give_one_yes(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    cluster(a, b)
    race = (
        "def race(name, at, report_to):\n"
        "    while time.time() < at: pass\n"
        "    send(report_to, (name, Global.register_name(name, self())))\n"
        "    receive()  # hold the name until told\n"
    )
    for n in (a, b):
        n.eval("import time\n" + race)
    for i in range(8):
        at = float(a.value("time.time()")) + 0.5
        for n in (a, b):
            n.eval(f"racer = spawn(race, 'r{i}', {at}, self())")
        got = sorted(eval(n.value(f"receive(30, lambda m: m[0] == 'r{i}')[1]")) for n in (a, b))
        assert got == ["no", "yes"], (i, got)
        winner = a.value(f"Global.whereis_name('r{i}')")
        assert winner == b.value(f"Global.whereis_name('r{i}')") != "None"
        for n in (a, b):
            n.eval("send(racer, 'stop')")


def test_global_from_e_code(nodes):
    a = nodes.start("a")
    a.eval("p = spawn(receive)\nGlobal.register_name('from-e', p)")
    code = f"Node.ping({a.full!r})\nprint(Global.whereis_name('from-e'))"
    out = subprocess.run(
        pydist_cmd("--sname", unique("e"), "-e", code), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == a.value("p")
