"""A network partition between hosts: packets dropped, no socket closed.

Nothing tells either side the other is gone except silence, so only the
heartbeats (ZMTP PING/PONG on every DEALER, every ticktime/4) can notice:
each side must declare the other down within the ticktime, fail calls
pending on it with nodedown and fire Node.monitor; after the heal the mesh
must re-form by itself (the kv_store app's Epmd strategy polls). What the
kv_store does meanwhile is asserted too: docs/deployment.md tells it.
"""

import re
import time

import netlab
import pytest
from conftest import ROOT, wait_for
from labfixtures import lab_nodes_fixture, make_lab_fixture, needs_netns  # noqa: F401 (pytest finds the fixtures here)

pytestmark = [*needs_netns, pytest.mark.timeout(150)]

APP_DIR = ROOT / "examples" / "kv_store"
TICK = 2.0
POLL = 0.5  # the Epmd strategy's polling interval (KV_STORE_POLL)
SLACK = 1.0  # a loaded 2-core machine: scheduling, the I/O thread, the watcher printing

# These processes print while the test evaluates other things on the node: each line is
# one write, so it never lands inside the line of a value (print writes text and newline apart)
WATCH = """
import sys as _sys, time as _t
def _watch():
    Node.monitor_nodes(True)
    while True:
        kind, who = receive()
        _sys.stdout.write(f"EVENT {kind} {who} {_t.time():.3f}\\n")
spawn(_watch)
"""

PENDING = """
import sys as _sys
def _pending(peer):
    try:
        rpc.call(peer, lambda: __import__('time').sleep(60), timeout=60)
        _sys.stdout.write("PENDING returned\\n")
    except Exception as err:
        _sys.stdout.write(f"PENDING failed {err.reason[0]!r} {__import__('time').time():.3f}\\n")
"""


def _event_time(node, kind, who, after):
    pattern = re.compile(rf"EVENT {kind} {re.escape(who)} ([0-9.]+)")
    found = [float(t) for t in pattern.findall(node.output) if float(t) >= after]
    return found[0] if found else None


def _detected(watchers, t0):
    """{"a sees c down": seconds after t0} once every pair saw it, else None."""
    took = {}
    for x, y in watchers:
        t = _event_time(x, "nodedown", y.name, t0)
        if t is None:
            return None
        took[f"{x.name[0]} sees {y.name[0]} down"] = round(t - t0, 3)
    return took


def test_partition_detected_within_ticktime_and_mesh_reforms(make_lab, lab_nodes):
    lab = make_lab(3)
    h1, h2, h3 = lab.hosts
    ln = lab_nodes(lab)
    names = [f"{n}@{h.ip}" for n, h in zip("abc", lab.hosts, strict=True)]
    env = {"KV_STORE_HOSTS": ",".join(names), "KV_STORE_POLL": str(POLL)}
    a, b, c = (
        ln.start(h, name, "--ticktime", str(TICK), "-S", "kv_store", env=env, cwd=APP_DIR)
        for h, name in zip(lab.hosts, names, strict=True)
    )
    A, B, C = names
    for n in (a, b, c):
        n.eval(WATCH)
    wait_for(lambda: all(n.value("len(Node.list())") == "2" for n in (a, b, c)), what="the full mesh")
    figures = []

    # nftables drops inside each host, then a split bridge (iproute2 only).
    methods = ["nft", "bridge"] if netlab.has_nft() else ["bridge"]
    for method in methods:
        first = method == methods[0]
        # A call from a to c is pending, and a monitors c by name, when the cable is cut.
        a.eval(PENDING + f"spawn(_pending, {C!r})")
        a.eval(f"Node.monitor({C!r})")
        c.eval(f"rpc.call({A!r}, lambda: 'warm')")  # traffic both ways right before
        t0 = time.time()
        lab.partition([[h1, h2], [h3]], method=method)
        if first:
            # A write while c is unreachable but not yet known to be: the
            # replicas that answer keep it, the caller is told it failed.
            assert a.value("kv_store.put('y', 1)") == repr(("error", "didn't write to all replicas"))

        took = wait_for(
            lambda t0=t0: _detected([(a, c), (b, c), (c, a), (c, b)], t0),
            timeout=TICK * 5,
            what=f"nodedown on both sides ({method} partition)",
        )
        figures.append((method, took))
        # Heartbeats every TICK/4 bound detection to [3/4, 1] x TICK after the last packet.
        assert min(took.values()) >= 0.75 * TICK - 0.1 and max(took.values()) <= TICK + SLACK, took
        # The pending call failed with nodedown; the monitor fired; a and b still talk.
        a.wait_output("PENDING failed ('nodedown'")
        a.eval("m = receive(timeout=5, match=lambda m: m[0] == 'nodedown')")
        assert a.value("m") == repr(("nodedown", C))
        assert a.value("Node.list()") == repr([B]) and c.value("Node.list()") == "[]"
        assert a.value(f"Node.ping({C!r})") == "'pang'"
        if first:
            assert [n.value("kv_store.get('y')") for n in (a, b, c)] == ["1", "1", "None"]
            # Each side now writes to the replicas it can see, and succeeds.
            assert a.value("kv_store.put('x', 'left')") == "'ok'"
            assert c.value("kv_store.put('x', 'right')") == "'ok'"

        t1 = time.time()
        lab.heal()
        # Nobody types Node.connect: the Epmd strategy re-forms the mesh.
        wait_for(
            lambda: all(n.value("len(Node.list())") == "2" for n in (a, b, c)),
            timeout=POLL * 10 + 10,
            what="the full mesh after the heal",
        )
        figures.append((method, {"mesh re-formed after heal": round(time.time() - t1, 3)}))
        assert c.value(f"rpc.call({B!r}, lambda: node())") == repr(B)
        if first:
            # Healing reconciles nothing: both sides keep their own value until the
            # next put overwrites it everywhere.
            assert [n.value("kv_store.get('x')") for n in (a, b, c)] == ["'left'", "'left'", "'right'"]
            assert c.value("kv_store.put('x', 'after')") == "'ok'"
            assert [n.value("kv_store.get('x')") for n in (a, b, c)] == ["'after'"] * 3

    print("\nFIGURES", figures)
