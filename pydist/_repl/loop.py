"""The prompt: ``run_repl(ns, remsh=None) -> exit code`` (called by the CLI).

Three ways in, one loop shape (read an entry, let an evaluator run it):

- a person at a terminal: prompt_toolkit (``_repl_term``) with the
  ``pydist(foo@vm)1> `` prompt, history, completion, output above the prompt;
- a dumb terminal (``TERM=dumb``): plain lines, prompts still printed;
- a pipe (``echo 'print(node())' | pydist --sname x``): lines without prompt
  decorations, for scripts and CI; blocks need no blank line before the next
  top-level statement. An entry that raises prints its traceback and the
  next one runs, but the exit code at end of input is then 1 (else 0), so a
  CI job notices; ``exit(n)`` ends at once with ``n``.

The prompt is a process (``self()``): it runs entries in the main thread, so
Ctrl-C is a KeyboardInterrupt right where the entry is (a loop, a
``receive()``, a slow ``rpc.call``). Exit signals (a linked process that
crashed) are printed iex-style and the prompt goes on. While the prompt
waits for input it is not "in user code" (``Process.enter_user_code``), so an
exit signal is never raised inside prompt_toolkit: a watcher shows it instead.
"""

from __future__ import annotations

import builtins
import os
import shutil
import sys
import threading
from typing import TYPE_CHECKING

from .._core.iofwd import TERMINAL
from .._core.ioread import READS
from .._core.runtime import RUNTIME
from .._core.state import ProcessExitSignal
from .evaluate import Evaluator, format_exception, is_complete, take_exit_signal
from .namespace import prompt_helpers

if TYPE_CHECKING:
    from .remsh import RemoteEvaluator  # imported when --remsh is given, not at start-up

__all__ = ["run_repl"]

STARTUP_FILE = ".pydist.py"
_CONTINUES = ("else", "elif", "except", "finally", "case")


def _exit_code(err: SystemExit) -> int:
    code = err.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    TERMINAL.write("stderr", f"{code}\n")
    return 1


def _say(text: str | None) -> None:
    if text:
        TERMINAL.write("stderr", text)


def _use_color() -> bool:
    try:
        tty = TERMINAL.out.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and os.environ.get("TERM", "") not in ("dumb", "unknown") and "NO_COLOR" not in os.environ


def _width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def run_repl(ns: dict, remsh: str | None = None) -> int:
    """Run the prompt until Ctrl-D/``exit()``/end of input; returns the exit code."""
    proc = RUNTIME.adopt()
    ns.update(prompt_helpers(ns))
    stdin_tty = _isatty(sys.stdin)
    fancy = stdin_tty and _isatty(TERMINAL.out) and os.environ.get("TERM", "") not in ("dumb", "unknown")
    color = _use_color()
    ev: Evaluator | RemoteEvaluator
    remote: RemoteEvaluator | None = None
    if remsh:
        from .._api.node import Node
        from .._base.errors import PydistError
        from .._base.names import qualify
        from .remsh import RemoteEvaluator

        target = qualify(remsh, RUNTIME.name)
        if Node.ping(target) != "pong":
            raise PydistError(
                f"--remsh: cannot reach {target} (Node.ping answered 'pang'); "
                "is it running, and does it share this node's cookie?"
            )
        ev = remote = RemoteEvaluator(target, color=color, width=_width())
    else:
        local = Evaluator(ns, color=color, width=_width())
        local.plain = not fancy
        ev = local
        if stdin_tty:
            _run_startup(ns)
    try:
        if fancy:
            return _prompt_loop(ev, proc, ns, remote=bool(remsh))
        return _line_loop(ev, proc, prompts=stdin_tty)
    finally:
        if remote is not None:
            remote.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _run_startup(ns: dict) -> None:
    """``.pydist.py`` from the current directory, else the home directory."""
    for folder in (os.getcwd(), os.path.expanduser("~")):
        path = os.path.join(folder, STARTUP_FILE)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    exec(compile(f.read(), path, "exec"), ns)
            except SystemExit:
                pass
            except BaseException as err:  # a broken start-up file must not stop the prompt
                _say(f"pydist: {path} failed (the prompt starts anyway):\n{format_exception(err)}")
            return


def _prompt_text(ev, continuation: bool = False) -> str:
    node = getattr(ev, "prompt_node", None)  # a --remsh session shows the node it runs on
    lead = "..." if continuation else "pydist"
    if node is None and RUNTIME.dist is None:
        return f"{lead}({ev.counter})> "
    return f"{lead}({node or RUNTIME.name}){ev.counter}> "


def _run_entry(ev, proc, text: str, asker=None) -> bool:
    """Run one entry; False if it raised (or an exit signal was shown before it).

    ``asker`` (a ``BusyAsker``) answers other processes' ``input()`` meanwhile.
    """
    early = take_exit_signal(proc)  # one that arrived just before this entry
    _say(early)
    ev.width = _width()
    if asker is not None:
        asker.start()
    proc.enter_user_code()  # from here an exit signal may interrupt the entry anywhere
    try:
        return ev.run(text) and not early
    finally:
        proc.leave_user_code()
        if asker is not None:
            asker.stop()


