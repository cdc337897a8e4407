"""A person at a terminal: ``pydist`` under pexpect in a real pty.

``Term.expect`` matches against what the screen shows: the output with
terminal escape sequences (colours, cursor moves) removed, so a test reads
like a transcript; ``Term.screen`` is the screen itself (a VT100 emulator,
pyte), for what was erased or redrawn. Every wait has a deadline and fails with the screen's
last lines.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pexpect
import pytest
from conftest import TIMEOUT, base_env

_ESC = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r")


def screen_text(raw: str) -> str:
    return _ESC.sub("", raw)


class Term:
    """One ``pydist`` (or ``python -m module``) in a pty (TERM=xterm unless told otherwise)."""

    def __init__(self, *args: str, cwd, env: dict | None = None, dims=(40, 200), module: str = "pydist"):
        env = base_env(**{"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "PYTHONUNBUFFERED": None, **(env or {})})
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", module, *args],
            env=env,
            cwd=str(cwd),
            encoding="utf-8",
            codec_errors="replace",
            dimensions=dims,
            timeout=TIMEOUT,
        )
        self.dims = dims
        self.raw = ""
        self.pos = 0  # matches start after the previous match
        self.eof = False

    @property
    def text(self) -> str:
        return screen_text(self.raw)

    def _pump(self, timeout: float) -> None:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            self.eof = True

    def expect(self, pattern: str, timeout: float = TIMEOUT, literal: bool = True) -> re.Match:
        """Wait until ``pattern`` appears on screen after the previous match."""
        rx = re.compile(re.escape(pattern) if literal else pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            m = rx.search(text, self.pos)
            if m:
                self.pos = m.end()
                return m
            if self.eof or time.monotonic() > deadline:
                why = "the program ended" if self.eof else f"{timeout} s passed"
                raise AssertionError(
                    f"{pattern!r} did not appear ({why}); screen after the last match:\n{text[self.pos :][-3000:]}"
                )
            self._pump(0.05)

    def screen(self) -> str:
        """The screen as the person sees it now (a VT100 emulator fed everything
        so far): erased text is gone, a redrawn prompt is where it ends up."""
        import pyte

        screen = pyte.Screen(self.dims[1], self.dims[0])
        pyte.Stream(screen).feed(self.raw)
        return "\n".join(line.rstrip() for line in screen.display).rstrip("\n")

    def expect_screen(self, pattern: str, timeout: float = TIMEOUT) -> re.Match:
        """Wait until the screen shows a match of the regular expression ``pattern``."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            m = rx.search(shown)
            if m:
                return m
            if self.eof or time.monotonic() > deadline:
                why = "the program ended" if self.eof else f"{timeout} s passed"
                raise AssertionError(f"{pattern!r} is not on the screen ({why}); the screen:\n{shown}")
            self._pump(0.05)

    def settle(self, seconds: float = 0.3) -> str:
        """Read whatever arrives for ``seconds`` (for asserting that something did NOT appear)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.eof:
            self._pump(0.05)
        return self.text[self.pos :]

    def type(self, text: str) -> None:
        self.child.send(text)

    def line(self, text: str) -> None:
        self.child.send(text + "\r")

    def raw_bytes(self, data: bytes) -> None:
        os.write(self.child.child_fd, data)

    def ctrl(self, key: str) -> None:
        self.child.sendcontrol(key)

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._pump(0.1)
        self.child.expect(pexpect.EOF, timeout=max(0.1, deadline - time.monotonic()))
        self.child.close()
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture(name="terms")
def terms_fixture(tmp_path):
    """``terms("--sname", name)`` starts a pydist prompt; all are killed at the end."""
    started: list[Term] = []

    def start(*args: str, cwd=None, env=None, dims=(40, 200), module="pydist") -> Term:
        t = Term(*args, cwd=cwd or tmp_path, env=env, dims=dims, module=module)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()
