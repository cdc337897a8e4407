"""``%load_ext pydist``: an IPython kernel or terminal becomes a pydist node.

Loading the extension puts the prompt's built-ins (``Node``, ``spawn``,
``send``, ``receive``, ...) in the user's namespace, routes ``print`` through
group leaders (``_core/iofwd.py``) and registers ``%pydist``, which starts
distribution (``%pydist --sname nb``; ``pydist.start(...)`` in a cell does
the same). In a Jupyter kernel each cell is a group leader (``cells.py``):
what a cell prints, and what the processes it spawned print on any node,
shows in that cell. In a terminal, output of other processes shows above
IPython's prompt (``terminal.py``).

The thread running cells is a thread process (``self()`` has a mailbox);
``receive()`` stops on the kernel's interrupt (``KeyboardInterrupt``, as any
blocking call), and an exit signal (a linked process crashed) ends the cell
with Elixir's EXIT line (``_base.reasons.exit_signal``) while the kernel's process lives
on, as at pydist's own prompt. Everything here runs on the thread running
the cells, called by IPython's events.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .._base.errors import PydistError
from .._base.reasons import exit_signal
from .._core import interrupts, iofwd
from .._core.state import ProcessExitSignal, current

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_state: dict = {}  # shell -> its _Extension (loading twice changes nothing)


class _MagicParser(argparse.ArgumentParser):
    def error(self, message):
        raise PydistError(f"%pydist: {message} (see %pydist --help)")

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        raise _Done()


class _Done(Exception):
    """``%pydist --help`` printed its text."""


def _parser() -> argparse.ArgumentParser:
    p = _MagicParser(
        prog="%pydist",
        description="Make this kernel a pydist node; with no argument, say which node it is.",
    )
    p.add_argument("--sname", metavar="NAME[@HOST]", help="short node name")
    p.add_argument("--name", metavar="NAME@HOST", help="long node name (a fully qualified host or an IP)")
    p.add_argument("--cookie", help="the cluster's shared secret (else $PYDIST_COOKIE, else ~/.pydist.cookie)")
    p.add_argument("--port", metavar="N|MIN-MAX", help="the port (or range) to listen on (default: any)")
    p.add_argument("--ticktime", type=float, metavar="SECONDS", help="a silent peer is down within this (default 4)")
    return p


def _port(text: str | None):
    if text is None:
        return None
    try:
        low, _, high = text.partition("-")
        return (int(low), int(high or low))
    except ValueError:
        raise PydistError(f"%pydist: --port takes a port or a range like 9100-9105, not {text!r}") from None


def pydist_magic(line: str, what: str = "kernel") -> None:
    """``%pydist --sname NAME`` (or ``--name``, ``--cookie``, ``--port``, ``--ticktime``);
    ``what`` is how the messages call this session (a kernel, IPython)."""
    from .._api.node import DEFAULT_TICKTIME, Node, start

    try:
        args = _parser().parse_args(shlex.split(line))
        if not (args.sname or args.name):
            if Node.alive():
                peers = Node.list()
                print(f"this {what} is the node {Node.self()}; connected to {peers or 'no other node'}")
            else:
                print(f"this {what} is not distributed yet: %pydist --sname NAME makes it a node")
            return
        if args.sname and args.name:
            raise PydistError("%pydist: give either --sname or --name, not both")
        full = start(
            args.sname or args.name,
            longnames=bool(args.name),
            cookie=args.cookie,
            ticktime=args.ticktime or DEFAULT_TICKTIME,
            port=_port(args.port),
        )
        print(f"this {what} is the node {full}")
    except _Done:
        return
    except PydistError as err:
        sys.stderr.write(f"pydist: {err}\n")


class _Extension:
    """What one shell got from ``%load_ext pydist``."""

    def __init__(self, shell):
        self.shell = shell
        self.cells = None
        if hasattr(iofwd.TERMINAL.out, "set_thread_parent"):  # ipykernel's stream: a notebook
            from .cells import CellLeaders

            self.cells = CellLeaders(shell)
        else:
            from .terminal import print_above_prompt, remember_streams

            remember_streams()
            print_above_prompt(shell)

    def pre_run_cell(self, info=None) -> None:
        if self.cells is not None:
            self.cells.before_cell()
        proc = current()
        if proc is None:
            return
        early = _take_exit(proc)
        if early:
            sys.stderr.write(early)  # it reached the kernel between two cells
        proc.enter_user_code()  # an exit signal may stop this cell at a safe point

    def post_run_cell(self, result=None) -> None:
        proc = current()
        if proc is not None:
            proc.leave_user_code()


def _take_exit(proc) -> str | None:
    reason, from_ = proc.take_exit()
    return None if reason is None else exit_signal(reason, from_)


def _show_exit_signal(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for ``ProcessExitSignal``: Elixir's line, no traceback;
    the kernel's process survives it (its pending signal is cleared)."""
    proc = current()
    text = (_take_exit(proc) if proc is not None else None) or "** (EXIT) the cell was told to exit\n"
    stb = [text.rstrip("\n")]
    show = getattr(shell, "_showtraceback", None)  # IPython leaves showing it to the handler
    if show is not None:
        show(etype, value, stb)
    else:
        sys.stderr.write(text)
    return stb


def load_ipython_extension(shell, names=()) -> None:
    """``%load_ext pydist``: see the module's docstring. ``names`` are the
    prompt's built-ins (the facade passes them: this layer sits beside the
    prompt's and does not import it)."""
    if shell in _state:
        return
    import pydist

    from .._core.runtime import RUNTIME

    iofwd.install()
    ext = _state[shell] = _Extension(shell)
    taken = set(shell.user_ns) - set(getattr(shell, "user_ns_hidden", ()))
    builtins = {}
    for name in names:
        if name not in taken:  # a variable of the user's wins (for i in ...: i is not the i() built-in)
            try:
                builtins[name] = getattr(pydist, name)
            except (AttributeError, ImportError):
                pass
    shell.push(builtins, interactive=False)  # not listed by %who: they are built-ins, as at the prompt
    what = "kernel" if ext.cells is not None else "IPython"

    def magic(line: str) -> None:
        pydist_magic(line, what)

    magic.__doc__ = pydist_magic.__doc__
    shell.register_magic_function(magic, magic_kind="line", magic_name="pydist")
    shell.events.register("pre_run_cell", ext.pre_run_cell)
    shell.events.register("post_run_cell", ext.post_run_cell)
    shell.set_custom_exc((ProcessExitSignal,), _show_exit_signal)
    interrupts.boundary(_run_code(shell))  # the cell's frames are user code: safe points
    if RUNTIME.dist is None:
        print(f"pydist loaded: %pydist --sname NAME makes this {what} a node; h() lists the built-ins")
    else:
        print(f"pydist loaded on the node {RUNTIME.name}; h() lists the built-ins")


def _run_code(shell):
    """The function IPython runs a cell's code in (where it hands over to user code)."""
    fn = type(shell).run_code
    return getattr(fn, "__func__", fn)


def unload_ipython_extension(shell) -> None:
    """``%unload_ext pydist``: cells stop being group leaders (the node stays up)."""
    ext = _state.pop(shell, None)
    if ext is None:
        return
    for event, fn in (("pre_run_cell", ext.pre_run_cell), ("post_run_cell", ext.post_run_cell)):
        try:
            shell.events.unregister(event, fn)
        except ValueError:
            pass
    shell.set_custom_exc((), None)
