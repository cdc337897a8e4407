"""One answer to "is this the DOWN of my monitor": ``pydist._base.terms.is_down``.

Every selective receive waiting on a monitor (GenServer calls and starts,
rpc, Supervisor shutdowns, Application watchers, remsh, tasks) uses it or
``down_ref`` (many monitors at once), so a change in the DOWN tuple changes
one module.
"""

import re
from pathlib import Path

import pydist
from pydist import Pid, Ref, make_ref, receive, spawn_monitor
from pydist._base.terms import down_ref, is_down

PKG = Path(pydist.__file__).parent


def test_is_down_matches_only_the_down_of_that_ref():
    ref, other = Ref("a@vm", 1), Ref("a@vm", 2)
    pid = Pid("a@vm", 3)
    assert is_down(("DOWN", ref, "process", pid, "normal"), ref)
    assert not is_down(("DOWN", other, "process", pid, "normal"), ref)
    assert not is_down(("DOWN", ref, "process", pid), ref)  # wrong arity
    assert not is_down(["DOWN", ref, "process", pid, "normal"], ref)  # a list is not a signal
    assert not is_down(("EXIT", ref, "process", pid, "normal"), ref)
    assert not is_down("DOWN", ref) and not is_down(None, ref)
    assert down_ref(("DOWN", ref, "process", pid, "normal")) is ref
    assert down_ref(("EXIT", pid, "normal")) is None and down_ref(()) is None and down_ref(None) is None


def test_a_real_monitor_down_is_recognised():
    pid, ref = spawn_monitor(lambda: None)
    msg = receive(10, lambda m: is_down(m, ref))
    assert msg == ("DOWN", ref, "process", pid, "normal")
    assert is_down(msg, ref) and not is_down(msg, make_ref())


def test_no_other_module_spells_out_the_down_test():
    copies = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel == "_base/terms.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if '"DOWN"' in line and re.search(r"len\(\w+\) == 5", line):
                copies.append(f"{rel}:{n}")
    assert not copies, f"use pydist._base.terms.is_down instead of: {copies}"
