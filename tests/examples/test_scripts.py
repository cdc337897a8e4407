"""The small example scripts run as a teacher would show them."""

import subprocess

import pytest
from conftest import ROOT, base_env, pydist_cmd, unique

pytestmark = pytest.mark.timeout(120)


def run(*args):
    return subprocess.run(pydist_cmd(*args), capture_output=True, text=True, env=base_env(), timeout=60, cwd=ROOT)


def test_ping_pong():
    server_name = unique("pong")
    server = subprocess.Popen(
        pydist_cmd("--sname", server_name, "examples/ping_pong.py"),
        cwd=ROOT,
        env=base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "is waiting for pings" in server.stdout.readline()
        r = run("--sname", unique("ping"), "examples/ping_pong.py", server_name, "2")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.strip().splitlines()
        assert len(lines) == 2 and all(line.startswith(f"('pong', '{server_name}@") for line in lines)
        assert server.poll() is None  # no --stop: still serving
        # --stop without ROUNDS: the default 3 rounds, then the server stops
        r = run("--sname", unique("ping"), "examples/ping_pong.py", server_name, "--stop")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.strip().splitlines()
        assert len(lines) == 3 and all(line.startswith(f"('pong', '{server_name}@") for line in lines)
        server.wait(30)
        out = server.stdout.read()
        assert "got ping 3 from ping" in out and "pong: stopping" in out
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(30)
        server.stdout.close()


def test_spawn_output_lands_here(nodes):
    bar = nodes.start("bar")
    r = run("--sname", unique("foo"), "examples/spawn_output.py", bar.name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Hello", f"I run on {bar.full}"]
    bar.eval("1")
    assert "Hello" not in bar.output


def test_rpc_error_shows_the_remote_traceback(nodes):
    bar = nodes.start("bar")
    r = run("--sname", unique("foo"), "examples/rpc_error.py", bar.name)
    assert r.returncode == 0, r.stderr
    assert f"7 squared is 49, computed on {bar.full}" in r.stdout
    assert "ZeroDivisionError: division by zero" in r.stderr
    assert f"raised on node {bar.full}" in r.stderr
    assert "in divide" in r.stderr
