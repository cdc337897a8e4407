"""Not a terminal: ``echo '...' | pydist --sname x`` for scripts and CI; c() and nl()."""

import subprocess
import textwrap

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique

pytestmark = pytest.mark.timeout(120)


def run(args, src, cwd, timeout=TIMEOUT):
    return subprocess.run(
        pydist_cmd(*args),
        input=textwrap.dedent(src).encode(),
        capture_output=True,
        env=base_env(),
        cwd=cwd,
        timeout=timeout,
    )


def test_piped_lines_blocks_values_and_exit_code(tmp_path):
    name = unique("pipe")
    src = """\
    print(node())
    1 + 1
    def double(x):
        return 2 * x
    double(21)
    for i in range(2):
        print('loop', i)

        print('blank line inside the block', i)
    if False:
        pass
    else:
        print('else branch')
    1 / 0
    'after the error'
    Node.list()
    """
    r = run(["--sname", name], src, tmp_path)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 1, err  # 1/0 raised: the rest ran, and the exit code tells CI
    lines = out.splitlines()
    assert lines[0].startswith(f"{name}@")
    assert lines[1:] == [
        "2",
        "42",
        "loop 0",
        "blank line inside the block 0",
        "loop 1",
        "blank line inside the block 1",
        "else branch",
        "'after the error'",
        "[]",
    ]
    assert "pydist(" not in out  # no prompt decorations
    assert "ZeroDivisionError: division by zero" in err and "pydist/_" not in err


def test_piped_exit_code_after_an_error(tmp_path):
    r = run([], "1/0\nprint('after')\n", tmp_path)
    assert (r.returncode, r.stdout.decode()) == (1, "after\n")
    assert "ZeroDivisionError" in r.stderr.decode()
    r = run([], "1/0\nexit(0)\n", tmp_path)  # an explicit exit() wins
    assert r.returncode == 0
    r = run([], "x = 1\nprint(x)\n", tmp_path)
    assert (r.returncode, r.stdout.decode()) == (0, "1\n")


def test_c_refuses_a_file_that_is_not_python_source(tmp_path):
    (tmp_path / "notes.txt").write_text("x = 1\n")
    r = run([], "c('notes.txt')\n", tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert f"ValueError: c: {tmp_path / 'notes.txt'} is not Python source; give a .py file" in err


def test_piped_exit_code_and_non_utf8(tmp_path):
    r = subprocess.run(
        pydist_cmd(),
        input=b"'caf\xe9'\nexit(3)\nprint('not reached')\n",
        capture_output=True,
        env=base_env(),
        cwd=tmp_path,
        timeout=TIMEOUT,
    )
    assert r.returncode == 3
    assert r.stdout.decode() == "'caf\ufffd'\n"


def test_c_and_nl_ship_code_to_another_node(tmp_path, nodes):
    other = nodes.start("other")
    (tmp_path / "shipped.py").write_text("def work(x):\n    return ('worked', x * 2)\n")
    (tmp_path / "helper.py").write_text("def triple(x):\n    return 3 * x\n")
    src = f"""\
    c('shipped.py')
    rpc.call({other.full!r}, shipped.work, 21)
    import helper
    nl(helper)
    rpc.call({other.full!r}, helper.triple, 5)
    """
    r = run(["--sname", unique("loader")], src, tmp_path)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    lines = out.splitlines()
    assert lines[0].startswith("<module 'shipped'")
    assert lines[1:] == ["('worked', 42)", f"('ok', [({other.full!r}, 'loaded', 'helper')])", "15"]
