"""Fixtures shared by every test folder.

Each test run gets its own name-server port and ``HOME`` (so cookies and
history are the test's, never the user's). ``nodes`` starts real pydist OS
processes with unique names, drives them over stdin (tests/agent.py), and
terminates, waits, then kills them at the end of the test.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "tests" / "agent.py"
TIMEOUT = 30.0  # generous: a slow, shared 2-core machine must never make a test flaky
COOKIE = "pydist-test-cookie"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SESSION_HOME = tempfile.mkdtemp(prefix="pydist-home-")
os.environ["HOME"] = _SESSION_HOME
os.environ["PYDIST_EPMD_PORT"] = str(free_port())
os.environ["PYDIST_COOKIE"] = COOKIE
os.environ.pop("PYDIST_TEST_KEEP", None)


def pydist_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pydist", *args]


def base_env(**extra) -> dict:
    env = dict(os.environ)
    # no empty entry: Python would read it as the current directory, and hide a
    # command that forgets to import from there (the installed pydist did)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: v for k, v in extra.items() if v is not None})
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
    return env


def wait_for(predicate, timeout: float = TIMEOUT, what: str = "condition", interval: float = 0.05):
    """Poll ``predicate`` until truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


_names = itertools.count(1)


def unique(prefix: str = "n") -> str:
    return f"{prefix}{next(_names)}x{os.getpid()}"


_MARKS = ("<<<DONE>>>", "<<<FAILED>>>", "<<<EOF>>>")


class NodeProc:
    """A running ``pydist`` node driven through tests/agent.py."""

    def __init__(self, name: str, proc: subprocess.Popen):
        self.name = name
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._cursor = 0
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def full(self) -> str:
        return self.name if "@" in self.name else f"{self.name}@{socket.gethostname().split('.')[0]}"

    def _read(self):
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<<<EOF>>>")
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def eval(self, src: str, timeout: float = TIMEOUT) -> str:
        """Run ``src`` on the node; return what it printed (fails on an exception)."""
        out, ok = self.try_eval(src, timeout)
        if not ok:
            raise AssertionError(f"{self.name}: {src!r} failed:\n{out}")
        return out

    def try_eval(self, src: str, timeout: float = TIMEOUT) -> tuple[str, bool]:
        with self._cond:
            start = len(self.lines)
        self.proc.stdin.write(repr(src) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.lines)):
                    # a marker may end a line: another process of the node printed part of
                    # a line (print writes text and newline apart) just before it
                    mark = next((m for m in _MARKS if self.lines[i].endswith(m)), None)
                    if mark:
                        head = self.lines[i][: -len(mark)]
                        out = "\n".join(self.lines[start:i] + ([head] if head else []))
                        return out, mark == "<<<DONE>>>"
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: no answer to {src!r} within {timeout} s; output so far:\n{self.output}"
                    )
                self._cond.wait(left)

    def value(self, src: str, timeout: float = TIMEOUT):
        """The value of expression ``src`` on the node, via ``repr``/``eval`` here."""
        out = self.eval(src, timeout).strip().splitlines()
        return out[-1] if out else None

    def wait_output(self, text: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while text not in "\n".join(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: {text!r} never appeared; output:\n{self.output}")
                self._cond.wait(left)
        return self.output

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGCONT)
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)


def start_agent_node(argv: list[str], name: str, env: dict | None, cwd) -> NodeProc:
    """Popen ``argv`` (a pydist command ending in tests/agent.py) as a NodeProc.

    Shared by ``nodes`` here and the multi-host lab's nodes (tests/netns/labfixtures.py).
    """
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=base_env(**(env or {})),
        cwd=str(cwd),
        start_new_session=True,
    )
    return NodeProc(name, proc)


class NodeFactory:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.started: list[NodeProc] = []

    def start(
        self,
        prefix: str = "n",
        *extra: str,
        name: str | None = None,
        flag: str = "--sname",
        env: dict | None = None,
        cwd=None,
        wait: bool = True,
    ) -> NodeProc:
        name = name or unique(prefix)
        node = start_agent_node(pydist_cmd(flag, name, *extra, str(AGENT)), name, env, cwd or self.tmp)
        self.started.append(node)
        if wait:
            node.eval("node()", timeout=TIMEOUT)
        return node

    def stop_all(self):
        for node in self.started:
            node.stop()


@pytest.fixture
def nodes(tmp_path):
    factory = NodeFactory(tmp_path)
    yield factory
    factory.stop_all()


def _interrupt_on_sigterm(signum, frame):
    # a run stopped with SIGTERM (a CI timeout, `kill`) ends like Ctrl-C, so
    # pytest_sessionfinish still stops this run's private name server
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


def pytest_sessionfinish(session, exitstatus):
    subprocess.run(pydist_cmd("epmd", "--kill"), env=base_env(), capture_output=True, timeout=30)
