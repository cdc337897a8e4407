"""Tracebacks at the prompt: coloured, library frames folded into one line, tb() for all."""

import subprocess

import pytest
from conftest import base_env, pydist_cmd
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_library_frames_fold_and_tb_shows_them(terms):
    t = terms()
    t.expect("pydist(1)>")
    t.line("import json")
    t.expect("pydist(2)>")
    t.line("def parse(text):\nreturn json.loads(text)\n")
    t.expect("pydist(3)>")
    t.line("parse('{')")
    t.expect("JSONDecodeError: Expecting property name enclosed in double quotes")
    t.expect("pydist(3)>")
    shown = t.screen()
    entry = shown[shown.rindex("pydist(3)> parse") :]
    assert 'File "<pydist:3>", line 1, in <module>' in entry
    assert 'File "<pydist:2>", line 2, in parse' in entry and "return json.loads(text)" in entry
    assert "  ... 3 library frames (json): tb() shows them" in entry
    assert "json/decoder.py" not in entry and "pydist/_repl" not in entry
    assert "\x1b[1;31mjson.decoder.JSONDecodeError\x1b[0m" in t.raw  # the error's name in bold red

    t.line("tb()")
    t.expect("raw_decode")
    t.expect("pydist(4)>")
    shown = t.screen()
    full = shown[shown.rindex("pydist(3)> tb()") :]
    assert 'json/decoder.py", line' in full and 'File "<pydist:2>", line 2, in parse' in full
    assert "tb() shows them" not in full
    t.ctrl("d")
    assert t.wait_exit() == 0


def test_a_pipe_gets_every_library_frame(tmp_path):
    r = subprocess.run(
        pydist_cmd(),
        input="import json\njson.loads('{')\n",
        capture_output=True,
        text=True,
        env=base_env(),
        cwd=str(tmp_path),
        timeout=60,
    )
    assert r.returncode == 1
    assert 'File "<pydist:2>", line 1, in <module>' in r.stderr
    assert 'json/decoder.py", line' in r.stderr and "tb() shows them" not in r.stderr
    assert "\x1b[" not in r.stderr
