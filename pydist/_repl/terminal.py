"""The interactive terminal: a prompt_toolkit session, and output above it.

Imported only when a person is typing (prompt_toolkit costs ~0.1 s to
import, which ``pydist -e`` must not pay).

Why not plain ``patch_stdout``: it swaps ``sys.stdout``, which pydist
already owns (``sys.stdout`` follows the printing process's group leader).
Instead ``TERMINAL`` — where everything this node shows ends up — is
pointed at an ``AboveWriter``. While the prompt is on screen the writer
hands text to prompt_toolkit's ``run_in_terminal`` (the prompt is erased,
the text printed, the prompt and its half-typed line redrawn); while an
entry runs it writes straight through, so output stays in order. A line
without its newline is held at most ``PARTIAL_DELAY`` seconds, then shown.
"""

from __future__ import annotations

import asyncio
import os
import threading

from .._core.iofwd import TERMINAL
from .editing import EditState, add_bindings
from .evaluate import take_exit_signal

__all__ = ["READ_DUE", "WITHDRAWN", "AboveWriter", "PromptTerminal", "clean_text"]

READ_DUE = object()  # read() gave way: a process asked this terminal for a line
WITHDRAWN = object()  # ask() gave way: the process that asked is gone

PARTIAL_DELAY = 0.3
HISTORY_FILE = "~/.pydist_history"


