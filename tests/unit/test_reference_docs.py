"""docs/reference/ keeps up with the code: every built-in and every flag is documented.

A name added to the prompt's namespace, or a flag added to ``pydist`` or
``pydist epmd``, without its entry in the reference fails here.
"""

import argparse
from pathlib import Path

import pytest

from pydist._cli import build_parser
from pydist._repl.namespace import BUILTIN_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference"
PROMPT_ONLY = ("v", "c", "nl", "exit", "quit", "tb")


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [opt for action in parser._actions for opt in action.option_strings]


@pytest.mark.parametrize("name", [*BUILTIN_NAMES, *PROMPT_ONLY])
def test_every_builtin_has_an_entry(name):
    text = (DOCS / "builtins.md").read_text()
    assert any(f"`{name}{end}" in text for end in ("(", "`", ".")), (
        f"docs/reference/builtins.md does not document {name!r}"
    )


def test_every_flag_of_pydist_is_documented():
    text = (DOCS / "cli.md").read_text()
    missing = [flag for flag in _flags(build_parser()) if f"`{flag}" not in text]
    assert not missing, f"docs/reference/cli.md does not document {missing}"


def test_every_option_of_pydist_epmd_is_documented():
    text = (DOCS / "cli.md").read_text()
    for flag in ("--names", "--kill", "--daemon", "--help"):
        assert f"`{flag}`" in text


def test_the_index_links_every_page():
    index = (DOCS / "README.md").read_text()
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"({p})" not in index] == []
