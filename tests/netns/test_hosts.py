"""Three hosts (network namespaces), one node each, long names: what the
lecture's notes show on one machine, across machines.

Each host runs its own name server (started by its node, inside the host);
node names carry the host's fully qualified name or its IP address.
"""

import netlab
import pytest
from conftest import base_env, pydist_cmd, wait_for
from labfixtures import lab_nodes_fixture, make_lab_fixture, needs_netns  # noqa: F401 (pytest finds the fixtures here)

pytestmark = [*needs_netns, pytest.mark.timeout(120)]


def test_three_hosts_ping_mesh_spawn_rpc(make_lab, lab_nodes):
    lab = make_lab(3)
    h1, h2, h3 = lab.hosts
    ln = lab_nodes(lab)
    # One by FQDN (resolved through the host's /etc/hosts), two by IP address.
    a = ln.start(h1, f"a@{h1.fqdn}")
    b = ln.start(h2, f"b@{h2.ip}")
    c = ln.start(h3, f"c@{h3.ip}")
    assert a.value("node()") == repr(f"a@{h1.fqdn}")

    # Every host has its own name server, answering look-ups from the others.
    for host, name in ((h1, "a"), (h2, "b"), (h3, "c")):
        out = lab.run(host, ["python3", "-m", "pydist", "epmd", "--names"], env=base_env()).stdout
        assert f"name {name} at port" in out and out.count("name ") == 1, out

    assert a.value(f"Node.ping('b@{h2.ip}')") == "'pong'"
    assert c.value(f"Node.ping('b@{h2.ip}')") == "'pong'"
    # Transitive: c's connection to b brought a along, across three hosts.
    wait_for(
        lambda: a.value("sorted(Node.list())") == repr(sorted([f"b@{h2.ip}", f"c@{h3.ip}"])), what="a to see b and c"
    )
    wait_for(
        lambda: c.value("sorted(Node.list())") == repr(sorted([f"a@{h1.fqdn}", f"b@{h2.ip}"])), what="c to see a and b"
    )

    # Node.spawn on another host: the output comes home to the caller.
    a.eval(f"pid = Node.spawn('c@{h3.ip}', lambda: print('hello from', node()))")
    a.wait_output(f"hello from c@{h3.ip}")
    assert "hello from" not in c.output

    # rpc.call across namespaces: the value, and the remote host's view of itself.
    assert c.value(f"rpc.call('a@{h1.fqdn}', lambda x: (x * 2, node()), 21)") == repr((42, f"a@{h1.fqdn}"))
    ip_seen = b.value(f"rpc.call('c@{h3.ip}', lambda: __import__('socket').gethostbyname('{h3.fqdn}'))")
    assert ip_seen == repr(h3.ip)


def test_short_and_long_names_refuse_each_other(make_lab, lab_nodes):
    lab = make_lab(2)
    h1, h2 = lab.hosts
    ln = lab_nodes(lab)
    long_node = ln.start(h1, f"l@{h1.ip}")
    short_node = ln.start(h2, "s@h2", flag="--sname")
    assert short_node.value(f"Node.ping('l@{h1.ip}')") == "'pang'"
    short_node.wait_output("nodes started with --name and --sname cannot talk to each other")
    assert long_node.value("Node.ping('s@h2')") == "'pang'"
    long_node.wait_output("nodes started with --name and --sname cannot talk to each other")


@pytest.mark.skipif(not netlab.has_nft(), reason="needs nft (Debian package nftables)")
def test_behind_a_firewall_with_fixed_ports(make_lab, lab_nodes):
    """docs/deployment.md: open the name server's port and the nodes' --port range, nothing else."""
    lab = make_lab(2)
    h1, h2 = lab.hosts
    ln = lab_nodes(lab)
    epmd = int(base_env()["PYDIST_EPMD_PORT"])
    tick = ("--ticktime", "2")
    lab.firewall(h1, [epmd, "9100-9101"])
    a = ln.start(h1, f"a@{h1.ip}", "--port", "9100-9101", *tick)
    ln.start(h1, f"a2@{h1.ip}", "--port", "9100-9101", *tick)
    b = ln.start(h2, f"b@{h2.ip}", *tick)
    out = lab.run(h1, pydist_cmd("epmd", "--names"), env=base_env()).stdout
    assert "name a at port 9100" in out and "name a2 at port 9101" in out, out
    # The range is full: a third node says so instead of starting on a random port.
    r = lab.run(h1, pydist_cmd("--name", f"a3@{h1.ip}", "--port", "9100-9101", "-e", "1"), env=base_env())
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("pydist: no free port for this node in 9100-9101 (Address already in use")

    assert b.value(f"Node.ping('a@{h1.ip}')") == "'pong'"
    assert b.value(f"rpc.call('a2@{h1.ip}', lambda: node())") == repr(f"a2@{h1.ip}")
    assert a.value(f"rpc.call('b@{h2.ip}', lambda: node())") == repr(f"b@{h2.ip}")
    # Proof that the firewall is real: a node on a port outside the range is unreachable.
    ln.start(h1, f"c@{h1.ip}", *tick)
    assert b.value(f"Node.ping('c@{h1.ip}')") == "'pang'"
    assert a.value(f"Node.ping('c@{h1.ip}')") == "'pong'"  # same host: loopback is open


def test_a_name_the_other_host_cannot_resolve_is_explained(make_lab, lab_nodes):
    """kv@some.fqdn only works where some.fqdn resolves: the refusing side says so."""
    lab = make_lab(2)
    h1, h2 = lab.hosts
    ln = lab_nodes(lab)
    b = ln.start(h2, f"b@{h2.ip}", "--ticktime", "2")
    x = ln.start(h1, "x@nowhere.invalid", "--ticktime", "2")  # .invalid never resolves
    assert x.value(f"Node.ping('b@{h2.ip}')") == "'pang'"
    b.wait_output("refused a connection from x@nowhere.invalid: its host nowhere.invalid does not resolve on this host")
    assert "Traceback" not in b.output
