"""Application env on real nodes: an app's declared defaults, a config file over them,
put_env over both, per node, and config files that are wrong."""

import subprocess
import textwrap

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique

pytestmark = pytest.mark.timeout(120)

APP = """
env = {"port": 4000, "mode": "dev", "peers": []}

class Server(GenServer):
    def init(self, _):
        return ("ok", Application.get_env("envapp", "port"))
    def handle_call(self, req, from_, port):
        return ("reply", port, port)

def children():
    return [Supervisor.child_spec({"id": "srv", "start": (GenServer.start_link, (Server, None, "srv"))})]
"""


def app_folder(tmp_path):
    (tmp_path / "envapp.py").write_text(
        "from pydist import Application, GenServer, Supervisor\n" + textwrap.dedent(APP)
    )
    return tmp_path


def test_declared_defaults_config_file_and_put_env(nodes, tmp_path):
    app_folder(tmp_path)
    (tmp_path / "cfg.toml").write_text('[envapp]\nport = 4100\npeers = ["b@vm"]\n\n[other]\nkey = true\n')
    a = nodes.start("a", "-S", "envapp", "--config", "cfg.toml", cwd=tmp_path)
    assert a.value("GenServer.call('srv', 'port')") == "4100"  # the app's children read it in init
    assert a.value("Application.get_env('envapp', 'mode')") == "'dev'"  # a default the file does not set
    assert a.value("Application.get_env('envapp', 'peers')") == "['b@vm']"
    assert a.value("Application.get_env('other', 'key')") == "True"
    assert a.value("Application.get_env('envapp', 'missing', 'fallback')") == "'fallback'"
    assert a.value("Application.fetch_env('envapp', 'missing')") == "'error'"
    assert a.value("Application.put_env('envapp', 'mode', 'prod')") == "'ok'"
    assert a.value("Application.fetch_env('envapp', 'mode')") == "('ok', 'prod')"
    assert a.value("Application.get_all_env('envapp')") == "{'port': 4100, 'mode': 'prod', 'peers': ['b@vm']}"
    assert a.value("Application.delete_env('envapp', 'mode')") == "'ok'"
    assert a.value("Application.get_env('envapp', 'mode')") == "None"
    # each node has its own: b started without the file sees the declared default
    b = nodes.start("b", "-S", "envapp", cwd=tmp_path)
    assert b.value("Application.get_env('envapp', 'port')") == "4000"
    assert b.value(f"rpc.call({a.full!r}, Application.get_env, 'envapp', 'port')") == "4100"


def test_the_config_file_from_the_environment(tmp_path):
    (tmp_path / "c.toml").write_text("[myapp]\nlevel = 3\n")
    out = subprocess.run(
        pydist_cmd("-e", "print(Application.get_env('myapp', 'level'))"),
        env=base_env(PYDIST_CONFIG=str(tmp_path / "c.toml")),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


@pytest.mark.parametrize(
    "text, words",
    [
        (None, "pydist: --config: no such file: nope.toml"),
        ("[myapp\nx = 1\n", "pydist: --config nope.toml: not valid TOML: "),
        ("level = 3\n", "pydist: --config nope.toml: 'level' is not a table; put each setting under its application"),
    ],
)
def test_a_config_file_that_is_wrong_is_one_line_and_exit_1(tmp_path, text, words):
    if text is not None:
        (tmp_path / "nope.toml").write_text(text)
    out = subprocess.run(
        pydist_cmd("--sname", unique("c"), "--config", "nope.toml", "-e", "print('ran')"),
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith(words) and out.stderr.count("\n") == 1, out.stderr
