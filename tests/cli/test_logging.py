"""--log-level and timestamps: which log lines a user sees, and how they look."""

import re
import subprocess

import pytest
from conftest import TIMEOUT, base_env, pydist_cmd

pytestmark = pytest.mark.timeout(60)

# logs a warning (a ping from a node that is not distributed) and a debug line
CODE = "import logging\nlogging.getLogger('pydist').debug('a debug line')\nNode.ping('x@y')"


def run(*flags, **env):
    out = subprocess.run(
        pydist_cmd(*flags, "-e", CODE), env=base_env(**env), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    return out.stderr.splitlines()


def test_the_level_hides_the_less_severe_lines():
    lines = run("--no-log-timestamps")
    assert lines[0].startswith("[warning] Node.ping: this node is not distributed") and len(lines) == 1
    lines = run("--no-log-timestamps", "--log-level", "debug")
    assert lines[0] == "[debug] a debug line" and lines[1].startswith("[warning] Node.ping")
    assert run("--log-level", "error") == []
    assert run("--no-log-timestamps", PYDIST_LOG_LEVEL="debug")[0] == "[debug] a debug line"


def test_timestamps_when_asked_and_when_not_at_a_terminal():
    stamped = re.compile(r"^\[warning\] \d\d:\d\d:\d\d\.\d{3} Node\.ping: ")
    assert stamped.match(run()[0])  # stderr is a pipe here: timestamps by default
    assert stamped.match(run("--log-timestamps")[0])
    assert run("--no-log-timestamps")[0].startswith("[warning] Node.ping: ")


def test_a_bad_level_is_a_usage_error():
    out = subprocess.run(
        pydist_cmd("--log-level", "loud", "-e", "1"), env=base_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 2 and "argument --log-level: invalid choice: 'loud'" in out.stderr
    out = subprocess.run(
        pydist_cmd("-e", "1"), env=base_env(PYDIST_LOG_LEVEL="loud"), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert (
        out.returncode == 2
        and out.stderr == "pydist: PYDIST_LOG_LEVEL must be one of debug, info, warning, error, not 'loud'\n"
    )
