"""The pydist command line: flags, exit codes and the words of its errors."""

import os
import stat
import subprocess

import pytest
from conftest import base_env, pydist_cmd, unique

pytestmark = pytest.mark.timeout(120)


def run(*args, env=None, input=None, cwd=None):
    return subprocess.run(
        pydist_cmd(*args), capture_output=True, text=True, input=input, env=base_env(**(env or {})), timeout=60, cwd=cwd
    )


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("pydist ")
    r = run("--help")
    assert r.returncode == 0
    for flag in ("--sname", "--name", "--cookie", "--app", "--eval", "--remsh", "--ticktime", "epmd"):
        assert flag in r.stdout


def test_eval_without_a_name_is_nonode():
    r = run("-e", "print(node()); print(Node.list())")
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["nonode@nohost", "[]"]


def test_sname_defaults_to_the_short_host_name():
    name = unique("s")
    r = run("--sname", name, "-e", "print(node())")
    assert r.returncode == 0, r.stderr
    import socket

    assert r.stdout.strip() == f"{name}@{socket.gethostname().split('.')[0]}"


def test_usage_errors_exit_2():
    r = run("--bogus")
    assert r.returncode == 2 and "pydist:" in r.stderr
    r = run("--sname", "a", "--name", "b@127.0.0.1", "-e", "1")
    assert r.returncode == 2 and "either --sname or --name" in r.stderr
    r = run("--sname", unique("p"), "--port", "lots", "-e", "1")
    assert r.returncode == 2 and "--port" in r.stderr


def test_user_errors_exit_1_with_one_line():
    r = run("--sname", "bad name!", "-e", "1")
    assert r.returncode == 1 and "bad node name" in r.stderr and "Traceback" not in r.stderr
    r = run("--name", "kv@vm", "-e", "1")
    assert r.returncode == 1 and "--name needs a fully qualified host name or an IP address" in r.stderr
    r = run("--sname", unique("x"), "no_such_script.py")
    assert r.returncode == 1 and "no such script" in r.stderr


def test_an_exception_in_eval_exits_1_with_a_traceback_of_user_code():
    r = run("-e", "def f():\n    raise ValueError('bad')\nf()")
    assert r.returncode == 1
    assert "ValueError: bad" in r.stderr and 'File "<eval>"' in r.stderr
    assert "_cli.py" not in r.stderr


def test_script_gets_its_arguments(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(sys.argv[1:], node())\nsys.exit(3)\n")
    name = unique("sc")
    r = run("--sname", name, str(script), "x", "--y")
    assert r.returncode == 3
    assert r.stdout.startswith(f"['x', '--y'] {name}@")


def test_cookie_file_is_created_owner_only_and_reused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PYDIST_COOKIE": None}
    r = run("--sname", unique("c"), "-e", "1", env=env)
    assert r.returncode == 0, r.stderr
    cookie = home / ".pydist.cookie"
    assert stat.S_IMODE(cookie.stat().st_mode) == 0o400
    first = cookie.read_text()
    assert len(first) >= 16
    run("--sname", unique("c"), "-e", "1", env=env)
    assert cookie.read_text() == first


def test_cookie_file_readable_by_others_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cookie = home / ".pydist.cookie"
    cookie.write_text("SECRET")
    os.chmod(cookie, 0o644)
    r = run("--sname", unique("c"), "-e", "1", env={"HOME": str(home), "PYDIST_COOKIE": None})
    assert r.returncode == 1
    assert "must be accessible by its owner only" in r.stderr and "chmod 400" in r.stderr


def test_bare_name_means_this_host(nodes):
    b = nodes.start("b")
    r = run("--sname", unique("a"), "-e", f"print(Node.ping({b.name!r}))")
    assert r.stdout.strip() == "pong", r.stderr
