"""One entry of the prompt: compile, run, show the value, count.

The ``Evaluator`` knows nothing about terminals: it prints through
``sys.stdout``/``sys.stderr``, which follow the evaluating process's group
leader. That is what lets the same code serve the local prompt and a
``--remsh`` session on another node (its output travels home by itself).

Like iex, the counter advances only after an entry that did not raise, and
``v(n)`` returns entry ``n``'s value. Like Python, ``_`` is the last value
and ``None`` is not shown. Values are pretty-printed with rich (imported on
first use, so ``pydist -e`` never pays for it); huge ones are cut with a note.
"""

from __future__ import annotations

import ast
import io
import linecache
import sys

from .._base.reasons import exit_signal
from .._base.tracebacks import format_user_exception
from .._core import interrupts
from .._core.state import ProcessExitSignal, current
from .elixir import hint as elixir_hint

__all__ = ["INTERRUPT", "Evaluator", "format_exception", "is_complete", "take_exit_signal"]

MAX_LINES = 400  # a value's rendering longer than this is cut (the value stays in v(n))
MAX_CHARS = 40_000
MAX_ITEMS = 100  # items shown per container before rich writes "... +N"
MAX_STRING = 20_000
KEEP_RESULTS = 100  # iex keeps 20 by default; values older than this are forgotten
INTERRUPT = "$interrupt"  # the exit signal a --remsh client sends for Ctrl-C


# -- is the entry finished? -------------------------------------------------------
def is_complete(src: str) -> bool:
    """Whether the prompt should run ``src`` now or ask for another line.

    Open brackets, a trailing colon or backslash, an unfinished string: more.
    A block (``def``, ``class``, ``for`` ...) ends with an empty line, as in
    Python's own REPL. A one-line compound statement runs at once. Invalid
    input is "complete" so that its SyntaxError shows right away.
    """
    import codeop

    if not src.strip():
        return True
    lines = src.split("\n")
    ended_by_blank = len(lines) >= 2 and not lines[-1].strip()
    try:
        incomplete = codeop.compile_command(src, "<input>", "exec") is None
    except (SyntaxError, ValueError, OverflowError):
        return True
    if incomplete:  # an empty line ends a block that lacks its body (and shows the error)
        return ended_by_blank and not _open_brackets(src)
    return ended_by_blank or not _last_line_in_block(src)


def _open_brackets(src: str) -> bool:
    import tokenize

    try:
        for _ in tokenize.generate_tokens(io.StringIO(src).readline):
            pass
    except tokenize.TokenError:
        return True
    except SyntaxError:
        return False
    return False


def _last_line_in_block(src: str) -> bool:
    """True if the last logical line is indented (an open def/for/if block)."""
    import tokenize

    skip = {
        tokenize.NL,
        tokenize.COMMENT,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.NEWLINE,
        tokenize.ENDMARKER,
        tokenize.ENCODING,
    }
    first_col = None
    start_of_line = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.NEWLINE:
                start_of_line = True
            elif tok.type not in skip and start_of_line:
                first_col = tok.start[1]
                start_of_line = False
    except (tokenize.TokenError, SyntaxError):
        return False
    return bool(first_col)


# -- exceptions --------------------------------------------------------------------
def format_exception(err: BaseException) -> str:
    """The traceback as Python prints it, without pydist's own frames."""
    return format_user_exception(err)


def take_exit_signal(proc=None) -> str | None:
    """Clear a pending exit signal of the prompt's process and say what it was.

    The prompt survives exit signals (a linked process that crashed): iex
    restarts its shell process; we keep ours, and its namespace, alive.
    """
    proc = proc or current()
    if proc is None:
        return None
    reason, from_ = proc.take_exit()
    if reason is None:
        return None
    return exit_signal(reason, from_)


# -- values ------------------------------------------------------------------------
def render_value(value, *, color: bool, width: int) -> str:
    """``value`` pretty-printed by rich (with colours if ``color``), cut if huge."""
    try:
        from rich.console import Console
        from rich.pretty import Pretty

        buf = io.StringIO()
        console = Console(
            file=buf,
            force_terminal=color,
            no_color=not color,
            width=max(width, 20),
            color_system="standard" if color else None,
            soft_wrap=False,
            legacy_windows=False,
            force_jupyter=False,
            force_interactive=False,
        )
        # what draws itself (a rich Tree from Supervisor.tree, a trace Chart) is drawn, not repr'd
        draws = not isinstance(value, str) and hasattr(type(value), "__rich_console__")
        console.print(value if draws else Pretty(value, max_length=MAX_ITEMS, max_string=MAX_STRING))
        text = buf.getvalue()
    except Exception as err:  # a broken __repr__ says so, it does not crash the prompt
        try:
            text = repr(value) + "\n"
        except Exception:
            text = f"<{type(value).__name__} object: its repr failed: {type(err).__name__}: {err}>\n"
    return truncate(text)


def truncate(text: str, where: str = "the value is still in v() and _") -> str:
    lines = text.splitlines(True)
    cut = None
    if len(lines) > MAX_LINES:
        cut = f"{len(lines) - MAX_LINES} more lines"
        lines = lines[:MAX_LINES]
    out = "".join(lines)
    if len(out) > MAX_CHARS:
        cut = f"{len(text) - MAX_CHARS} more characters"
        out = out[:MAX_CHARS] + "\n"
    if cut:
        out += f"... (output truncated: {cut}; {where})\n"
    return out


