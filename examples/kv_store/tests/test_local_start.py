"""local-start.sh / local-stop.sh against a private tmux server (tmux -L NAME)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pydist_tests_conftest import TIMEOUT, base_env, unique, wait_for

from pydist._net.epmd import client as _epmd

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["node0@localhost", "node1@localhost", "node2@localhost"]


def registered():
    return {name for name, _port in _epmd.names()}


def answers(node, src, expected) -> bool:
    out, ok = node.try_eval(src)
    return ok and out.strip().splitlines()[-1:] == [expected]


def run(*cmd, env):
    return subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_local_start_runs_three_nodes_in_tmux(nodes):
    sock = unique("kvtmux")
    env = base_env(TMUX_SOCKET=sock, KV_STORE_POLL="0.5", TMUX=None)
    try:
        r = run(ROOT / "local-start.sh", env=env)
        assert r.returncode == 0, r.stderr
        assert f"tmux -L {sock} attach -t kv_store" in r.stdout and "Ctrl-b n" in r.stdout
        windows = run("tmux", "-L", sock, "list-windows", "-t", "kv_store", "-F", "#W", env=env)
        assert windows.stdout.split() == ["node0", "node1", "node2"]
        probe = nodes.start("probe")
        for name in NAMES:
            wait_for(lambda name=name: probe.value(f"Node.ping({name!r})") == "'pong'", what=f"{name} to answer")
        for name in NAMES:  # the app is up (its MapServer answers) and the cluster complete
            wait_for(
                lambda name=name: answers(probe, f"GenServer.call(('MapServer', {name!r}), ('get', 't'))", "None"),
                what=f"{name}'s MapServer",
            )
        wait_for(
            lambda: answers(probe, "len(rpc.call('node0@localhost', Node.list))", "3"),
            what="node0 to see node1, node2 (and the probe)",
        )
        # each window is the real prompt, with kv_store bound
        run("tmux", "-L", sock, "send-keys", "-t", "kv_store:node0", "kv_store.put('t', 42)", "Enter", env=env)
        wait_for(
            lambda: answers(probe, "GenServer.call(('MapServer', 'node2@localhost'), ('get', 't'))", "42"),
            what="the write typed at node0's prompt to reach node2",
        )
        again = run(ROOT / "local-start.sh", env=env)
        assert again.returncode == 1 and "is running already" in again.stderr
    finally:
        stop = run(ROOT / "local-stop.sh", env=env)
        run("tmux", "-L", sock, "kill-server", env=env)
        socket_file = Path(os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}", sock)
        socket_file.unlink(missing_ok=True)
    assert stop.returncode == 0, stop.stderr
    wait_for(lambda: not registered() & {"node0", "node1", "node2"}, what="the nodes to end")


def test_local_start_without_tmux_says_how_to_install_it(tmp_path):
    r = subprocess.run(
        ["/bin/bash", str(ROOT / "local-start.sh")],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "local-start.sh: tmux is not installed; install it (sudo apt install tmux, or brew install tmux) "
        "and run me again"
    ]


def test_local_start_help_is_the_header_with_the_socket_filled_in(tmp_path):
    def helptext(*args, **env):
        r = subprocess.run(
            [str(ROOT / "local-start.sh"), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=base_env(**{"TMUX_SOCKET": None, "KV_SESSION": None, **env}),
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    plain = helptext("--help")
    assert "set -eu" not in plain and "#" not in plain
    assert plain.rstrip().endswith("KV_STORE_HOSTS is set to node0..node(N-1).")
    assert "then: tmux [-L SOCKET] attach -t kv_store" in plain
    assert "then: tmux -L mine attach -t kv_store" in helptext("-L", "mine", "--help")
    assert "then: tmux -L env attach -t kv2" in helptext("-h", TMUX_SOCKET="env", KV_SESSION="kv2")
