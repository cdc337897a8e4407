"""Cluster strategies: nodes of a topology find each other, and find a
restarted node again by polling, with one log line per connect/disconnect."""

import socket
import subprocess
import textwrap

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique, wait_for

pytestmark = pytest.mark.timeout(120)

HOST = socket.gethostname().split(".")[0]


def epmd_app(folder, hosts, interval=0.3):
    (folder / "clus.py").write_text(
        textwrap.dedent(f"""
        topologies = {{"lab": {{"strategy": "Epmd",
                               "config": {{"hosts": {hosts!r}, "polling_interval": {interval}}}}}}}
        def children():
            return []
    """)
    )


def connected(n, *others):
    return set(eval(n.value("Node.list()"))) == {o.full for o in others}


def test_epmd_strategy_forms_the_cluster_and_rejoins_a_restarted_node(nodes, tmp_path):
    names = [f"{unique(p)}@{HOST}" for p in ("x", "y", "z")]
    epmd_app(tmp_path, names)
    x, y, z = (nodes.start("n", "--ticktime", "2", "-S", "clus", name=n, cwd=tmp_path) for n in names)
    for me, others in ((x, (y, z)), (y, (x, z)), (z, (x, y))):
        wait_for(lambda me=me, others=others: connected(me, *others), what=f"{me.name} to see the other two")
    x.wait_output(f"cluster lab: connected to {y.full}")
    # z dies: the others log it; z comes back as a bare node (no app): their polling finds it
    z.proc.kill()
    z.proc.wait()
    x.wait_output(f"cluster lab: disconnected from {z.full} (retrying every 0.3 s)")
    wait_for(lambda: connected(x, y), what="x to drop z")
    z2 = nodes.start(name=names[2], cwd=tmp_path)
    wait_for(lambda: connected(z2, x, y), what="the restarted z to be found by the others' polling")
    wait_for(lambda: x.output.count(f"cluster lab: connected to {z.full}") == 2, what="x to log z's rejoin")


def test_local_epmd_strategy_and_a_node_that_is_not_distributed(nodes, tmp_path):
    (tmp_path / "loc.py").write_text(
        textwrap.dedent("""
        topologies = {"here": {"strategy": "LocalEpmd", "config": {"polling_interval": 0.3}}}
        def children():
            return []
    """)
    )
    plain = nodes.start("p", cwd=tmp_path)
    a = nodes.start("a", "-S", "loc", cwd=tmp_path)
    wait_for(lambda: plain.full in eval(a.value("Node.list()")), what="LocalEpmd to find a local node")
    late = nodes.start("q", cwd=tmp_path)  # started after: found by the next poll
    wait_for(lambda: late.full in eval(a.value("Node.list()")), what="LocalEpmd to find a later node")
    a.wait_output(f"cluster here: connected to {late.full}")
    # without a node name there is no cluster to join: one warning, the app still starts
    r = subprocess.run(
        pydist_cmd("-S", "loc", "-e", "print(Application.started_applications())"),
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0 and "['loc']" in r.stdout
    assert "cluster here: this node is not distributed, so it joins no cluster" in r.stderr
