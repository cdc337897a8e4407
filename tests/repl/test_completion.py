"""Tab beyond names: file paths inside strings, keyword arguments and signatures
inside calls, and an attribute of an expression (jedi)."""

import pytest
from pty_term import terms_fixture  # noqa: F401 (pytest finds the "terms" fixture here)

pytestmark = pytest.mark.timeout(120)


def test_paths_keyword_arguments_signatures_and_expressions(terms, tmp_path):
    (tmp_path / "data_dir").mkdir()
    (tmp_path / "data_dir" / "notes.txt").write_text("the notes\n")
    (tmp_path / ".hidden").write_text("")
    t = terms(cwd=tmp_path)
    t.expect("pydist(1)>")

    # a path inside a string: the folder, then the only file in it
    t.type("open('da")
    t.type("\t")
    t.expect_screen(r"^pydist\(1\)> open\('data_dir/$")
    t.type("\t")
    t.expect_screen(r"^pydist\(1\)> open\('data_dir/notes\.txt$")
    t.line("').read()")
    t.expect("'the notes\\n'")
    t.expect("pydist(2)>")

    # right after "(": the signature first, then the keyword arguments
    t.type("spawn(")
    t.type("\t")
    t.expect_screen(r"spawn\(fn, \*args, thread=False\) +signature")
    t.expect_screen(r"thread= += False")
    t.ctrl("c")
    t.expect("pydist(2)>")

    # a keyword argument by its start, after the positional ones
    t.type("spawn(print, 'from a thread', th")
    t.type("\t")
    t.expect_screen(r"^pydist\(2\)> spawn\(print, 'from a thread', thread=$")
    t.line("True)")
    t.expect("from a thread")
    t.expect("pydist(3)>")

    # an attribute of an expression pydist cannot look up without running it: jedi
    t.line("xs = [10, 20]")
    t.expect("pydist(4)>")
    t.type("xs[1].bit_le")
    t.type("\t")
    t.expect_screen(r"^pydist\(4\)> xs\[1\]\.bit_length$", timeout=60)
    t.line("()")
    t.expect("\n5\n")
    t.expect("pydist(5)>")  # Ctrl-D for the next prompt, not for the one still drawing
    t.ctrl("d")
    assert t.wait_exit() == 0
