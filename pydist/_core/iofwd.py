"""Group leaders: where a process's ``print`` goes.

``sys.stdout``/``sys.stderr`` become ``ProcessStream``s that look at the
current process's group leader. A process whose group leader is this node's
own io server writes straight to the terminal; any other (the prompt of the
node that spawned it, on another node) gets the text as
``("$io", "stdout"|"stderr", text)`` messages, a line at a time as printed.
The io server is a handler process: its messages are written as they arrive,
with no thread of its own. ``TERMINAL`` is what the REPL redirects to print
above the prompt.

In a Jupyter kernel the streams replaced are ipykernel's, which route each
cell's output by the request that ran it (``set_parent``): a
``ProcessStream`` passes those calls on, and a notebook's cells may be group
leaders of their own (``add_terminal_leader``), re-stamped with the node's
name when it starts (``on_new_user_io``).
"""

from __future__ import annotations

import atexit
import io
import sys
import threading
import time
from typing import Any

from .runtime import RUNTIME
from .state import current

_MAX_PENDING = 8192


class Terminal:
    """This node's real output streams (swappable by the REPL)."""

    MAX_QUEUED = 8 * 1024 * 1024

    def __init__(self):
        self.out = sys.stdout
        self.err = sys.stderr
        self.lock = threading.RLock()
        self._qlock = threading.Lock()
        self._queue: list = []
        self._queued = 0
        self._dropped = 0
        self._ready = threading.Event()
        self._idle = threading.Event()
        self._writer = None

    def write(self, stream: str, text: str) -> None:
        sched = RUNTIME._sched
        if sched is not None and sched.ident == threading.get_ident():
            self.post(stream, text)  # the loop (a green process, a frame) never waits for a terminal
            return
        if self._queued:
            self.post(stream, text)  # text is queued: behind it, so every writer shares one order
            return
        self._write_now(stream, text)

    def _write_now(self, stream: str, text: str) -> None:
        with self.lock:  # the target is read under the lock: a redirect never splits a write
            target = self.err if stream == "stderr" else self.out
            try:
                try:
                    target.write(text)
                except UnicodeEncodeError:  # a stream we did not reconfigure: never drop the text
                    enc = getattr(target, "encoding", None) or "ascii"
                    target.write(text.encode(enc, "replace").decode(enc, "replace"))
                target.flush()
            except (OSError, ValueError):
                pass  # a closed terminal must not kill the process that printed

    def post(self, stream: str, text: str) -> None:
        """Write from a thread that must never block on the terminal.

        The I/O thread (remote output, log lines) hands text to a writer
        thread: a terminal that stops reading (a paused pane, a full pipe)
        then stalls only the output, never messaging. Past ``MAX_QUEUED``
        bytes, text is dropped and the drop is said.
        """
        with self._qlock:
            if self._queued + len(text) > self.MAX_QUEUED:
                self._dropped += len(text)
                return
            self._queued += len(text)
            self._queue.append((stream, text))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_queued, name="pydist-terminal", daemon=True)
                self._writer.start()
            self._ready.set()

    def _write_queued(self) -> None:
        while True:
            self._ready.wait()
            with self._qlock:
                batch, self._queue = self._queue, []
                dropped, self._dropped = self._dropped, 0
                self._ready.clear()
            for stream, text in batch:
                self._write_now(stream, text)
                with self._qlock:
                    self._queued -= len(text)
            if dropped:
                self.write(
                    "stderr", f"[warning] {dropped} bytes of output were dropped: the terminal was not reading\n"
                )
            if not batch:
                self._idle.set()

    def drain(self, timeout: float = 1.0) -> None:
        """Wait (a little) until posted text is written: before the node exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._qlock:
                if not self._queued:
                    return
            time.sleep(0.01)

    def redirect(self, out, err) -> tuple:
        """Point the terminal elsewhere (the prompt's writer above the line being
        typed); waits for a write in progress, so no text goes to a stream that
        is about to stop showing it."""
        with self.lock:
            old = (self.out, self.err)
            self.out, self.err = out, err
        return old


TERMINAL = Terminal()


# ipykernel's OutStream routes text by the request that printed it; the kernel
# calls these on sys.stdout, so a replacement that dropped them would leave every
# later cell silent (its output would go to the cell that started pydist).
_FORWARDED = frozenset({"set_parent", "set_thread_parent", "reset_thread_parent", "parent_header"})


class ProcessStream(io.TextIOBase):
    """A ``sys.stdout`` that follows the printing process's group leader."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __getattr__(self, attr):
        if attr in _FORWARDED:  # only what the stream it replaced has (hasattr stays honest)
            return getattr(self._target(), attr)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    @property
    def encoding(self):  # type: ignore[override]  # read-only, as on a real text stream
        return "utf-8"

    def _target(self):
        return TERMINAL.err if self.name == "stderr" else TERMINAL.out

    def isatty(self) -> bool:
        try:
            return self._target().isatty()
        except (AttributeError, ValueError):
            return False

    def fileno(self) -> int:
        return self._target().fileno()

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        p = current()
        if p is None:
            TERMINAL.write(self.name, text)
            return len(text)
        # Whole lines leave in one piece (print writes the text and the newline
        # separately; another process's line must not land in between).
        with _io_lock:
            buf = p.iobuf.get(self.name, "") + text
            cut = buf.rfind("\n") + 1
            if len(buf) - cut > _MAX_PENDING:
                cut = len(buf)
            out, p.iobuf[self.name] = buf[:cut], buf[cut:]
            if cut < len(buf):
                _partial.hold(p)  # a partial line still shows within DELAY seconds
        if out:
            gl = p.group_leader
            if gl is None or gl == RUNTIME.user_io:
                TERMINAL.write(self.name, out)
            else:
                _send_io(gl, self.name, out)
        sched = p.sched
        if sched is not None and sched.current is p:
            sched.spend()  # a process that keeps printing lets the others run, and obeys exit signals
        return len(text)

    def flush(self) -> None:
        p = current()
        # A partial line for another node's group leader leaves within _PartialLines.DELAY
        # anyway; held back till then, it is the prompt of an input() that reads right
        # after this flush (taken back by take_partial), so the home prompt shows it once.
        if p is not None and p.iobuf and writes_here(p.group_leader):
            flush_process(p)
        sched = RUNTIME._sched
        if sched is not None and sched.ident == threading.get_ident():
            return  # the loop never waits for a terminal (its text was posted anyway)
        try:  # then the real stream too: ipykernel sends what it holds before a cell's result
            self._target().flush()
        except (OSError, ValueError, AttributeError):
            pass


