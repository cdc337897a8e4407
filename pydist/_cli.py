"""The ``pydist`` command: parse flags, start the node, then run
``-e CODE``, a script, or the prompt.

User errors print one line (``pydist: …``) and exit 1; usage errors exit
2; no traceback for either. ``pydist --help`` lists the flags and the
environment variables.
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys
import threading

from ._base.errors import PydistError, UsageError

__all__ = ["main"]

_DESCRIPTION = "A Python prompt that is also a node of a cluster (distributed Python, the Erlang way)."
_EPILOG = """\
other commands:
  pydist epmd [--names|--kill|--daemon]   the name server (nodes start it when none answers)
  pydist observer NODE                    a live view of NODE and its cluster (q leaves)

environment:
  PYDIST_COOKIE      the cookie, when --cookie is not given (else ~/.pydist.cookie)
  PYDIST_EPMD_PORT   the name server's port (default 4370)
  PYDIST_CONFIG      the config file, when --config is not given
  PYDIST_LOG_LEVEL   the log level, when --log-level is not given
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"pydist: {message} (see pydist --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(
        prog="pydist", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sname", metavar="NAME[@HOST]", help="short node name; HOST defaults to this machine's short name")
    p.add_argument(
        "--name", metavar="NAME@HOST", help="long node name; HOST is a fully qualified name or an IP address"
    )
    p.add_argument("--cookie", help="the cluster's shared secret (else $PYDIST_COOKIE, else ~/.pydist.cookie)")
    p.add_argument(
        "-S", "--app", metavar="APP", help="start application APP (module, package or path) before the prompt"
    )
    p.add_argument("-e", "--eval", metavar="CODE", help="run CODE as this node, then exit (with -i: then the prompt)")
    p.add_argument("-i", dest="interactive", action="store_true", help="open the prompt after -e CODE or SCRIPT")
    p.add_argument("--remsh", metavar="NODE", help="a prompt that evaluates on NODE (this node connects hidden)")
    p.add_argument(
        "--hidden",
        action="store_true",
        help="connect hidden: left out of Node.list() on other nodes, connections never made transitive",
    )
    p.add_argument(
        "--ticktime",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a silent peer is declared down within this many seconds (default 4)",
    )
    p.add_argument(
        "--port", metavar="N|MIN-MAX", help="the port (or range) this node listens on (default: any free port)"
    )
    p.add_argument("--config", metavar="FILE", help="application settings (TOML, a table per app; else $PYDIST_CONFIG)")
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help="the least severe log lines shown (default info, or $PYDIST_LOG_LEVEL)",
    )
    p.add_argument(
        "--log-timestamps",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time of day on each log line (default: only when stderr is not a terminal)",
    )
    p.add_argument("--version", action="version", version=f"pydist {__version__}")
    p.add_argument("script", nargs="?", metavar="SCRIPT", help="a Python file to run as this node")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for SCRIPT (sys.argv[1:])")
    return p


