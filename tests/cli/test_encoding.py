"""Text is never dropped silently on a terminal or pipe that is not UTF-8.

``LANG=C`` is coerced to UTF-8 by Python and hides the problem, so these use
``PYTHONIOENCODING`` (as a Latin-1 or ASCII locale would set the streams).
"""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd, unique

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "repl"))
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)

TEXT = "café → ✓"


def _run(encoding, *args, stdin=None):
    r = subprocess.run(
        pydist_cmd(*args),
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        env=base_env(PYTHONIOENCODING=encoding),
        timeout=TIMEOUT,
    )
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize(("encoding", "shown"), [("ascii", b"caf? ? ?"), ("latin-1", "café ? ?".encode("latin-1"))])
def test_print_shows_what_the_stream_can_encode(encoding, shown):
    code, out, err = _run(encoding, "-e", f"print({TEXT!r}); print('after')")
    assert code == 0 and out == shown + b"\nafter\n", (out, err)
    code, out, err = _run(encoding, stdin=f"print({TEXT!r})\nprint('after')\n")  # piped prompt
    assert code == 0 and out == shown + b"\nafter\n", (out, err)
    code, out, err = _run(encoding, "-e", f"import sys; sys.stderr.write({TEXT!r} + '\\n')")
    assert code == 0 and err.startswith(b"caf"), err  # stderr too (Python's own: backslashreplace)


def test_output_from_another_node_reaches_an_ascii_terminal(nodes):
    far = nodes.start("far")
    src = f"Node.spawn({far.full!r}, lambda: print({TEXT!r}))\nProcess.sleep(1.0)\n"
    code, out, err = _run("ascii", "--sname", unique("home"), stdin=src)
    assert code == 0 and b"caf? ? ?" in out, (out, err)


def test_the_prompt_on_an_ascii_terminal_shows_it(terms):
    t = terms(env={"PYTHONIOENCODING": "ascii"})
    t.expect("pydist(1)>")
    t.line(r"print('caf\xe9 \u2192 \u2713')")  # typed in ASCII, so only the output can show 'caf? ? ?'
    t.expect("caf? ? ?")
    t.expect("pydist(2)>")