def _send_io(gl, stream: str, text: str) -> None:
    try:
        RUNTIME.send(gl, ("$io", stream, text))
    except Exception:
        TERMINAL.write(stream, text)


def flush_process(p) -> None:
    """Send what ``p`` printed without a newline yet (also at its exit)."""
    gl = p.group_leader
    with _io_lock:
        pending = [(stream, text) for stream, text in p.iobuf.items() if text]
        for stream, _ in pending:
            p.iobuf[stream] = ""
    for stream, text in pending:  # outside the lock: a slow terminal holds up only us
        if gl is None or gl == RUNTIME.user_io:
            TERMINAL.write(stream, text)
        else:
            _send_io(gl, stream, text)


def writes_here(gl) -> bool:
    """Whether a process with group leader ``gl`` shows its text on this node's terminal."""
    return gl is None or gl == RUNTIME.user_io or gl in _terminal_leaders


def take_partial(p, stream: str) -> str:
    """Take back what ``p`` printed on ``stream`` without a newline and has not sent yet."""
    with _io_lock:
        text = p.iobuf.get(stream, "")
        if text:
            p.iobuf[stream] = ""
    return text


def flush_all() -> None:
    """Every process's unfinished line, now (the node is about to exit)."""
    with RUNTIME.lock:
        procs = list(RUNTIME.procs.values())
    for p in procs:
        if p.iobuf:
            flush_process(p)