def _prompt_loop(ev, proc, ns: dict, remote: bool) -> int:
    from .complete import PromptCompleter
    from .reads import BusyAsker, serve_pending
    from .terminal import READ_DUE, PromptTerminal

    def names():
        return ev.names if remote else list(ns)

    def lookup(name):
        return ns[name] if name in ns else getattr(builtins, name)

    completer = PromptCompleter(names, lookup, namespace=None if remote else ns)
    term = PromptTerminal(completer=completer, proc=proc, on_idle_exit=_say)
    asker = BusyAsker(term)
    READS.server = asker.changed  # input() of processes whose group leader this prompt is
    from .. import __version__

    where = f"on {getattr(ev, 'prompt_node', RUNTIME.name)}" if RUNTIME.dist is not None else "not distributed"
    _say(
        f"pydist {__version__} (Python {sys.version.split()[0]}) {where}"
        f"{' (remote shell)' if remote else ''} - h() for help, Ctrl-D or exit() to leave\n"
    )
    threading.Thread(target=_warm_up, name="pydist-warm-up", daemon=True).start()
    try:
        while True:
            try:
                serve_pending(term)
                try:
                    text = term.read(_prompt_text(ev), _prompt_text(ev, continuation=True), reads_due=READS.first)
                except KeyboardInterrupt:
                    continue  # Ctrl-C clears the line
                except EOFError:
                    return 0
                if text is READ_DUE:
                    continue  # a process asks for a line: its question first, then this entry again
                _run_entry(ev, proc, text, asker)
            except SystemExit as err:
                return _exit_code(err)
            except KeyboardInterrupt:  # landed outside the entry itself
                _say("KeyboardInterrupt\n")
            except ProcessExitSignal:
                _say(take_exit_signal(proc) or "")
    finally:
        READS.server = None
        term.close()


def _warm_up() -> None:
    """Import rich while the person types, so the first value shows without a pause."""
    try:
        import rich.console
        import rich.pretty  # noqa: F401 (imported for the module cache only)
    except Exception:
        pass


def _read_lines(show_prompt):
    """stdin as text lines; bytes that are not UTF-8 become U+FFFD."""
    raw = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
    while True:
        show_prompt()
        line = raw.readline().decode("utf-8", "replace") if raw is not None else sys.stdin.readline()
        if not line:
            return
        yield line.rstrip("\r\n")


def _starts_statement(line: str) -> bool:
    if not line.strip() or line[0].isspace():
        return False
    word = line.split(None, 1)[0].rstrip(":")
    return word not in _CONTINUES and line[0] not in ")]}"


def _line_loop(ev, proc, prompts: bool) -> int:
    """Lines from stdin: a dumb terminal (with prompts) or a pipe (without).

    In a pipe the exit code at end of input is 1 if any entry raised.
    """
    pending: list[str] = []
    failed = False
    ev.interrupt_raises = not prompts

    asked: set = set()  # read requests whose question was shown

    def show_question():  # any thread: a process asks for a line; the next line read answers it
        req = READS.first()
        if req is not None and req.ref not in asked:
            asked.add(req.ref)
            TERMINAL.write("stdout", req.question)

    def show_prompt():
        show_question()
        if prompts and READS.first() is None:
            TERMINAL.write("stdout", _prompt_text(ev, continuation=bool(pending)))

    def flush_pending():
        nonlocal failed
        src = "\n".join(pending)
        pending.clear()
        if not _run_entry(ev, proc, src):
            failed = True

    lines = _read_lines(show_prompt)
    READS.server = show_question
    try:
        while True:
            try:
                line = next(lines, None)
                if line is None:
                    if pending:
                        flush_pending()
                    return 1 if failed and not prompts else 0
                req = READS.first()
                if req is not None and not pending and READS.answer(req, line):
                    continue  # the line answered another process's input()
                if not prompts and pending and _starts_statement(line) and is_complete("\n".join(pending) + "\n"):
                    flush_pending()  # a script's next statement closes the open block
                if not pending and not line.strip():
                    continue
                pending.append(line)
                src = "\n".join(pending)
                if is_complete(src) and (prompts or _done_in_script(src)):
                    flush_pending()
            except SystemExit as err:
                return _exit_code(err)
            except KeyboardInterrupt:
                req = READS.first()
                if req is not None:
                    READS.cancel(req)  # Ctrl-C cancels the read that was waiting
                if not prompts:
                    _say("KeyboardInterrupt\n")
                    return 130
                pending.clear()
                _say("\n")
            except ProcessExitSignal:
                _say(take_exit_signal(proc) or "")
                failed = True
    finally:
        READS.server = None
        lines.close()


def _done_in_script(src: str) -> bool:
    """In a pipe a block waits for the next top-level line (or the end of input)."""
    from .evaluate import _last_line_in_block

    return not _last_line_in_block(src)
