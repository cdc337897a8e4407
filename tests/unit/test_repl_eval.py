"""The read-eval-print loop in-process: no terminal, no node, a fake line source."""

import asyncio
import io
import sys

import pytest

from pydist._repl.evaluate import Evaluator, format_exception, is_complete
from pydist._repl.namespace import prompt_namespace

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "src, done",
    [
        ("1 + 1", True),
        ("", True),
        ("# a comment", True),
        ("x = [1,", False),
        ("x = [1,\n2]", True),
        ("print('a'", False),
        ("'''doc", False),
        ("def f():", False),
        ("def f():\n    return 1", False),
        ("def f():\n    return 1\n", True),
        ("if x:\n  a\nelse:", False),
        ("for i in range(3): print(i)", True),
        ("@dec", False),
        ("x = (1,\n     2)", True),
        ("a = 1\nb = 2", True),
        ("1 +", True),  # a syntax error shows at once
        ("def f():\n", True),  # an empty line ends even a broken block (its error shows)
    ],
)
def test_when_an_entry_is_complete(src, done):
    assert is_complete(src) is done


def new_eval():
    ns = prompt_namespace()
    return Evaluator(ns, color=False, width=100), ns


def test_counter_values_and_v(capsys):
    ev, _ns = new_eval()
    assert ev.run("1 + 1") is True
    assert capsys.readouterr().out == "2\n"
    assert ev.counter == 2
    assert ev.run("x = 20; x + 1") is True
    assert capsys.readouterr().out == "21\n"
    assert ev.run("print('printed')") is True  # None is not shown
    assert capsys.readouterr().out == "printed\n"
    assert ev.run("v(1) + v(-2) + _") is True  # 2 + 21 + 21
    assert capsys.readouterr().out == "44\n"
    assert ev.counter == 5
    assert ev.run("   ") is False and ev.counter == 5  # nothing typed: nothing counted


def test_errors_do_not_advance_the_counter_and_hide_pydist_frames(capsys):
    ev, _ns = new_eval()
    assert ev.run("receive(timeout=0.01)") is False
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert 'File "<pydist:1>", line 1, in <module>' in err
    assert "TimeoutError: receive: no matching message within 0.01 s" in err
    assert "pydist/_" not in err and "threading.py" not in err
    assert ev.run("x = )") is False
    assert "SyntaxError" in capsys.readouterr().err
    assert ev.counter == 1


def test_traceback_names_the_entry_by_the_prompt_number_it_was_typed_at(capsys):
    ev, _ns = new_eval()
    for _ in range(7):
        assert ev.run("None") is True
    assert ev.counter == 8
    for _ in range(3):  # three failures at prompt 8: all 8, each still its own source lines
        assert ev.run("1/0") is False
    assert ev.run("def f():\n    return 1/0") is True  # the 4th try at 8 succeeds
    names = [line.split('"')[1] for line in capsys.readouterr().err.splitlines() if 'File "<pydist:' in line]
    assert names == ["<pydist:8>", "<pydist:8#2>", "<pydist:8#3>"]
    assert ev.run("f()") is False  # prompt 9; f's frame names entry 8#4
    err = capsys.readouterr().err
    assert 'File "<pydist:9>", line 1' in err and 'File "<pydist:8#4>", line 2, in f' in err
    assert "    return 1/0" in err  # its line is still there to show


def test_source_of_entries_shows_in_tracebacks_of_functions(capsys):
    ev, _ns = new_eval()
    ev.run("def boom():\n    return 1 / 0\n")
    ev.run("boom()")
    err = capsys.readouterr().err
    assert "    return 1 / 0" in err and "ZeroDivisionError" in err


def test_exit_signal_from_a_linked_crash_is_printed_not_fatal(capsys):
    ev, _ns = new_eval()
    assert ev.run("spawn_link(lambda: 1 / 0); receive(timeout=10)") is False
    err = capsys.readouterr().err
    assert "** (EXIT from #PID<nonode@nohost." in err
    assert "('exception', 'ZeroDivisionError: division by zero')" in err
    assert ev.run("Process.alive(self())") is True
    assert capsys.readouterr().out == "True\n"