class Evaluator:
    """Runs entries in ``ns`` and keeps the counter and the results."""

    def __init__(self, ns: dict, *, color: bool = False, width: int = 80):
        self.ns = ns
        self.counter = 1
        self.attempts, self.attempts_at = 0, 1  # entries tried at this counter (errors do not advance it)
        self.results: dict[int, object] = {}
        self.color = color
        self.width = width
        self.plain = False  # piped mode: plain repr, no rich
        self.fatal_from: set = set()  # exit signals from these pids end the evaluator's process
        self.interrupt_raises = False  # piped mode: Ctrl-C stops everything
        self.last_error: BaseException | None = None  # for tb()
        ns["v"] = self.v
        ns["tb"] = self.tb

    def tb(self) -> None:
        """The last error of this prompt with every frame, the folded library frames too."""
        from .tracebacks import entry_traceback

        if self.last_error is None:
            print("no entry has raised an exception yet")
            return
        sys.stdout.write(entry_traceback(self.last_error, color=self.color and not self.plain, mode="all"))

    def v(self, n: int | None = None):
        """The value of entry ``n`` (``v()`` the last, ``v(-2)`` the one before it)."""
        if n is None:
            n = -1
        if not isinstance(n, int):
            raise TypeError(f"v(n): n is an entry number like 3 (or -1 for the last), not {n!r}")
        k = self.counter + n if n < 0 else n
        if k not in self.results:
            raise ValueError(
                f"v({n}): no result for entry {k}; entries run so far: "
                f"{min(self.results, default=0)}..{self.counter - 1}"
            )
        return self.results[k]

    def run(self, src: str) -> bool:
        """Run one entry; True if it succeeded (then the counter advanced).

        Exceptions are printed (without pydist's frames) and the prompt goes
        on; an exit signal is printed iex-style. ``SystemExit`` propagates:
        ``exit()`` leaves the prompt.
        """
        if not src.strip():
            return False
        fname = self._filename()
        linecache.cache[fname] = (len(src), None, src.splitlines(True) or ["\n"], fname)
        from .help import set_width

        set_width(self.width)  # h() fits the terminal this entry was typed at
        try:
            value = self._execute(src, fname)
            self._show(value)
        except SystemExit:
            raise
        except ProcessExitSignal as err:
            proc = current()
            if proc is not None and proc.pending_exit == INTERRUPT:
                take_exit_signal(proc)
                sys.stderr.write(format_exception(KeyboardInterrupt().with_traceback(err.__traceback__)))
                return False
            if proc is not None and proc.exit_from in self.fatal_from:
                raise
            sys.stderr.write(take_exit_signal(proc) or "** (EXIT) the prompt was told to exit\n")
            return False
        except BaseException as err:  # the user's code may raise anything
            if self.interrupt_raises and isinstance(err, KeyboardInterrupt):
                raise
            from .tracebacks import entry_traceback

            self.last_error = err
            # a person sees colour, library frames folded (tb() unfolds); a pipe gets every frame
            mode = "full" if self.plain else "fold"
            sys.stderr.write(entry_traceback(err, color=self.color and not self.plain, width=self.width, mode=mode))
            note = elixir_hint(src, err)  # Node.connect(:bar@vm), fn -> end, IO.puts, nil ...
            if note:
                sys.stderr.write(f"hint: {note}\n")
            return False
        finally:
            _flush_streams()
        self.results[self.counter] = value
        self.results.pop(self.counter - KEEP_RESULTS, None)
        self.counter += 1
        return True

    def _filename(self) -> str:
        """The entry's name in tracebacks: the number its prompt showed.

        Failed entries do not advance the counter, so a retry at the same
        prompt gets ``<pydist:8#2>``: every entry keeps its own linecache
        lines (a function it defined still shows its source later).
        """
        self.attempts = self.attempts + 1 if self.attempts_at == self.counter else 1
        self.attempts_at = self.counter
        n = self.counter
        return f"<pydist:{n}>" if self.attempts == 1 else f"<pydist:{n}#{self.attempts}>"

    @interrupts.boundary  # where the prompt hands over to the entry: exit signals may land below
    def _execute(self, src: str, fname: str):
        tree = ast.parse(src, fname, "exec")
        last = None
        tail = tree.body[-1] if tree.body else None
        if isinstance(tail, ast.Expr):
            tree.body.pop()
            last = ast.Expression(tail.value)
        if tree.body:
            exec(compile(tree, fname, "exec"), self.ns)
        if last is None:
            return None
        value = eval(compile(last, fname, "eval"), self.ns)
        return value

    def _show(self, value) -> None:
        if value is None:
            return
        self.ns["_"] = value
        if self.plain:
            try:
                text = truncate(repr(value) + "\n")
            except Exception as err:
                text = f"<repr failed: {type(err).__name__}: {err}>\n"
        else:
            text = render_value(value, color=self.color, width=self.width)
        sys.stdout.write(text)


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
