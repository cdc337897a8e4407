"""Registry on a real node: unique names, duplicate keys for pub/sub, entries that go
with their process, via-names for GenServers."""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique, wait_for

pytestmark = pytest.mark.timeout(120)

HELPERS = """
def member(registry, key, value, tag):
    Registry.register(registry, key, value)
    while True:
        msg = receive()
        if msg == "stop":
            return
        print(tag, "got", msg)
"""


def test_unique_keys(nodes):
    a = nodes.start("a")
    a.eval(HELPERS)
    assert a.value("Registry.start(keys='unique', name='Names')").startswith("('ok', #PID<")
    a.eval("p = spawn(member, 'Names', 'printer', {'colour': True}, 'p')")
    wait_for(
        lambda: a.value("Registry.lookup('Names', 'printer') == [(p, {'colour': True})]") == "True",
        what="the registration",
    )
    taken = a.value("Registry.register('Names', 'printer', 1)")
    assert taken == f"('error', ('already_registered', {a.value('p')}))"
    assert a.value("Registry.register('Names', 'mine', 1)[0]") == "'ok'"
    assert a.value("Registry.keys('Names', self())") == "['mine']"
    assert a.value("Registry.values('Names', 'mine', self())") == "[1]"
    assert a.value("Registry.update_value('Names', 'mine', lambda v: v + 1)") == "(2, 1)"
    assert a.value("Registry.update_value('Names', 'printer', lambda v: v)") == "'error'"  # not the caller's
    assert a.value("Registry.count('Names')") == "2"
    assert a.value("Registry.unregister('Names', 'mine')") == "'ok'"
    assert a.value("Registry.lookup('Names', 'mine')") == "[]"
    a.eval("send(p, 'stop')")  # its entries go with it
    wait_for(lambda: a.value("Registry.lookup('Names', 'printer')") == "[]", what="the entry to go with p")
    assert a.value("Registry.put_meta('Names', 'owner', 'ops')") == "'ok'"
    assert a.value("(Registry.meta('Names', 'owner'), Registry.meta('Names', 'x'))") == "(('ok', 'ops'), 'error')"
    out, ok = a.try_eval("Registry.start(keys='many', name='Bad')")
    assert not ok and "keys must be 'unique' or 'duplicate'" in out


def test_duplicate_keys_and_dispatch(nodes):
    a = nodes.start("a")
    a.eval(HELPERS)
    a.eval("Registry.start(keys='duplicate', name='PubSub')")
    for i in range(3):
        a.eval(f"spawn(member, 'PubSub', 'news', {i}, 'sub{i}')")
    wait_for(lambda: a.value("len(Registry.lookup('PubSub', 'news'))") == "3", what="three subscribers")
    assert a.value("Registry.dispatch('PubSub', 'news', lambda es: [send(p, ('hello', v)) for p, v in es])") == "'ok'"
    for i in range(3):
        a.wait_output(f"sub{i} got ('hello', {i})")
    assert a.value("Registry.dispatch('PubSub', 'nobody', lambda es: 1 / 0)") == "'ok'"  # not called


def test_via_names_for_genservers(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    a.eval(
        "class Counter(GenServer):\n"
        "    def handle_call(self, req, from_, n):\n"
        "        return ('reply', n, n + 1)\n"
        "Registry.start(keys='unique', name='Reg')\n"
        "via = ('via', Registry, ('Reg', 'counter-1'))"
    )
    assert a.value("GenServer.start(Counter, 10, name=via)").startswith("('ok', #PID<")
    assert a.value("GenServer.call(via, 'next')") == "10"
    assert a.value("GenServer.call(via, 'next')") == "11"
    assert a.value("GenServer.start(Counter, 0, name=via)").startswith("('error', ('already_started', #PID<")
    assert a.value("Registry.whereis_name(('Reg', 'counter-1')) == GenServer.whereis(via)") == "True"
    # the registry lives on a: another node reaches the server through it with rpc
    assert b.value(f"rpc.call({a.full!r}, GenServer.call, ('via', Registry, ('Reg', 'counter-1')), 'next')") == "12"
    assert a.value("GenServer.stop(via)") == "'ok'"
    wait_for(lambda: a.value("Registry.lookup('Reg', 'counter-1')") == "[]", what="the name to go")
    out, ok = a.try_eval("GenServer.call(via, 'next')")
    assert not ok and "GenServer.call to ('Reg', 'counter-1') (via Registry) failed: no process" in out
    a.eval("Registry.start(keys='duplicate', name='Dup')")
    out = a.value("GenServer.start(Counter, 0, name=('via', Registry, ('Dup', 'x')))")
    assert out.startswith("('error', ('exception', ") and "via-names need a registry with unique keys" in out


def test_registry_from_e_code():
    code = "Registry.start_link(name='R')\nRegistry.register('R', 'me', 42)\nprint(Registry.lookup('R', 'me')[0][1])"
    out = subprocess.run(
        pydist_cmd("--sname", unique("e"), "-e", code), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"
