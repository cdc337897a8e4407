"""Built-ins loaded on first use: `pydist -e` does not import Task, Global, pg... at start,
yet each acts as itself from the first line that uses it (and travels as itself)."""

import pickle
import subprocess
import sys

import cloudpickle

import pydist
from pydist._repl.namespace import BUILTIN_NAMES, LOADED_ON_USE, prompt_namespace

START = (
    "import sys; from pydist._repl.namespace import prompt_namespace; ns = prompt_namespace(); "
    "print(sorted(m for m in sys.modules if m.startswith(('pydist._otp.task', 'pydist._otp.global_', "
    "'pydist._otp.pg', 'pydist._api.erpc', 'pydist._api.info', 'pydist._otp.timer'))))"
)


def test_a_fresh_namespace_imports_none_of_them():
    out = subprocess.run([sys.executable, "-c", START], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_each_acts_as_itself_and_takes_its_place():
    assert set(BUILTIN_NAMES) >= LOADED_ON_USE
    ns = prompt_namespace()
    assert repr(ns["Global"]) == repr(pydist.Global)
    assert ns["Global"] is pydist.Global  # the first use put the real one in its place
    exec("t = Task.__name__\nok = isinstance(42, Task)", ns)
    assert ns["t"] == "Task" and ns["ok"] is False and ns["Task"] is pydist.Task
    ns = prompt_namespace()
    exec("class MyAgent(Agent):\n    pass\nsub = issubclass(MyAgent, Agent)", ns)
    assert ns["MyAgent"].__mro__[1] is pydist.Agent and ns["sub"] is True
    ns = prompt_namespace()
    assert "register_name" in dir(ns["Registry"]) and ns["Timer"] == pydist.Timer


def test_they_pickle_as_the_real_objects():
    ns = prompt_namespace()
    assert pickle.loads(pickle.dumps(ns["pg"])) is pydist.pg
    exec("def uses():\n    return (Task, Global.__name__)", ns)
    blob = cloudpickle.dumps(ns["uses"])
    code = "import pickle, sys; fn = pickle.loads(sys.stdin.buffer.read()); print(fn()[0].__qualname__, fn()[1])"
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == ["Task", "Global"]


def test_help_on_one_of_them_is_its_help(capsys):
    ns = prompt_namespace()
    exec("h(Task)", ns)
    assert capsys.readouterr().out.startswith("Help on class Task in module pydist")
