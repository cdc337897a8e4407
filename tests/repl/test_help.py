"""h() fits the terminal it is typed at."""

import pytest
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def _help_lines(t) -> list[str]:
    t.line("h()")
    start = t.expect("Built-ins (also: from pydist import ...):").start()
    end = t.expect("pydist(2)>").start()
    return t.text[start:end].splitlines()


def test_h_wraps_at_the_terminals_width(terms):
    narrow = terms(dims=(40, 70))
    narrow.expect("pydist(1)>")
    lines = _help_lines(narrow)
    assert max(len(line) for line in lines) < 70, lines
    at = lines.index("  Node.spawn(name, fn, *args)")  # too narrow for two columns: under its name
    assert lines[at + 1].startswith("      run fn(*args) on node name;"), lines[at : at + 3]

    wide = terms(dims=(40, 200))
    wide.expect("pydist(1)>")
    lines = _help_lines(wide)
    row = next(line for line in lines if line.startswith("  Node.spawn(name, fn, *args)"))
    assert row.endswith("run fn(*args) on node name; its output comes here"), row
    assert "  tb()" in "\n".join(lines) and "  F6 " in "\n".join(lines)
