"""Step 7 (kv_store/step7.py) on real local nodes started as a student starts
them: ``pydist --sname nodeN@localhost -S kv_store.step7`` from this folder.

The faults across hosts (kill -9, SIGSTOP, partitions, under continuous
writes, against step 5) are tests/netns/test_kv_store_step7.py.
"""

import re
from pathlib import Path

import pytest
from pydist_tests_conftest import wait_for

pytestmark = pytest.mark.timeout(180)

PROJECT = Path(__file__).resolve().parents[1]
NAMES = ["node0@localhost", "node1@localhost", "node2@localhost"]
SUP = "'kv_store.step7.Supervisor'"


LOG = re.compile(r"^\[(debug|info|warning|error)\] ")


def val(n, src: str) -> str:
    """The repr of ``src``'s value on ``n``: its last output line that is not a log line."""
    lines = [line for line in n.eval(src).splitlines() if not LOG.match(line)]
    return lines[-1] if lines else None


def start(nodes, name, sync="0.3", **env):
    env = {"KV_STORE_HOSTS": ",".join(NAMES), "KV_STORE_POLL": "0.5", "KV_STORE_SYNC": sync, **env}
    return nodes.start("kv", "--ticktime", "2", "-S", "kv_store.step7", name=name, cwd=PROJECT, env=env)


def cluster(nodes, **kw):
    ns = [start(nodes, name, **kw) for name in NAMES]
    for n in ns:
        wait_for(lambda n=n: val(n, "len(Node.list())") == "2", what=f"{n.name} to see the others")
    return ns


def peers(n) -> int:
    return int(val(n, "len(Node.list())"))


def converged(*ns) -> bool:
    """Equal maps everywhere (compared as dicts: their order is each replica's own)."""
    maps = [eval(val(n, "kv_store.step7.get_map()")) for n in ns]
    return all(m == maps[0] for m in maps)


def stop_replica(n):
    n.eval(f"Supervisor.terminate_child({SUP}, 'Replica')")


def restart_replica(n):
    assert val(n, f"Supervisor.restart_child({SUP}, 'Replica')[0]") == "'ok'"


def test_put_needs_a_majority_of_the_host_list(nodes):
    n0, n1, n2 = cluster(nodes)
    assert val(n0, "kv_store.step7.members()") == repr(NAMES)
    assert val(n0, "kv_store.step7.put('a', 1)") == "'ok'"
    for n in (n0, n1, n2):
        wait_for(lambda n=n: val(n, "kv_store.step7.get('a')") == "1", what=f"{n.name} to hold a")
    assert val(n2, "kv_store.step7.get('a', quorum=True)") == "1"

    # one replica down: 2 of 3 still acknowledge
    n2.proc.kill()
    n2.proc.wait()
    wait_for(lambda: peers(n0) == 1, what="node0 to see node2 down")
    assert val(n0, "kv_store.step7.put('b', 2)") == "'ok'"

    # two down: node0 alone refuses, and says who it could reach
    n1.proc.kill()
    n1.proc.wait()
    wait_for(lambda: peers(n0) == 0, what="node0 to see node1 down")
    refused = "('error', 'no quorum: 2 of 3 replicas needed, only 1 reachable (node0@localhost); nothing written')"
    assert val(n0, "kv_store.step7.put('c', 3)") == refused
    assert val(n0, "kv_store.step7.get('c')") == "None"  # not even here
    assert val(n0, "kv_store.step7.get('b', quorum=True)") == refused.replace("written", "read")

    # they come back empty; anti-entropy gives them what they missed
    n1, n2 = start(nodes, NAMES[1]), start(nodes, NAMES[2])
    for n in (n1, n2):
        wait_for(lambda n=n: val(n, "(kv_store.step7.get('a'), kv_store.step7.get('b'))") == "(1, 2)", what=f"{n.name}")
    assert val(n1, "kv_store.step7.put('c', 3)") == "'ok'"
    wait_for(
        lambda: converged(n0, n1, n2),
        what="the three maps to be equal",
    )
    assert eval(val(n2, "kv_store.step7.get_map()")) == {"a": 1, "b": 2, "c": 3}