class _PartialLines:
    """Text printed without a newline reaches the group leader within
    ``DELAY`` seconds anyway (``print("working...", end="")`` in a process
    on another node must not wait for the process to end)."""

    DELAY = 0.2

    def __init__(self):
        self._held: dict = {}  # process -> when its partial text started waiting
        self._wake = threading.Event()
        self._thread = None

    def hold(self, p) -> None:  # called with _io_lock held
        if p not in self._held:
            self._held[p] = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pydist-iofwd", daemon=True)
                self._thread.start()
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.DELAY)
            now = time.monotonic()
            with _io_lock:
                due = [p for p, t in self._held.items() if now - t >= self.DELAY]
                for p in due:
                    del self._held[p]
                if not self._held:
                    self._wake.clear()
            for p in due:
                flush_process(p)


_io_lock = threading.RLock()
_partial = _PartialLines()


REQUEST_HANDLER: Any = None  # set by _core.ioread: read requests and their readers' DOWNs


def _io_server(msg) -> None:
    # runs on the I/O thread: hand the text over, never wait for the terminal
    if type(msg) is tuple and len(msg) == 3 and msg[0] == "$io" and isinstance(msg[2], str):
        TERMINAL.post("stderr" if msg[1] == "stderr" else "stdout", msg[2])
    elif type(msg) is tuple and REQUEST_HANDLER is not None:
        REQUEST_HANDLER(msg)


def _report_crash(p, text: str) -> None:
    """Crash reports go to this node's terminal and to the group leader's."""
    gl = p.group_leader
    if gl in _terminal_leaders:  # it writes to this terminal itself: once is enough
        _send_io(gl, "stderr", text)
        return
    TERMINAL.write("stderr", text)
    if gl is not None and gl != RUNTIME.user_io:
        _send_io(gl, "stderr", text)


_terminal_leaders: set = set()  # local group leaders that write to TERMINAL (a notebook's cells)
_new_user_io_hooks: list = []


def add_terminal_leader(pid) -> None:
    """``pid`` (a local handler process) writes what it is sent to this node's terminal."""
    _terminal_leaders.add(pid)


def on_new_user_io(hook) -> None:
    """Call ``hook()`` each time the io server is re-created (the node got a name):
    other local group leaders then re-stamp themselves too."""
    _new_user_io_hooks.append(hook)


def new_user_io():
    """(Re)create this node's io server (its pid names the node)."""
    old = RUNTIME.user_io
    RUNTIME.user_io = RUNTIME.add_handler_process(_io_server)
    if old is not None:
        with RUNTIME.lock:
            for p in RUNTIME.procs.values():
                if p.group_leader == old:
                    p.group_leader = RUNTIME.user_io
    for hook in list(_new_user_io_hooks):
        hook()
    return RUNTIME.user_io


_atexit_done = False


def _never_drop(stream) -> None:
    """A terminal or pipe that is not UTF-8 (``PYTHONIOENCODING=ascii``, a Latin-1
    locale) shows what it cannot encode as ``?``: with Python's strict default a
    ``print("café → ✓")`` raised UnicodeEncodeError, which a writer that must
    not die on a closed terminal swallowed, and the whole line vanished."""
    if isinstance(stream, ProcessStream) or getattr(stream, "errors", None) != "strict":
        return
    try:
        stream.reconfigure(errors="replace")
    except (AttributeError, ValueError, OSError):
        pass


def install() -> None:
    """Route ``print`` through group leaders (idempotent)."""
    if RUNTIME.user_io is None:
        new_user_io()
    RUNTIME.crash_reporter = _report_crash
    RUNTIME.flush_io = flush_process
    global _atexit_done
    if not _atexit_done:
        _atexit_done = True
        atexit.register(flush_all)
    for real in (sys.stdout, sys.stderr):
        _never_drop(real)
    if not isinstance(sys.stdout, ProcessStream):
        TERMINAL.out = sys.stdout
        sys.stdout = ProcessStream("stdout")
    if not isinstance(sys.stderr, ProcessStream):
        TERMINAL.err = sys.stderr
        sys.stderr = ProcessStream("stderr")
