"""Every public name is ``pydist.<name>``: what it reports, and what it pickles as.

Classes travel between nodes by reference (a pickled ``Exit`` says
``pydist.Exit``), so the name a class claims must be one every node can
import: the facade, not a private module that may move. Checked over
``pydist.__all__`` and the names the facade loads on first use.
"""

import pickle
import subprocess
import sys

import pytest

import pydist

PUBLIC = sorted({n for n in pydist.__all__ if n != "__version__"} | set(pydist._LAZY))
CLASSES = [n for n in PUBLIC if isinstance(getattr(pydist, n), type)]

# constructor arguments for an instance of each error that needs more than a message
ERROR_ARGS = {
    "Exit": (("noproc", ("GenServer", "call", ["kv", "get", 5.0])), "GenServer.call to 'kv' failed: no process"),
    "RemoteError": ("b@vm", "KeyError", "'k'", 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError'),
}


def test_the_lazy_names_include_the_application_error():
    assert "ApplicationError" in PUBLIC
    assert issubclass(pydist.ApplicationError, pydist.PydistError)


@pytest.mark.parametrize("name", CLASSES)
def test_a_public_class_claims_pydist_and_pickles_as_itself(name):
    cls = getattr(pydist, name)
    assert (cls.__module__, cls.__qualname__) == ("pydist", name)
    assert getattr(pydist, cls.__qualname__) is cls
    assert pickle.loads(pickle.dumps(cls)) is cls
    assert b"cpydist\n" + name.encode() + b"\n" in pickle.dumps(cls, protocol=0)  # by reference, as pydist.<name>


@pytest.mark.parametrize("name", [n for n in CLASSES if issubclass(getattr(pydist, n), BaseException)])
def test_a_public_error_instance_round_trips(name):
    cls = getattr(pydist, name)
    err = cls(*ERROR_ARGS.get(name, ("the message says what to do next",)))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == str(err) and back.args == err.args
    if name == "Exit":
        assert back.reason == err.reason


def test_terms_round_trip():
    pid, ref = pydist.Pid("a@vm", 7, 3), pydist.Ref("a@vm", 9)
    assert pickle.loads(pickle.dumps(pid)) == pid and pickle.loads(pickle.dumps(ref)) == ref


@pytest.mark.parametrize("name", [n for n in PUBLIC if n not in CLASSES])
def test_a_public_function_pickles_as_itself(name):
    fn = getattr(pydist, name)
    assert pickle.loads(pickle.dumps(fn)) is fn


def test_a_fresh_interpreter_unpickles_every_class_and_error():
    # as another node would: nothing imported but what the pickle names (the lazy ones included)
    blob = pickle.dumps(
        [getattr(pydist, n) for n in CLASSES]
        + [pydist.Exit(*ERROR_ARGS["Exit"]), pydist.ApplicationError("-S app: the application did not start")]
    )
    code = (
        "import pickle, sys; objs = pickle.loads(sys.stdin.buffer.read()); "
        "print(' '.join(o.__name__ for o in objs[:-2])); print(str(objs[-2])); print(repr(objs[-1]))"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stdout.decode().splitlines()
    assert lines == [
        " ".join(CLASSES),
        ERROR_ARGS["Exit"][1],
        "ApplicationError('-S app: the application did not start')",
    ]
