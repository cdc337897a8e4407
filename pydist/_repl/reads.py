"""The prompt answers ``input()`` of processes whose group leader it is.

A process on another node (or a ``--remsh`` session) reads through this
node's io server (``_core/ioread.py``); the prompt owns the terminal, so it
serves those requests, oldest first:

- at an idle prompt, the entry being typed gives way (it comes back
  afterwards) and the question is the prompt: the next line typed answers it;
- while an entry runs (``receive()`` waiting for that very answer, a remote
  shell's entry), a ``pydist-ask`` thread shows the question the same way;
- Ctrl-C at the question cancels the read (``input()`` raises
  KeyboardInterrupt in the reader), Ctrl-D answers end of input (EOFError);
- a reader that dies withdraws its question, and the prompt is back.

In a pipe or at a dumb terminal (``_line_loop``) the question is printed and
the next line read answers it; lines are read between entries only.
"""

from __future__ import annotations

import threading

from .._core.iofwd import TERMINAL
from .._core.ioread import READS
from .terminal import WITHDRAWN

__all__ = ["BusyAsker", "answer_one", "serve_pending"]


def answer_one(term, req) -> None:
    """Show ``req``'s question on ``term`` and answer it with the line typed."""
    try:
        line = term.ask(req.question, lambda: READS.pending(req))
    except KeyboardInterrupt:
        READS.cancel(req)
        return
    except EOFError:
        READS.eof(req)
        return
    if line is WITHDRAWN or not READS.answer(req, line):
        TERMINAL.write("stderr", f"** {req.reader} stopped waiting for input (it ended); the prompt is back\n")


def serve_pending(term) -> None:
    """Answer every waiting request, then return (the prompt comes back)."""
    while True:
        req = READS.first()
        if req is None:
            return
        answer_one(term, req)


class BusyAsker:
    """While an entry runs: questions are asked in a ``pydist-ask`` thread."""

    def __init__(self, term):
        self.term = term
        self.wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def changed(self) -> None:
        """Read requests came or went (any thread, never waits)."""
        self.wake.set()
        self.term.reads_changed()

    def start(self) -> None:
        with self._lock:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="pydist-ask", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """The entry ended: a question on screen stays until answered, then the prompt."""
        with self._lock:
            self._stop = True
            thread = self._thread
        self.wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            req = READS.first()
            if req is None:
                self.wake.wait(0.5)
                self.wake.clear()
            with self._lock:
                if self._stop:
                    return
            if req is not None:
                answer_one(self.term, req)
