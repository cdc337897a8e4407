"""The prompt edits like IPython: auto-indent, Enter inside a block, Meta-Enter,
pasting (bracketed, paste mode, transcripts with prompts), Ctrl-Z.

Asserts read the screen itself (``Term.screen``): what the person sees.
"""

import os
import sys

import pexpect
import pytest
from conftest import TIMEOUT, base_env
from pty_term import Term, screen_text, terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)

UP, META_ENTER, F6 = "\x1b[A", "\x1b\r", "\x1b[17~"


def paste(t: Term, text: str) -> None:
    """What a terminal with bracketed paste sends for pasted ``text``."""
    t.type("\x1b[200~" + text.replace("\n", "\r") + "\x1b[201~")


def test_auto_indent_dedent_and_enter_inside_a_block(terms):
    t = terms()
    t.expect("pydist(1)>")
    t.type("def f(x):\r")
    t.type("if x:\r")
    t.type("return 'yes'\r")  # indented twice by itself; return: the next line one level less
    t.type("return 'no'")
    t.expect_screen(
        r"^pydist\(1\)> def f\(x\):\n\.\.\.\(1\)>     if x:\n\.\.\.\(1\)>         return 'yes'\n"
        r"\.\.\.\(1\)>     return 'no'$"
    )
    t.type("\r")  # after return: back to the left edge, a blank line
    t.type("\r")  # Enter on the blank last line runs the block
    t.expect("pydist(2)>")
    t.line("f(1), f(0)")
    t.expect("('yes', 'no')")
    t.expect("pydist(3)>")

    # Enter on a line above the last inserts a line (indented), it does not run the block
    t.type("def g():\r")
    t.type("return 5")
    t.type(UP)
    t.ctrl("e")
    t.type("\r")
    t.type("print('inserted')")
    t.expect_screen(r"^pydist\(3\)> def g\(\):\n\.\.\.\(3\)>     print\('inserted'\)\n\.\.\.\(3\)>     return 5$")
    assert "pydist(4)>" not in t.screen()
    t.type(META_ENTER)  # Meta-Enter runs it as it stands
    t.expect("pydist(4)>")
    t.line("g()")
    t.expect("inserted")
    t.expect("\n5\n")
    t.expect("pydist(5)>")

    # Backspace in the indentation takes a whole level back
    t.type("for i in range(2):\r")
    t.type("if i:\r")
    t.type("\x7f\x7f")  # one Backspace: 8 -> 4 spaces; the second: 4 -> 0
    t.type("print('top')")
    t.expect_screen(r"^\.\.\.\(5\)> print\('top'\)$")
    t.ctrl("c")
    t.expect("pydist(5)>")


def test_pasting(terms):
    t = terms()
    t.expect("pydist(1)>")

    # a transcript of Python's REPL, pasted: prompts stripped, its output lines dropped
    paste(t, ">>> def add(a, b):\n...     return a + b\n...\n>>> add(2, 3)\n5\n")
    t.expect_screen(
        r"^pydist\(1\)> def add\(a, b\):\n\.\.\.\(1\)>     return a \+ b\n\.\.\.\(1\)>\n\.\.\.\(1\)> add\(2, 3\)$"
    )
    t.type("\r")
    t.expect("\n5\n")
    t.expect("pydist(2)>")

    # one of pydist's own, from a distributed prompt
    paste(t, "pydist(foo@vm)3> xs = [1,\n...(foo@vm)3>       2]\npydist(foo@vm)4> sum(xs) * 7\n21")
    t.type("\r")
    t.expect("\n21\n")
    t.expect("pydist(3)>")

    # a bracketed paste with a blank line inside a function is one entry
    paste(t, "def h():\n    a = 1\n\n    return a + 1\n")
    t.type("\r")
    t.expect("pydist(4)>")
    t.line("h()")
    t.expect("\n2\n")
    t.expect("pydist(5)>")

    # no bracketed paste: F6's paste mode takes the lines as they come, Meta-Enter runs them
    t.type(F6)
    t.expect("paste mode")
    t.type("def k():\r    b = 2\r\r    return b * 21\r")
    t.expect_screen(
        r"^pydist\(5\)> def k\(\): +\[paste mode: Meta-Enter runs it, F6 ends\]\n\.\.\.\(5\)>     b = 2\n\.\.\.\(5\)>\n\.\.\.\(5\)>     return b \* 21\n"
    )
    t.type(META_ENTER)
    t.expect("pydist(6)>")
    assert "paste mode" not in t.screen()  # it ended with the entry
    t.line("k()")
    t.expect("\n42\n")
    t.expect("pydist(7)>")
    t.ctrl("d")
    assert t.wait_exit() == 0


def test_ctrl_z_suspends_like_a_shell_job(tmp_path):
    env = base_env(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", PS1="$ ", HOME=os.environ["HOME"])
    sh = pexpect.spawn(
        "bash",
        ["--norc", "--noprofile", "-i"],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        codec_errors="replace",
        dimensions=(40, 200),
        timeout=TIMEOUT,
    )
    try:
        sh.expect_exact("$ ")
        sh.send(f"{sys.executable} -m pydist\r")
        sh.expect_exact("pydist(1)>")
        sh.send("'half typed'")
        sh.sendcontrol("z")
        sh.expect("Stopped")
        sh.expect_exact("$ ")
        sh.send("echo the shell has the terminal\r")
        sh.expect_exact("the shell has the terminal")
        sh.send("fg\r")
        sh.expect_exact("'half typed'")  # the prompt comes back with the line as it was
        sh.send("\r")
        sh.expect_exact("pydist(2)>")
        out = screen_text(sh.before or "")
        assert "Traceback" not in out
        sh.sendcontrol("d")
        sh.expect_exact("$ ")
        sh.send("exit\r")
        sh.expect(pexpect.EOF)
    finally:
        if sh.isalive():
            sh.terminate(force=True)
