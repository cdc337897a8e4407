"""The installed ``pydist`` command (the console script), not only ``python -m pydist``."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TIMEOUT, base_env

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(sys.executable).parent / "pydist"  # where pip installs the console script


@pytest.fixture
def project(tmp_path):
    (tmp_path / "stackmod.py").write_text("class Stack:\n    def __init__(self):\n        self.items = []\n")
    return tmp_path


def _installed(*args, cwd, stdin=None):
    assert SCRIPT.exists(), f"the pydist command is not installed next to {sys.executable} (pip install -e .)"
    return subprocess.run(
        [str(SCRIPT), *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=base_env(), timeout=TIMEOUT
    )


def test_the_installed_command_imports_from_the_current_directory(project):
    # the reference docs' own example, with the command a user types
    r = _installed("-e", "from stackmod import Stack; print(type(Stack()).__name__)", cwd=project)
    assert r.returncode == 0 and r.stdout.strip() == "Stack", r.stderr
    r = _installed(cwd=project, stdin="from stackmod import Stack\nStack().items\n")  # at the prompt
    assert r.returncode == 0 and "[]" in r.stdout, r.stderr
    (project / "run.py").write_text("import stackmod\nprint('script', stackmod.Stack.__name__)\n")
    sub = project / "sub"
    sub.mkdir()
    r = _installed("../run.py", cwd=sub)  # a script imports from its own folder, as with python
    assert r.returncode == 0 and "script Stack" in r.stdout, r.stderr


def test_safe_path_keeps_the_current_directory_out(project):
    env = base_env(PYTHONSAFEPATH="1")
    r = subprocess.run(
        [sys.executable, "-P", "-m", "pydist", "-e", "import stackmod"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=TIMEOUT,
    )
    assert r.returncode == 1 and "No module named 'stackmod'" in r.stderr
