"""The lecture's kv_store, steps 1-5, on three real nodes started as a student
starts them: ``pydist --sname nodeN@localhost -S kv_store`` from this folder."""

from pathlib import Path

import pytest
from pydist_tests_conftest import wait_for

from pydist._net.epmd import client as _epmd

pytestmark = pytest.mark.timeout(180)

PROJECT = Path(__file__).resolve().parents[1]
NAMES = ["node0@localhost", "node1@localhost", "node2@localhost"]
ENV = {"KV_STORE_POLL": "0.5", "KV_STORE_HOSTS": None, "KV_STORE_HOSTS_FILE": None}


def start(nodes, name):
    return nodes.start("kv", "--ticktime", "2", "-S", "kv_store", name=name, cwd=PROJECT, env=ENV)


def others(n):
    return sorted(eval(n.value("Node.list()")))


def registered(short):
    return short in [name for name, _port in _epmd.names()]


def test_kv_store_steps_on_three_nodes(nodes):
    n0, n1, n2 = (start(nodes, name) for name in NAMES)
    for n in (n0, n1, n2):  # step 3: the Epmd strategy joins them, nobody pings
        wait_for(lambda n=n: others(n) == sorted(set(NAMES) - {n.name}), what=f"{n.name} to see the others")
    n0.wait_output("cluster local: connected to node1@localhost")

    # step 1: the local MapServer
    assert n0.value("kv_store.MapServer.put('a', 5)") == "'ok'"
    assert n0.value("kv_store.MapServer.get('a')") == "5"
    assert n0.value("kv_store.MapServer.get('nothing')") == "None"
    # step 2: the same calls, addressed to another node
    assert n1.value("kv_store.MapServer.put('node0@localhost', 'b', 7)") == "'ok'"
    assert n0.value("kv_store.MapServer.get('b')") == "7"
    assert n1.value("kv_store.MapServer.get('node0@localhost', 'b')") == "7"
    assert n1.value("kv_store.MapServer.get('b')") == "None"  # not replicated: n1's own map
    # step 4: replicated writes, local reads
    assert n0.value("kv_store.put('k', 1)") == "'ok'"
    assert [n.value("kv_store.get('k')") for n in (n0, n1, n2)] == ["1", "1", "1"]
    # a replica without its MapServer: the write says so
    n2.eval("Supervisor.terminate_child('kv_store.Supervisor', 'MapServer')")
    assert n0.value("kv_store.put('k', 2)") == "('error', \"didn't write to all replicas\")"
    assert n2.value("Supervisor.restart_child('kv_store.Supervisor', 'MapServer')[0]") == "'ok'"
    assert n2.value("kv_store.get('k')") == "2"  # step 5 already: it resynced on start

    # step 5: a node killed and restarted comes back with the cluster's data
    n1.proc.kill()
    n1.proc.wait()
    wait_for(lambda: others(n0) == ["node2@localhost"], what="node0 to see node1 down")
    assert n0.value("kv_store.put('while_down', 'x')") == "'ok'"
    wait_for(lambda: not registered("node1"), what="node1's name to be free again")
    n1 = start(nodes, "node1@localhost")
    assert n1.value("kv_store.get('while_down')") == "'x'"
    assert n1.value("kv_store.get('k')") == "2"
    assert others(n1) == ["node0@localhost", "node2@localhost"]
    n0.wait_output("cluster local: disconnected from node1@localhost")


def test_hosts_come_from_the_environment(nodes, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# the lab\nnode0@localhost\nnode2@localhost   # not node1\n")
    env = dict(ENV, KV_STORE_HOSTS_FILE=str(hosts))
    n0 = nodes.start("kv", "-S", "kv_store", name="node0@localhost", cwd=PROJECT, env=env)
    assert n0.value("kv_store.application.hosts()") == "['node0@localhost', 'node2@localhost']"
    env = dict(ENV, KV_STORE_HOSTS="kv@bot00, kv@bot01")
    n1 = nodes.start("kv", "-S", "kv_store", name="node1@localhost", cwd=PROJECT, env=env)
    assert n1.value("kv_store.application.hosts()") == "['kv@bot00', 'kv@bot01']"
