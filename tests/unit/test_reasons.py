"""Exit reasons in plain words, worded in one module (``pydist._base.reasons``).

The sentences are what users read in ``Exit`` messages, supervisor and
application logs and at the prompt; end-to-end tests pin them where they
surface, these pin them at the source and keep copies from growing back.
"""

import re
from pathlib import Path

import pydist
from pydist import Exit, Pid
from pydist._base import reasons

PKG = Path(pydist.__file__).parent


def test_explain_words_each_kind_of_reason():
    assert reasons.explain("noproc").startswith("no process: the process is not alive")
    assert reasons.explain("normal", "it") == "it exited normally"
    assert reasons.explain("killed") == "the server was killed"
    assert reasons.explain(("shutdown", 1), "it") == "it was shut down (('shutdown', 1))"
    assert reasons.explain(("exception", "KeyError: 'k'"), "the task") == "the task crashed: KeyError: 'k'"
    assert reasons.explain(("bad_return_value", 3)) == "the server stopped: a callback returned a bad value: 3"
    assert reasons.explain("noconnection", "it") == "it was on a node that went down"
    assert reasons.explain("boom", "its supervisor") == "its supervisor exited with reason 'boom'"


def test_trees_calls_and_nodes():
    failed = ("shutdown", ("failed_to_start_child", "Boom", ("exception", "KeyError: 'k'")))
    assert reasons.explain_tree(failed) == "its child 'Boom' failed to start: it crashed: KeyError: 'k'"
    assert reasons.explain_tree("killed") == "its supervisor was killed"
    assert reasons.no_connection("b@vm") == (
        "no connection to b@vm (the node is down or unreachable; check it with Node.ping('b@vm'))"
    )
    assert reasons.call_failure(("nodedown", "b@vm")) == reasons.no_connection("b@vm")
    assert reasons.call_failure("timeout", 5.0).startswith("time out: no reply within 5.0 s")
    assert reasons.call_failure("noproc").endswith("(is the server started? check the name with GenServer.whereis)")
    assert reasons.call_failure("calling_self").startswith("process attempted to call itself")
    assert reasons.call_failure("killed") == "the server was killed"
    assert reasons.node_went_down("b@vm", "the task's") == "the task's node b@vm went down (or was unreachable)"


def test_what_a_reason_is():
    assert reasons.exception_reason(KeyError("k")) == ("exception", "KeyError: 'k'")
    assert reasons.reason_of(Exit("bye")) == "bye" and reasons.reason_of(ValueError("x")) == (
        "exception",
        "ValueError: x",
    )
    assert all(reasons.is_normal(r) for r in ("normal", "shutdown", ("shutdown", "x")))
    assert not any(reasons.is_normal(r) for r in ("killed", ("exception", "E: x"), "noproc"))


def test_the_prompts_exit_line():
    pid = Pid("a@vm", 7)
    assert reasons.exit_signal("boom", pid) == "** (EXIT from #PID<a@vm.7>) boom\n"
    assert (
        reasons.exit_signal(("exception", "E: x"), None) == "** (EXIT from an unknown process) ('exception', 'E: x')\n"
    )


SENTENCES = [
    "there's no process currently associated",
    "exited normally",
    "was on a node that went down",
    "no connection to {",
    "(EXIT from",
    'failed to start: " + explain',
    "went down (or was unreachable)",
    "process attempted to call itself",
]


def test_the_wording_lives_in_one_module():
    copies = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel == "_base/reasons.py":
            continue
        text = path.read_text()
        copies += [f"{rel}: {s!r}" for s in SENTENCES if s in text]
        if re.search(r"def (explain|exception_reason|normal_exit)\b", text):
            copies.append(f"{rel}: its own explain/exception_reason/normal_exit")
    assert not copies, f"word exit reasons with pydist._base.reasons instead: {copies}"
