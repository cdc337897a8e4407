"""``pydist -S APP`` and Application.start/stop: a good app, broken apps."""

import subprocess
import textwrap

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique

pytestmark = pytest.mark.timeout(120)

GOOD = """
from pydist import GenServer

class Counter(GenServer):
    @classmethod
    def start_link(cls, arg):
        return GenServer.start_link(cls, arg, name="Counter")
    def handle_call(self, req, from_, n):
        return ("reply", n + 1, n + 1)

def double(x):          # travels by value: other nodes do not have this package
    return 2 * x

def children():
    return [(Counter, 10)]
"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_good_app_starts_before_the_prompt(nodes, tmp_path):
    write(tmp_path, "good/__init__.py", GOOD)
    a = nodes.start("a", "-S", "good", cwd=tmp_path)
    assert a.value("good.__name__") == "'good'"
    assert a.value("GenServer.call('Counter', 'next')") == "11"
    assert a.value("Application.started_applications()") == "['good']"
    assert a.value("Supervisor.which_children('good.Supervisor')[0][0]") == "'Counter'"
    # the app's functions travel by value to a node that has no copy of it
    b = nodes.start("b", cwd="/")
    assert a.value(f"rpc.call({b.full!r}, good.double, 21)") == "42"
    assert a.value("Application.stop('good')") == "'ok'"
    assert a.value("Process.whereis('Counter')") == "None"
    assert a.value("Application.start(good)") == "'ok'"
    assert a.value("GenServer.call('Counter', 'next')") == "11"


def test_app_by_path_and_in_an_application_submodule(nodes, tmp_path):
    write(tmp_path, "proj/shop/__init__.py", "from .application import Counter\n")
    write(tmp_path, "proj/shop/application.py", GOOD)
    a = nodes.start("a", "-S", str(tmp_path / "proj"), cwd="/")
    assert a.value("shop.Counter.__name__") == "'Counter'"
    assert a.value("GenServer.call('Counter', 'next')") == "11"


def run_app(tmp_path, app, *extra):
    cmd = pydist_cmd("--sname", unique("bad"), "-S", app, *extra, "-e", "print('prompt reached')")
    return subprocess.run(cmd, cwd=tmp_path, env=base_env(), capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.parametrize(
    "app, files, words",
    [
        ("missing", {}, "-S missing: no module named 'missing' in the current directory"),
        (
            "broken",
            {"broken/__init__.py": "x = 1 / 0\n"},
            "-S broken: importing broken failed: ZeroDivisionError: division by zero",
        ),
        ("empty", {"empty.py": "x = 1\n"}, "empty declares no application: define children()"),
        (
            "crashy",
            {
                "crashy.py": "from pydist import GenServer\n"
                "class Boom(GenServer):\n    def init(self, arg):\n        return {}['k']\n"
                "def children():\n    return [Boom]\n"
            },
            "-S crashy: the application did not start: its child 'Boom' failed to start: it crashed: KeyError: 'k'",
        ),
    ],
)
def test_broken_app_prints_one_clear_line_and_exits_1(tmp_path, app, files, words):
    for name, text in files.items():
        write(tmp_path, name, text)
    r = run_app(tmp_path, app)
    assert r.returncode == 1, r.stderr
    assert "prompt reached" not in r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("pydist: ") and words in last, r.stderr
    if app == "broken":
        assert "broken/__init__.py, line 1" in last
        assert "Traceback" not in r.stderr


def test_app_with_its_own_start(tmp_path):
    write(
        tmp_path,
        "custom.py",
        GOOD.replace(
            "def children():\n    return [(Counter, 10)]\n",
            """
from pydist import Supervisor

def start():
    return Supervisor.start([(Counter, 41)], name="custom.Top")
""",
        ),
    )
    write(tmp_path, "starry.py", "from pydist import *   # pydist's start() is not the app's\n" + GOOD)
    r = run_app(tmp_path, "starry")
    assert r.returncode == 0 and "prompt reached" in r.stdout, r.stderr
    r = subprocess.run(
        pydist_cmd(
            "-S",
            "custom",
            "-e",
            "print(GenServer.call('Counter', 'n'), Application.supervisor('custom') == Process.whereis('custom.Top'))",
        ),
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.stdout.split() == ["42", "True"], r.stderr
