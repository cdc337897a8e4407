"""Elixir habits: milliseconds where pydist counts seconds, and Elixir spellings at the prompt."""

import subprocess
import time

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def _run(*args, stdin=None):
    return subprocess.run(
        pydist_cmd(*args), input=stdin, capture_output=True, text=True, env=base_env(), timeout=TIMEOUT * 2
    )


def test_a_whole_number_of_100_or_more_warns_once_per_call_site():
    code = (
        "me = self()\n"
        "for _ in range(3):\n"
        "    Process.send_after(me, 'tick', 500)\n"  # one line, three calls: one warning
        "Timer.send_after(250, me, 'tock')\n"
        "class S(GenServer):\n"
        "    def handle_call(self, request, _from, state):\n"
        "        return ('reply', request, state)\n"
        "_, pid = GenServer.start(S, None)\n"
        "print(GenServer.call(pid, 'echo', 5000))\n"
        "def waiter():\n"
        "    receive(timeout=2000)\n"
        "spawn(waiter)\n"
        "Process.sleep(0.2)\n"
        "send(me, 'x'); receive(timeout=1.5, match=lambda m: m == 'x'); Process.sleep(0.1)\n"
        "print('small times say nothing')\n"
    )
    t0 = time.monotonic()
    r = _run("-e", code)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60  # nothing waited in milliseconds' place
    assert "echo" in r.stdout and "small times say nothing" in r.stdout
    err = r.stderr
    said = [line for line in err.splitlines() if "pydist counts seconds" in line]
    assert len(said) == 4, err  # send_after (once for the loop), Timer.send_after, call, receive
    assert (
        "Process.send_after: 500 is seconds here (8 min); pydist counts seconds, not milliseconds "
        "as Elixir does: did you mean 0.5? (<eval>, line 3)"
    ) in err
    assert "Timer.send_after: 250 is seconds here (4 min)" in err and "did you mean 0.25?" in err
    assert "GenServer.call: 5000 is seconds here (1.4 h)" in err and "did you mean 5.0? (<eval>, line 9)" in err
    assert "receive: 2000 is seconds here (33 min)" in err and "(<eval>, line 11)" in err


ELIXIR = [
    ("Node.connect(:bar@vm)", "SyntaxError", "hint: atoms are strings here: 'bar@vm'"),
    ("double = fn x -> x * 2 end", "SyntaxError", "hint: functions are lambdas here: lambda x: x * 2"),
    ('IO.puts("hello")', "NameError", "hint: IO.puts(x) is print(x) here"),
    ("x = nil", "NameError", "hint: nil is None here"),
    ("alias Kv.Bucket", "SyntaxError", "hint: there is no alias here: import the module"),
    ("[1, 2] |> sum", "SyntaxError", "hint: there is no |> here"),
]


def test_elixir_spellings_get_a_hint_after_the_error():
    src = "".join(entry + "\n" for entry, _, _ in ELIXIR) + "1 + 1\n"
    r = _run(stdin=src)
    out = r.stdout + r.stderr
    lines = r.stderr.splitlines()
    for _entry, error, note in ELIXIR:
        at = next((i for i, line in enumerate(lines) if line.startswith(note)), None)
        assert at is not None, f"{note!r} missing:\n{out}"
        assert lines[at - 1].startswith(error), f"{note!r} does not follow a {error}:\n{out}"  # one line after it
    assert "2" in r.stdout.split()
    assert r.stderr.count("hint:") == len(ELIXIR)
    # Python's own mistakes get no Elixir hint
    r = _run(stdin="undefined_name\nprint(1 +)\n{1: 2}[3]\n")
    assert "NameError" in r.stderr and "SyntaxError" in r.stderr and "KeyError" in r.stderr
    assert "hint:" not in r.stderr


def test_clear_clears_the_screen_as_iex_does(terms):
    t = terms("--sname", "clr" + str(time.monotonic_ns() % 100000))
    t.expect(")1>")
    t.line("print('old text')")
    t.expect("old text")
    t.expect(")2>")
    start = len(t.raw)
    t.line("clear()")
    t.expect(")3>")  # the prompt, at the top of a clean screen
    assert "\x1b[H\x1b[2J" in t.raw[start:]
    r = _run(stdin="clear()\n")  # a pipe has no screen: it says so
    assert "clear(): the output is not a terminal" in r.stderr
