"""pg on real nodes: members seen from every node, members that go with their process
or node, join/leave messages, named scopes, and a node that starts using pg late."""

import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique, wait_for

pytestmark = pytest.mark.timeout(180)


def cluster(*ns):
    for n in ns[1:]:
        assert n.value(f"Node.ping({ns[0].full!r})") == "'pong'"
    wait_for(lambda: all(len(eval(n.value("Node.list()"))) == len(ns) - 1 for n in ns), what="a full mesh")


def members(n, group="workers", scope="pg"):
    return n.value(f"sorted(str(p) for p in pg.get_members({group!r}, scope={scope!r}))")


def test_members_of_every_node(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    for n in (a, b, c):
        n.eval("w = spawn(receive)")
        assert n.value("pg.join('workers', w)") == "'ok'"
    every = sorted(eval(n.value("str(w)")) for n in (a, b, c))
    for n in (a, b, c):
        wait_for(lambda n=n: eval(members(n)) == every, what=f"{n.name} to see all three workers")
    assert b.value("pg.get_local_members('workers') == [w]") == "True"
    assert c.value("pg.which_groups()") == "['workers']"
    # a process may join twice and leaves once per leave
    a.eval("pg.join('workers', [w])")
    wait_for(lambda: len(eval(members(b))) == 4, what="the second membership")
    assert a.value("pg.leave('workers', w)") == "'ok'"
    wait_for(lambda: eval(members(b)) == every, what="one membership left")
    assert a.value("pg.leave('workers', w)") == "'ok'"
    assert a.value("pg.leave('workers', w)") == "'not_joined'"
    wait_for(lambda: len(eval(members(c))) == 2, what="a's worker gone from c's view")
    out, ok = a.try_eval(f"pg.join('workers', rpc.call({b.full!r}, spawn, receive))")
    assert not ok and "only processes of this node can join here" in out and "rpc.call(" in out


def test_members_go_with_their_process_and_their_node(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    for n in (a, b, c):
        n.eval("w = spawn(receive)\npg.join('workers', w)")
    wait_for(lambda: len(eval(members(a))) == 3, what="three workers")
    b.eval("send(w, 'stop')")  # the member exits: it leaves everywhere
    wait_for(lambda: len(eval(members(a))) == 2 and len(eval(members(c))) == 2, what="b's worker to leave")
    c.proc.kill()  # its node goes: its members go with it
    wait_for(lambda: eval(members(a)) == [eval(a.value("str(w)"))], what="c's worker to go with its node")


def test_monitor_gets_join_and_leave_messages(nodes):
    a, b, c = nodes.start("a"), nodes.start("b"), nodes.start("c")
    cluster(a, b, c)
    a.eval("ref, now = pg.monitor('workers')")
    assert a.value("now") == "[]"
    b.eval("w = spawn(receive)\npg.join('workers', w)")
    assert a.value("receive(10, lambda m: m[0] == ref)[1:3]") == "('join', 'workers')"
    c.eval("w = spawn(receive)\npg.join('workers', w)")
    joined = a.value("receive(10, lambda m: m[0] == ref)")
    assert "'join', 'workers', [" in joined and c.full in joined
    b.eval("pg.leave('workers', w)")
    left = a.value("receive(10, lambda m: m[0] == ref)")
    assert "'leave', 'workers', [" in left and b.full in left
    c.proc.kill()
    left = a.value("receive(30, lambda m: m[0] == ref)")
    assert "'leave', 'workers', [" in left and c.full in left
    assert a.value("pg.demonitor(ref)") == "'ok'"
    a.eval("mine = spawn(receive)\npg.join('workers', mine)")
    out, ok = a.try_eval("receive(0.5, lambda m: m[0] == ref)")
    assert not ok and "TimeoutError" in out  # no more messages after demonitor
    a.eval("sref, groups = pg.monitor_scope()")
    assert a.value("list(groups)") == "['workers']"
    b.eval("pg.join('other', w)")
    assert a.value("receive(10, lambda m: m[0] == sref)[1:3]") == "('join', 'other')"


def test_named_scopes_are_separate(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    cluster(a, b)
    for n in (a, b):
        assert n.value("pg.start('chat')[0]") == "'ok'"
    a.eval("w = spawn(receive)\npg.join('room', w, scope='chat')")
    wait_for(lambda: len(eval(members(b, "room", "chat"))) == 1, what="b to see the chat member")
    assert b.value("pg.get_members('room')") == "[]"  # the default scope has no such member
    assert b.value("pg.which_groups(scope='chat')") == "['room']"


def test_a_node_that_starts_using_pg_late_sees_the_members_at_once(nodes):
    a, b = nodes.start("a"), nodes.start("b")
    cluster(a, b)
    a.eval("w = spawn(receive)\npg.join('g', w)")
    # b's scope server starts now; it fetches a's members before answering
    assert b.value("[str(p) for p in pg.get_members('g')]") == f"[{a.value('str(w)')}]"
    code = f"Node.ping({a.full!r})\nprint(len(pg.get_members('g')))"
    out = subprocess.run(
        pydist_cmd("--sname", unique("e"), "-e", code), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
