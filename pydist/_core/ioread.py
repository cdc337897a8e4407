"""Reading a line through the group leader: ``input()`` in a process spawned from elsewhere.

Erlang's I/O protocol: a process reads by asking its group leader, which
owns the terminal. A process whose group leader is this node's io server
reads ``sys.stdin`` as before; any other sends::

    ("$io_request", reader pid, ref, ("get_line", prompt))

to its group leader and waits (a ``receive``: a green process yields) for::

    ("$io_reply", ref, "ok", line) | ("$io_reply", ref, "eof", None)
    | ("$io_reply", ref, "interrupted", None)

or the group leader's DOWN (its node went away: the read raises EOFError).
``input(prompt)`` writes the prompt to ``sys.stdout`` just before it reads;
that text is taken back out of the process's unsent line and travels in the
request, so the home prompt shows the question once, as its own prompt.

Home side (``READS``): the io server hands requests over here, on whatever
thread delivered them (the loop, mostly), so nothing here waits. It
monitors each reader; a reader that dies takes its request with it, which
frees the terminal. Whoever owns the terminal serves the requests: the
prompt registers a ``server`` callback (told, without waiting, that the
queue changed) and answers with ``answer``/``eof``/``cancel``; with no
prompt (``-e``, a script) a ``pydist-stdin`` thread reads this process's
real stdin for each request.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import deque

from .._base.terms import Pid, Ref, down_ref, is_down
from . import iofwd
from .runtime import RUNTIME
from .state import current

log = logging.getLogger("pydist")


class Request:
    __slots__ = ("mref", "prompt", "reader", "ref")

    def __init__(self, reader: Pid, ref: Ref, prompt: str):
        self.reader, self.ref, self.prompt = reader, ref, prompt
        self.mref: Ref | None = None

    @property
    def question(self) -> str:
        """What the home prompt shows: the reader's own prompt, or who reads."""
        return self.prompt or f"input() for {self.reader}: "


class Reads:
    """The read requests waiting for this node's terminal, oldest first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: deque[Request] = deque()
        self.server = None  # the prompt's callback: () -> None, must not wait
        self._stdin_lock = threading.Lock()

    def add(self, reader: Pid, ref: Ref, prompt: str) -> None:
        req = Request(reader, ref, prompt)
        io_proc = RUNTIME.local_proc(RUNTIME.user_io) if RUNTIME.user_io is not None else None
        with self._lock:
            self._queue.append(req)
        if io_proc is not None:
            req.mref = RUNTIME.monitor(io_proc, reader)  # its DOWN comes back through the io server
        self._changed()

    def reader_down(self, mref: Ref) -> None:
        with self._lock:
            gone = [r for r in self._queue if r.mref == mref]
            for r in gone:
                self._queue.remove(r)
        if gone:
            self._changed()

    def first(self) -> Request | None:
        with self._lock:
            return self._queue[0] if self._queue else None

    def pending(self, req: Request) -> bool:
        with self._lock:
            return req in self._queue

    def answer(self, req: Request, line: str) -> bool:
        return self._reply(req, "ok", line if line.endswith("\n") else line + "\n")

    def eof(self, req: Request) -> bool:
        return self._reply(req, "eof", None)

    def cancel(self, req: Request) -> bool:
        """Ctrl-C at home: the read raises KeyboardInterrupt in the reader."""
        return self._reply(req, "interrupted", None)

    def _reply(self, req: Request, kind: str, value) -> bool:
        with self._lock:
            if req not in self._queue:
                return False  # the reader died meanwhile: the line is the prompt's again
            self._queue.remove(req)
        io_proc = RUNTIME.local_proc(RUNTIME.user_io) if RUNTIME.user_io is not None else None
        if io_proc is not None and req.mref is not None:
            RUNTIME.demonitor(io_proc, req.mref)
        RUNTIME.send(req.reader, ("$io_reply", req.ref, kind, value))
        return True

    def _changed(self) -> None:
        server = self.server
        if server is not None:
            try:
                server()
            except Exception:
                log.exception("pydist: the prompt could not be told of a read request")
        elif self.first() is not None:
            threading.Thread(target=self._serve_stdin, name="pydist-stdin", daemon=True).start()

    def _serve_stdin(self) -> None:
        """No prompt owns the terminal: answer the oldest request from the real stdin."""
        with self._stdin_lock:
            req = self.first()
            if req is None or self.server is not None:
                return
            iofwd.TERMINAL.write("stdout", req.question)
            try:
                line = _REAL[0].readline() if _REAL else ""
            except (OSError, ValueError):
                line = ""
            if line:
                if not self.answer(req, line):
                    log.warning("pydist: %s stopped waiting for input; the line typed went nowhere", req.reader)
            else:
                self.eof(req)


READS = Reads()
_REAL: list = []  # the real sys.stdin, once install() replaced it


def on_io_message(msg) -> bool:
    """The io server's share of the protocol (any thread, never waits); True if handled."""
    if len(msg) == 4 and msg[0] == "$io_request":
        _, reader, ref, request = msg
        well_formed = type(reader) is Pid and type(ref) is Ref
        if well_formed and type(request) is tuple and len(request) == 2 and request[0] == "get_line":
            READS.add(reader, ref, str(request[1])[:1000])
            return True
        if well_formed:  # a request we do not know: say so, never hang it
            RUNTIME.send(reader, ("$io_reply", ref, "eof", None))
        return True
    mref = down_ref(msg)
    if mref is not None:
        READS.reader_down(mref)
        return True
    return False


