"""Keys at the prompt: soft-wrapped long lines, Ctrl-D on an empty ``...`` line."""

import re

import pytest
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_long_line_wraps_without_continuation_prompts(terms):
    t = terms(dims=(24, 40))  # not distributed: the prompt is "pydist(1)> "
    t.expect("pydist(1)>")
    t.line("'" + "x" * 100 + "'")  # one line, three screen rows
    t.expect("pydist(2)>")
    assert "...(1)>" not in t.text  # its wrapped rows show no continuation prompt
    t.line("def f():")  # a real second line still gets "..."
    t.expect("...(2)>")
    t.line("return 'y' + '" + "z" * 60 + "'")  # indented by the prompt itself
    t.line("")
    t.expect("pydist(3)>")
    rows = t.text.splitlines()
    assert any(r.startswith("...(2)>     return 'y'") for r in rows), rows
    assert not [r for r in rows if re.match(r"\.\.\.\(2\)> *z", r)], rows  # wraps: spaces only
    assert any(re.match(r" +z+'$", r) for r in rows), rows


def test_ctrl_d_on_an_empty_continuation_line_ends_the_entry(terms):
    t = terms()
    t.expect("pydist(1)>")
    t.line("def f():")
    t.expect("...(1)>")
    t.line("return 7")  # indented by the prompt itself
    t.expect("...(1)>")
    t.ctrl("d")  # as an empty line would: the block runs
    t.expect("pydist(2)>")
    t.line("f()")
    t.expect("\n7\n")
    t.expect("pydist(3)>")
    t.line("x = [1,")
    t.expect("...(3)>")
    t.ctrl("d")  # an open bracket: its SyntaxError, as Python's REPL
    t.expect("SyntaxError")
    t.expect("pydist(3)>")
    t.type("abc")
    t.ctrl("d")  # on a typed line Ctrl-D does not leave
    assert "Traceback" not in t.settle(0.5)
    t.ctrl("u")  # clear it; Ctrl-D on the empty prompt leaves
    t.ctrl("d")
    assert t.wait_exit() == 0
