"""A network partition between hosts: packets dropped, no socket closed.

Nothing tells either side the other is gone except silence, so only the
heartbeats (ZMTP PING/PONG on every DEALER, every ticktime/4) can notice:
each side must declare the other down within the ticktime, fail calls
pending on it with nodedown and fire Node.monitor; after the heal the mesh
must re-form.
"""

import re
import time

import pytest

from conftest import wait_for
from labfixtures import lab_nodes, make_lab, needs_netns  # noqa: F401 (fixtures)

pytestmark = [*needs_netns, pytest.mark.timeout(150)]

TICK = 2.0
SLACK = 0.3   # a loaded 2-core machine: scheduling, the I/O thread, the watcher printing

WATCH = """
import time as _t
def _watch():
    Node.monitor_nodes(True)
    while True:
        kind, who = receive()
        print(f"EVENT {kind} {who} {_t.time():.3f}", flush=True)
spawn(_watch)
"""

PENDING = """
def _pending(peer):
    try:
        rpc.call(peer, lambda: __import__('time').sleep(60), timeout=60)
        print("PENDING returned", flush=True)
    except Exception as err:
        print(f"PENDING failed {err.reason[0]!r} {__import__('time').time():.3f}", flush=True)
"""


def _event_time(node, kind, who, after):
    pattern = re.compile(rf"EVENT {kind} {re.escape(who)} ([0-9.]+)")
    found = [float(t) for t in pattern.findall(node.output)]
    found = [t for t in found if t >= after]
    return found[0] if found else None


def test_partition_detected_within_ticktime_and_mesh_reforms(make_lab, lab_nodes):
    lab = make_lab(3)
    h1, h2, h3 = lab.hosts
    ln = lab_nodes(lab)
    tick = ("--ticktime", str(TICK))
    a = ln.start(h1, f"a@{h1.ip}", *tick)
    b = ln.start(h2, f"b@{h2.ip}", *tick)
    c = ln.start(h3, f"c@{h3.ip}", *tick)
    A, B, C = (n.name for n in (a, b, c))
    for n in (a, b, c):
        n.eval(WATCH)
    assert a.value(f"Node.ping({C!r})") == "'pong'" and a.value(f"Node.ping({B!r})") == "'pong'"
    wait_for(lambda: c.value("len(Node.list())") == "2", what="the full mesh")
    figures = []

    for method in ("nft", "bridge"):
        # A call from a to c is pending, and a monitors c by name, when the cable is cut.
        a.eval(PENDING + f"spawn(_pending, {C!r})")
        a.eval(f"Node.monitor({C!r})")
        c.eval(f"rpc.call({A!r}, lambda: 'warm')")   # traffic both ways right before
        t0 = time.time()
        lab.partition([[h1, h2], [h3]], method=method)

        wait_for(lambda: _event_time(a, "nodedown", C, t0) and _event_time(c, "nodedown", A, t0)
                 and _event_time(c, "nodedown", B, t0) and _event_time(b, "nodedown", C, t0),
                 timeout=TICK * 5, what=f"nodedown on both sides ({method} partition)")
        took = {f"{x.name[0]} sees {y[0]} down": _event_time(x, "nodedown", y, t0) - t0
                for x, y in ((a, C), (b, C), (c, A), (c, B))}
        figures.append((method, took))
        # Heartbeats every TICK/4 bound detection to [3/4, 1] x TICK after the last packet.
        assert 0.75 * TICK - 0.1 <= min(took.values()) and max(took.values()) <= TICK + SLACK, took
        # The pending call failed with nodedown; the monitor fired; a and b still talk.
        a.wait_output("PENDING failed ('nodedown'")
        a.eval("m = receive(timeout=5, match=lambda m: m[0] == 'nodedown')")
        assert a.value("m") == repr(("nodedown", C))
        assert a.value("Node.list()") == repr([B]) and c.value("Node.list()") == "[]"
        assert a.value(f"Node.ping({C!r})") == "'pang'"

        lab.heal()
        # Healing: one connect re-forms the full mesh (transitively).
        t1 = time.time()
        wait_for(lambda: c.value(f"Node.connect({A!r})") == "True", timeout=15, what="reconnect")
        wait_for(lambda: all(n.value("len(Node.list())") == "2" for n in (a, b, c)),
                 timeout=15, what="the full mesh after the heal")
        figures.append((method, {"mesh re-formed after heal": time.time() - t1}))
        assert c.value(f"rpc.call({B!r}, lambda: node())") == repr(B)

    print("\nFIGURES", figures)
