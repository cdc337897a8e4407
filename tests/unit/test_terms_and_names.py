"""Pure units: identities, names, cookies, shipping functions."""

import pickle
import threading

import pytest

import pydist
from pydist import Exit, Pid, Ref
from pydist._base.names import make_own_name, qualify, split
from pydist._net.cookie import curve_keys
from pydist._net.pickling import dumps_call


def test_pid_and_ref_are_readable_immutable_and_travel():
    pid = Pid("foo@vm", 42, 7)
    assert repr(pid) == "#PID<foo@vm.42>"
    assert type(pid).__module__ == "pydist" and Ref.__module__ == "pydist" and Exit.__module__ == "pydist"
    assert pickle.loads(pickle.dumps(pid)) == pid and hash(pickle.loads(pickle.dumps(pid))) == hash(pid)
    assert pid != Pid("foo@vm", 42, 8)  # another incarnation of the node
    with pytest.raises(AttributeError):
        pid.id = 3
    ref = Ref("foo@vm", 1)
    assert repr(ref) == "#Reference<foo@vm.1>" and pickle.loads(pickle.dumps(ref)) == ref


def test_exit_keeps_reason_and_message_across_pickle():
    e = Exit(("noproc", ("GenServer", "call", ["x", 1, 5.0])), "no process")
    e2 = pickle.loads(pickle.dumps(e))
    assert e2.reason == e.reason and str(e2) == "no process"


def test_names():
    assert split("foo@vm") == ("foo", "vm")
    with pytest.raises(ValueError):
        split("foo")
    assert make_own_name("kv@localhost", None) == ("kv@localhost", False)
    assert make_own_name(None, "kv@198.18.0.2") == ("kv@198.18.0.2", True)
    assert qualify("bar", "foo@vm") == "bar@vm" and qualify("bar@x", "foo@vm") == "bar@x"
    with pytest.raises(pydist.PydistError, match="fully qualified"):
        make_own_name(None, "kv@vm")
    with pytest.raises(pydist.PydistError, match="without dots"):
        make_own_name("kv@a.b.c", None)
    with pytest.raises(pydist.PydistError, match="bad node name ''"):
        make_own_name("", None)


def test_cookie_keys_are_deterministic_and_distinct():
    assert curve_keys("a") == curve_keys("a")
    assert curve_keys("a") != curve_keys("b")
    pub, sec = curve_keys("a")
    assert len(pub) == 40 and len(sec) == 40


def test_unpicklable_closure_names_the_variable():
    lock = threading.Lock()

    def f():
        return lock

    with pytest.raises(TypeError, match=r"cannot send .*f to bar@vm: it uses 'lock', a lock"):
        dumps_call(f, (), "bar@vm")
    with pytest.raises(TypeError, match="argument 1"):
        dumps_call(print, (threading.Lock(),), "bar@vm")