def test_huge_values_are_truncated_with_a_note(capsys):
    ev, _ns = new_eval()
    ev.run("[str(i) * 50 for i in range(5000)]")
    out = capsys.readouterr().out
    assert len(out) < 60_000
    assert "... (output truncated:" in out or "+4900" in out
    ev.run("class Bad:\n    def __repr__(self):\n        raise ValueError('no repr')\n\n")
    ev.run("Bad()")
    assert "no repr" in capsys.readouterr().out  # said, not raised


def test_exit_leaves(capsys):
    from pydist._repl.namespace import prompt_helpers

    ev, ns = new_eval()
    ns.update(prompt_helpers(ns))
    with pytest.raises(SystemExit) as info:
        ev.run("exit(4)")
    assert info.value.code == 4
    assert "exit()" in repr(ns["exit"])


def test_format_exception_survives_a_broken_str():
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert "Weird" in format_exception(Weird())


def test_run_repl_reads_a_pipe(monkeypatch, capsys):
    from pydist._repl.loop import run_repl

    src = "x = 2\nfor i in range(2):\n    x *= 10\nx\nundefined_name\n'end'\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(src.encode())))
    assert run_repl(prompt_namespace()) == 1  # an entry raised: the rest ran, and CI is told
    captured = capsys.readouterr()
    assert captured.out == "200\n'end'\n"
    assert "NameError: name 'undefined_name' is not defined" in captured.err


def test_prompt_text():
    from pydist._repl.loop import _prompt_text

    ev, _ = new_eval()
    ev.counter = 7
    assert _prompt_text(ev) == "pydist(7)> "
    assert _prompt_text(ev, continuation=True) == "...(7)> "
    ev.prompt_node = "foo@vm"  # as a --remsh evaluator has
    assert _prompt_text(ev) == "pydist(foo@vm)7> "
    assert _prompt_text(ev, continuation=True) == "...(foo@vm)7> "


def test_above_writer_holds_half_lines_briefly_and_keeps_order():
    from pydist._repl import terminal as _repl_term
    from pydist._repl.terminal import AboveWriter

    out, err = io.StringIO(), io.StringIO()
    w = AboveWriter(out, err)
    w.write("stdout", "direct\n")  # no prompt shown: straight through
    assert out.getvalue() == "direct\n"

    async def at_the_prompt():
        w.attach(asyncio.get_running_loop())
        w.write("stdout", "line one\nhalf")
        w.write("stderr", "oops\n")
        await asyncio.sleep(0.05)
        first = out.getvalue()
        w.write("stdout", "no newline yet")
        await asyncio.sleep(_repl_term.PARTIAL_DELAY + 0.2)
        return first

    first = asyncio.run(at_the_prompt())
    assert first == "direct\nline one\nhalf"
    assert err.getvalue() == "oops\n"
    assert out.getvalue() == "direct\nline one\nhalfno newline yet\n"  # shown, on its own line
    w.detach()
    w.write("stdout", "after")
    assert out.getvalue().endswith("yet\nafter")


def test_completer_names_attributes_and_strings():
    from prompt_toolkit.document import Document  # a dependency of pydist: never skipped

    from pydist._repl.complete import PromptCompleter

    ns = prompt_namespace()
    ns["greeting"] = "hi"
    comp = PromptCompleter(lambda: list(ns), lambda n: ns[n])

    def complete(text):
        return [c.text for c in comp.get_completions(Document(text), None)]

    assert "greeting" in complete("gree")
    assert {"list", "ping", "spawn"} <= set(complete("Node."))
    assert complete("Node.pi") == ["ping"]
    assert "print" in complete("pri")
    assert complete("'gree") == []  # inside a string: nothing
    assert complete("x = 1  # gree") == []  # inside a comment: nothing


def test_help_lists_builtins_and_documents_objects(capsys):
    from pydist._repl.help import h

    h()
    out = capsys.readouterr().out
    assert "Node.ping(name)" in out and "v(n)" in out
    h("Node.ping")
    assert "pong" in capsys.readouterr().out
    with pytest.raises(NameError):
        h("no_such_thing_here")