class ProcessStdin(io.TextIOBase):
    """A ``sys.stdin`` that follows the reading process's group leader."""

    def __init__(self, real):
        super().__init__()
        self.real = real

    # a reader at home sees the real stdin in every respect
    @property
    def buffer(self):
        return self.real.buffer

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    @property
    def errors(self):  # type: ignore[override]
        return getattr(self.real, "errors", "strict")

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._remote() is None and self.real.isatty()

    def fileno(self) -> int:
        if self._remote() is not None:  # input() then reads through readline(), not the C terminal
            raise io.UnsupportedOperation("this process reads through its group leader")
        return self.real.fileno()

    def _remote(self):
        p = current()
        return None if p is None or iofwd.writes_here(p.group_leader) else p

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]  # text, as sys.stdin
        p = self._remote()
        if p is None:
            return self._local_line(-1 if size is None else size)
        return _get_line(p, iofwd.take_partial(p, "stdout"))

    def _local_line(self, size: int) -> str:
        # a line at a time from the bytes below: the text layer would read ahead a
        # whole chunk, and a piped prompt (which reads the bytes) would lose those lines
        buffer = getattr(self.real, "buffer", None)
        if buffer is None:
            return self.real.readline(size)
        return buffer.readline(size).decode(self.encoding or "utf-8", "replace")

    def read(self, size: int | None = -1) -> str:
        if self._remote() is None:
            return self.real.read(size if size is not None else -1)
        return self.readline()

    def __iter__(self):
        return self

    def __next__(self) -> str:  # type: ignore[override]
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _get_line(p, prompt: str) -> str:
    gl = p.group_leader
    ref = RUNTIME.make_ref()
    mref = RUNTIME.monitor(p, gl)
    RUNTIME.send(gl, ("$io_request", p.pid, ref, ("get_line", prompt)))

    def reply(m):
        return (type(m) is tuple and len(m) == 4 and m[0] == "$io_reply" and m[1] == ref) or is_down(m, mref)

    msg = p.receive(None, reply)
    if is_down(msg, mref):
        raise EOFError(f"input(): the group leader {gl} is gone ({msg[4]}), so nothing can answer the read")
    RUNTIME.demonitor(p, mref, flush=True)
    _, _, kind, value = msg
    if kind == "ok" and isinstance(value, str):
        return value
    if kind == "interrupted":
        raise KeyboardInterrupt(f"input(): the read was cancelled with Ctrl-C on {gl.node}")
    return ""  # end of input there: input() raises EOFError


def install() -> None:
    """``sys.stdin`` reads through group leaders (idempotent); the io server serves requests."""
    import sys

    iofwd.REQUEST_HANDLER = on_io_message
    if not isinstance(sys.stdin, ProcessStdin) and sys.stdin is not None:
        _REAL[:] = [sys.stdin]
        sys.stdin = ProcessStdin(sys.stdin)