def _port_spec(text: str | None):
    if text is None:
        return None
    try:
        if "-" in text:
            low, high = (int(x) for x in text.split("-", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise UsageError(f"--port takes a port or a range like 9100-9105, not {text!r}") from None
    if not (0 < low <= high < 65536):
        raise UsageError(f"--port: {text!r} is not a valid port or range")
    return (low, high)


class _TerminalHandler(logging.Handler):
    """Log lines go where the node's terminal output goes (above the prompt)."""

    def emit(self, record):
        from ._core.iofwd import TERMINAL

        try:
            line = self.format(record) + "\n"
            name = threading.current_thread().name
            if name.startswith("pydist-") and name != "pydist-proc":
                TERMINAL.post("stderr", line)  # the runtime's own threads never wait for a terminal
            else:
                TERMINAL.write("stderr", line)
        except Exception:
            pass


def _lowercase_level(record: logging.LogRecord) -> bool:
    record.__dict__["level"] = record.levelname.lower()  # what the formatter's %(level)s shows
    return True


LOG_LEVELS = ("debug", "info", "warning", "error")


def setup_logging(level: str | None = None, timestamps: bool | None = None) -> None:
    """The ``pydist`` logger: ``[info] message`` lines where the terminal output goes.

    ``level`` (default ``$PYDIST_LOG_LEVEL``, else info) is the least severe
    line shown; ``timestamps`` (default: when stderr is not a terminal, so a
    log file says when) puts the time of day after the level, so the line
    still starts with ``[level]`` for whoever filters on it.
    """
    level = level or os.environ.get("PYDIST_LOG_LEVEL") or "info"
    if level not in LOG_LEVELS:
        raise UsageError(f"PYDIST_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    if timestamps is None:
        timestamps = not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    log = logging.getLogger("pydist")
    if not log.handlers:
        terminal = _TerminalHandler()
        terminal.addFilter(_lowercase_level)
        log.addHandler(terminal)
        log.propagate = False
    fmt = "[%(level)s] %(asctime)s.%(msecs)03d %(message)s" if timestamps else "[%(level)s] %(message)s"
    for handler in log.handlers:
        if isinstance(handler, _TerminalHandler):
            handler.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))  # [info], as Elixir's logger
    log.setLevel(level.upper())


def _print_exception(err: BaseException) -> None:
    from ._base.tracebacks import format_user_exception

    sys.stderr.write(format_user_exception(err, compact=False))


def _run_code(fn) -> int:
    try:
        fn()
        return 0
    except SystemExit as err:
        code = err.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(f"{code}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BaseException as err:  # the user's code failed: show it as Python would
        _print_exception(err)
        return 1


def _current_directory_first() -> None:
    """Modules of the current directory import, as with ``python`` and ``python -m pydist``.

    The installed ``pydist`` command is a console script: Python puts the
    script's own folder (the venv's ``bin``) first on ``sys.path``, not the
    current directory, so ``from stackmod import Stack`` at its prompt failed.
    ``python -P`` / ``PYTHONSAFEPATH`` ask for neither, and get neither.
    """
    if sys.flags.safe_path:
        return
    try:
        cwd = os.getcwd()
    except OSError:  # the directory was removed under us: nothing to import from
        return
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "epmd":
        from ._net.epmd.cli import main as epmd_main

        return epmd_main(argv[1:])
    if argv and argv[0] == "observer":
        return _observer(argv[1:])
    args = build_parser().parse_args(argv)
    _current_directory_first()
    try:
        return _main(args)
    except UsageError as err:
        sys.stderr.write(f"pydist: {err}\n")
        return 2
    except PydistError as err:
        from ._core.iofwd import TERMINAL

        TERMINAL.drain()  # what processes posted (their reports, log lines) comes before the verdict
        sys.stderr.write(f"pydist: {err}\n")
        return 1
    finally:
        from ._api.node import _leave_at_exit
        from ._core.iofwd import TERMINAL, flush_all

        flush_all()  # unfinished lines printed here
        TERMINAL.drain()  # output that arrived from other nodes is shown before we go
        _leave_at_exit()  # the loop stops first: no green process uses the sockets as they close


def _observer(argv: list[str]) -> int:
    """``pydist observer NODE``: the observer from a shell, as a node of its own (``_repl/observer.py``)."""
    from ._api.node import stop
    from ._core import iofwd as _iofwd
    from ._repl.observer import cli_main

    setup_logging()
    _iofwd.install()
    try:
        return cli_main(argv)
    except PydistError as err:
        sys.stderr.write(f"pydist: {err}\n")
        return 1
    finally:
        stop()


def _main(args) -> int:
    from ._api.node import DEFAULT_TICKTIME, start
    from ._core import iofwd as _iofwd
    from ._core import ioread as _ioread

    if args.interactive and not (args.eval or args.script):
        raise UsageError("-i goes with -e CODE or SCRIPT")
    if args.ticktime is not None and args.ticktime <= 0:
        raise UsageError("--ticktime must be a positive number of seconds")
    setup_logging(args.log_level, args.log_timestamps)
    _iofwd.install()
    _ioread.install()
    config = args.config or os.environ.get("PYDIST_CONFIG")
    if config:
        from ._otp.app_env import load_config

        load_config(config)
    for flag, value in (("--sname", args.sname), ("--name", args.name)):
        if value is not None and not value.strip():  # not a silent nonode@nohost
            raise UsageError(f"{flag} needs a node name, like {flag} foo (1-64 letters, digits, '_', '-', '.')")
    if args.sname or args.name:
        if args.sname and args.name:
            raise UsageError("give either --sname or --name, not both")
        start(
            args.sname or args.name,
            longnames=bool(args.name),
            cookie=args.cookie,
            ticktime=args.ticktime or DEFAULT_TICKTIME,
            port=_port_spec(args.port),
            hidden=args.hidden or bool(args.remsh),  # a remote shell is a tool, not a member of the cluster
        )
    elif args.remsh:
        raise UsageError("--remsh needs this node to have a name too: add --sname NAME")
    from ._repl.namespace import prompt_namespace

    ns = prompt_namespace()
    if args.app:
        from ._otp.application import start_cli_app

        start_cli_app(args.app, ns)
    code = 0
    if args.eval is not None:
        src = args.eval
        code = _run_code(lambda: exec(compile(src, "<eval>", "exec"), ns))
    elif args.script:
        path = args.script
        if not os.path.isfile(path):
            raise PydistError(f"no such script: {path}")
        sys.argv = [path, *args.args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        code = _run_code(lambda: ns.update(runpy.run_path(path, init_globals=ns, run_name="__main__")))
    if (args.eval is None and not args.script) or args.interactive:
        from ._repl.loop import run_repl

        return run_repl(ns, remsh=args.remsh)
    return code
