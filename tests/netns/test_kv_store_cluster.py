"""The lecture's step 6: the kv_store on five machines (kv@h1.netlab.test ...
kv@h5.netlab.test, like the lecture's kv@bot00 ... kv@bot04), each host
with its own name server, joined by the app's Epmd strategy with --name.
"""

import pytest
from conftest import ROOT, wait_for
from labfixtures import lab_nodes_fixture, make_lab_fixture, needs_netns  # noqa: F401 (pytest finds the fixtures here)

pytestmark = [*needs_netns, pytest.mark.timeout(150)]

APP_DIR = ROOT / "examples" / "kv_store"


def kv_env(names, poll=0.5):
    """The host list is configuration (examples/kv_store/kv_store/application.py)."""
    return {"KV_STORE_HOSTS": ",".join(names), "KV_STORE_POLL": str(poll)}


def full_mesh(nodes, size):
    return all(n.value("len(Node.list())") == str(size - 1) for n in nodes)


def test_kv_store_on_five_hosts(make_lab, lab_nodes):
    lab = make_lab(5)
    ln = lab_nodes(lab)
    names = [f"kv@{h.fqdn}" for h in lab.hosts]
    env = kv_env(names)
    kv = [ln.start(h, name, "-S", "kv_store", env=env, cwd=APP_DIR) for h, name in zip(lab.hosts, names, strict=True)]
    # Nobody typed Node.connect: the Epmd strategy joined all five.
    wait_for(lambda: full_mesh(kv, 5), timeout=30, what="the five nodes to mesh by themselves")

    assert kv[0].value("kv_store.put('a', 1)") == "'ok'"
    assert [n.value("kv_store.get('a')") for n in kv] == ["1"] * 5
    assert kv[4].value(f"kv_store.MapServer.get({names[1]!r}, 'a')") == "1"

    # Host 3's node dies (kill -9): the others see it down at once, and writes
    # go on to the four replicas left.
    kv[2].signal(9)
    wait_for(lambda: kv[0].value("len(Node.list())") == "3", what="kv@h3 to be seen down")
    assert kv[1].value("kv_store.put('b', 2)") == "'ok'"

    # It comes back: the strategies reconnect it, and its MapServer resyncs.
    kv[2] = ln.start(lab.hosts[2], names[2], "-S", "kv_store", env=env, cwd=APP_DIR)
    assert kv[2].value("(kv_store.get('a'), kv_store.get('b'))") == "(1, 2)"
    wait_for(lambda: full_mesh(kv, 5), timeout=30, what="the mesh to re-form with the new kv@h3")
    assert kv[2].value("kv_store.put('c', 3)") == "'ok'"
    assert [n.value("kv_store.get('c')") for n in kv] == ["3"] * 5