def clean_text(text: str) -> str:
    """Replace what cannot be UTF-8 (a non-UTF-8 paste arrives as surrogates)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


class _Side:
    """One of the two streams TERMINAL writes to (stdout or stderr)."""

    def __init__(self, writer: AboveWriter, name: str):
        self._writer, self._name = writer, name

    def write(self, text: str) -> int:
        self._writer.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self._writer.real[self._name].isatty()

    def fileno(self) -> int:
        return self._writer.real[self._name].fileno()

    @property
    def encoding(self) -> str:
        return "utf-8"


class AboveWriter:
    """Writes this node's output above the prompt while the prompt is shown."""

    def __init__(self, real_out, real_err):
        self.real = {"stdout": real_out, "stderr": real_err}
        self.out, self.err = _Side(self, "stdout"), _Side(self, "stderr")
        self._lock = threading.RLock()
        self._pending: list[tuple[str, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        self.at_line_start = True  # so the prompt never starts after a half line

    def write(self, name: str, text: str) -> None:
        if not text:
            return
        with self._lock:
            if self._loop is None:
                self._drain(force=False, direct=True)
                self._raw(name, text)
                return
            self._pending.append((name, text))
            if not self._scheduled:
                self._scheduled = True
                try:
                    self._loop.call_soon_threadsafe(self._in_loop, False)
                except RuntimeError:  # the loop just closed: the prompt is gone
                    self._loop = None
                    self._drain(force=False, direct=True)

    def attach(self, loop) -> None:
        """The prompt is on screen (called in its event loop)."""
        with self._lock:
            self._loop = loop
            if self._pending and not self._scheduled:
                self._scheduled = True
                loop.call_soon(self._in_loop, False)

    def detach(self) -> None:
        """The prompt is gone: write what waits, and write directly from now on."""
        with self._lock:
            self._loop = None
            self._drain(force=False, direct=True)

    def _in_loop(self, force: bool) -> None:
        from prompt_toolkit.application import run_in_terminal

        def show():
            with self._lock:
                self._drain(force=force, direct=False)

        with self._lock:
            self._scheduled = False
            if not self._pending:
                return
        run_in_terminal(show, in_executor=False)

    def _drain(self, force: bool, direct: bool) -> None:
        items, self._pending = self._pending, []
        if not items:
            return
        if not direct:  # keep a half line back for a while: the redrawn prompt would erase it
            name, text = items[-1]
            if not text.endswith("\n"):
                cut = text.rfind("\n") + 1
                if force:
                    items[-1] = (name, text + "\n")
                else:
                    items[-1] = (name, text[:cut])
                    self._pending.append((name, text[cut:]))
                    if self._loop is not None:
                        self._loop.call_later(PARTIAL_DELAY, self._in_loop, True)
        for name, text in items:
            self._raw(name, text)

    def _raw(self, name: str, text: str) -> None:
        stream = self.real[name]
        try:
            stream.write(text)
            stream.flush()
            self.at_line_start = text.endswith("\n")
        except (OSError, ValueError):
            pass


class PromptTerminal:
    """Reads entries with prompt_toolkit; owns TERMINAL's redirection."""

    def __init__(self, *, completer, proc, on_idle_exit):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.completion import ThreadedCompleter
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.lexers import PygmentsLexer
        from prompt_toolkit.output import create_output
        from pygments.lexers.python import PythonLexer

        class _History(FileHistory):
            def store_string(self, string: str) -> None:
                try:
                    super().store_string(clean_text(string))
                except OSError:
                    pass  # a read-only home must not break the prompt

        self.proc = proc
        self.on_idle_exit = on_idle_exit
        self._running: tuple | None = None  # (app, loop, still_wanted) of the prompt on screen
        self._run_lock = threading.Lock()
        self._kept = ""  # the half-typed entry a question interrupted
        self._ask_session: PromptSession[str] | None = None
        self.writer = AboveWriter(TERMINAL.out, TERMINAL.err)
        self._old = TERMINAL.redirect(self.writer.out, self.writer.err)
        self.continuation = "... "
        self.edit = EditState()  # paste mode (editing.py owns the keys)
        history = _History(os.path.expanduser(HISTORY_FILE))  # read lazily; a missing file is fine
        self.session: PromptSession[str] = PromptSession(
            multiline=True,
            key_bindings=self._bindings(),
            lexer=PygmentsLexer(PythonLexer),
            completer=ThreadedCompleter(completer),
            complete_while_typing=False,
            history=history,
            auto_suggest=AutoSuggestFromHistory(),
            enable_history_search=False,
            output=create_output(stdout=self.writer.real["stdout"]),
            prompt_continuation=self._continuation,
            tempfile_suffix=".py",
            enable_suspend=True,  # Ctrl-Z stops pydist as a shell's job (fg brings it back)
        )
        self.edit.session = self.session

    def _continuation(self, width: int, line_number: int, wrap_count: int) -> str:
        """``...`` starts each new line of an entry; a long line that merely
        wraps on screen continues under its own text (as in ptpython)."""
        return " " * width if wrap_count else self.continuation

    def _bindings(self):
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.key_binding import KeyBindings

        kb = KeyBindings()
        add_bindings(kb, self.edit)  # Enter, Meta-Enter, auto-indent, paste mode, pasted prompts

        @Condition
        def _at_indent():
            doc = _app().current_buffer.document
            return not doc.current_line_before_cursor.strip()

        @kb.add("tab", filter=_at_indent)
        def _indent(event):
            event.current_buffer.insert_text("    ")

        @Condition
        def _on_blank_last_line():
            buf = _app().current_buffer
            doc = buf.document
            return bool(buf.text.strip()) and doc.is_cursor_at_the_end and not doc.current_line.strip()

        @kb.add("c-d", filter=_on_blank_last_line)
        def _end_entry(event):
            """Ctrl-D on an empty ``...`` line ends the entry and runs it, as in
            Python's REPL (an open bracket then shows its SyntaxError). On an
            empty prompt Ctrl-D still leaves; elsewhere it deletes a character."""
            event.current_buffer.validate_and_handle()

        return kb

    def read(self, prompt: str, continuation: str, *, reads_due=lambda: False):
        """One entry (raises EOFError on Ctrl-D, KeyboardInterrupt on Ctrl-C).

        Returns READ_DUE instead when ``reads_due()`` is or becomes true (see
        ``reads_changed``): the half-typed entry comes back at the next read.
        """
        self.continuation = continuation

        def pre_run():
            app = _app()
            self.writer.attach(asyncio.get_running_loop())
            app.create_background_task(self._watch_exits())
            self._on_screen(app, lambda: not reads_due(), READ_DUE)

        with self.writer._lock:
            if not self.writer.at_line_start:
                self.writer._raw("stdout", "\n")
        kept, self._kept = self._kept, ""
        try:
            text = self.session.prompt(prompt, pre_run=pre_run, default=kept)
            return text if text is READ_DUE else clean_text(text)
        finally:
            self._off_screen()
            self.writer.at_line_start = True  # the accepted line ended with a newline
            self.writer.detach()

    def ask(self, question: str, still_wanted):
        """One line for a process that reads through this terminal (``input()``
        on another node); any thread. WITHDRAWN once ``still_wanted()`` is false."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.output import create_output

        if self._ask_session is None:
            self._ask_session = PromptSession(output=create_output(stdout=self.writer.real["stdout"]))

        def pre_run():
            self.writer.attach(asyncio.get_running_loop())
            self._on_screen(_app(), still_wanted, WITHDRAWN)

        with self.writer._lock:
            if not self.writer.at_line_start:
                self.writer._raw("stdout", "\n")
        try:
            text = self._ask_session.prompt(question, pre_run=pre_run)
            return text if text is WITHDRAWN else clean_text(text)
        finally:
            self._off_screen()
            self.writer.at_line_start = True
            self.writer.detach()

    def _on_screen(self, app, still_wanted, result) -> None:
        with self._run_lock:
            self._running = (app, asyncio.get_running_loop(), still_wanted, result)
        self._check(app, still_wanted, result)  # it may have changed before the prompt was up

    def _off_screen(self) -> None:
        with self._run_lock:
            self._running = None

    def reads_changed(self) -> None:
        """Read requests came or went (any thread, never waits): the prompt on
        screen gives way if it is no longer the one wanted."""
        with self._run_lock:
            running = self._running
        if running is not None:
            app, loop, still_wanted, result = running
            try:
                loop.call_soon_threadsafe(self._check, app, still_wanted, result)
            except RuntimeError:
                pass  # that prompt just closed

    def _check(self, app, still_wanted, result) -> None:
        if app.is_running and not app.is_done and not still_wanted():
            if result is READ_DUE:
                self._kept = app.current_buffer.text
            app.exit(result=result)

    async def _watch_exits(self):
        """Exit signals that reach the idle prompt are shown at once, iex-style."""
        while True:
            await asyncio.sleep(0.1)
            if self.proc.pending_exit is not None:
                text = take_exit_signal(self.proc)
                if text:
                    self.on_idle_exit(text)

    def close(self) -> None:
        self.writer.detach()
        TERMINAL.redirect(*self._old)


def _app():
    from prompt_toolkit.application import get_app

    return get_app()