def test_no_quorum_names_who_acknowledged_and_the_value_stays_there(nodes):
    n0, n1, n2 = cluster(nodes)
    stop_replica(n1)  # connected nodes whose Replica is gone never acknowledge
    stop_replica(n2)
    assert val(n0, "kv_store.step7.put('x', 1, timeout=1.0)") == repr(
        (
            "error",
            "no quorum: 1 of 3 replicas acknowledged (node0@localhost), 2 needed; no acknowledgement "
            "from node1@localhost, node2@localhost; it stays on the replicas that acknowledged",
        )
    )
    assert val(n0, "kv_store.step7.get('x')") == "1"
    restart_replica(n1)  # an error means "not on a majority", not "nowhere": anti-entropy spreads it
    wait_for(lambda: val(n1, "kv_store.step7.get('x')") == "1", what="node1 to get x from node0")


def test_the_quorum_counts_the_host_list_not_the_connected_nodes(nodes):
    n0 = start(nodes, NAMES[0])
    probe = nodes.start("probe")  # connected, but not in the host list (and no app)
    assert val(probe, f"Node.connect({NAMES[0]!r})") == "True"
    assert val(n0, "len(Node.list())") == "1"
    # step 4 would write to [node0, probe]; step 7 knows it is 1 of 3 replicas
    assert val(n0, "kv_store.step7.put('k', 1)") == repr(
        ("error", "no quorum: 2 of 3 replicas needed, only 1 reachable (node0@localhost); nothing written")
    )
    n1 = start(nodes, NAMES[1])
    wait_for(lambda: peers(n1) >= 1, what="node1 to join node0")
    assert val(n0, "kv_store.step7.put('k', 1)") == "'ok'"
    assert val(n1, "kv_store.step7.get('k')") == "1"


WRITER = """
import sys as _sys
def _writer(key, n):
    oks = 0
    for i in range(n):
        oks += kv_store.step7.put(key, (node(), i)) == 'ok'
        kv_store.step7.put(f'{node()}-{i}', i)
    _sys.stdout.write(f'WRITER done {oks}\\n')
"""


def test_concurrent_writers_of_one_key_converge_on_the_same_value(nodes):
    n0, n1, n2 = cluster(nodes)
    for n in (n0, n1):
        n.eval(WRITER)
    for n in (n0, n1):
        n.eval("spawn(_writer, 'x', 150)")
    for n in (n0, n1):
        n.wait_output("WRITER done 150", timeout=60)
    wait_for(
        lambda: converged(n0, n1, n2),
        what="the three maps to be equal",
    )
    versions = {val(n, "kv_store.step7.version('x')") for n in (n0, n1, n2)}
    assert len(versions) == 1  # the same version everywhere, so the same value
    value = eval(val(n2, "kv_store.step7.get('x')"))
    assert value[0] in NAMES[:2] and value[1] == 149  # one writer's last write: its clock only grows
    assert val(n2, "kv_store.step7.get('x', quorum=True)") == repr(value)
    assert len(eval(val(n2, "kv_store.step7.get_map()"))) == 1 + 2 * 150


def test_a_quorum_read_sees_the_write_this_node_missed(nodes):
    n0, _n1, n2 = cluster(nodes, sync="0")  # no anti-entropy: only reads repair
    assert val(n0, "kv_store.step7.put('a', 1)") == "'ok'"
    stop_replica(n2)
    assert val(n0, "kv_store.step7.put('a', 2)") == "'ok'"  # node0 and node1
    assert val(n0, "kv_store.step7.put('b', 3)") == "'ok'"
    restart_replica(n2)  # empty, and nothing brings it up to date by itself
    assert val(n2, "kv_store.step7.get('a')") == "None"
    assert val(n2, "kv_store.step7.get('a', quorum=True)") == "2"  # a majority includes a replica that has it
    wait_for(lambda: val(n2, "kv_store.step7.get('a')") == "2", what="read repair of node2's copy")
    assert val(n2, "kv_store.step7.get('b')") == "None"
    assert val(n2, "sorted(kv_store.step7.sync())") == repr(NAMES[:2])  # one round, by hand
    wait_for(lambda: val(n2, "kv_store.step7.get('b')") == "3", what="anti-entropy to bring b")
