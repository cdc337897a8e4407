"""``pydist epmd [--names|--kill|--daemon]``: run, list, stop or start the name server.

Runs in the main thread of its own OS process: with no option it *is* the
server (:func:`.server.serve`, until a KILL), which is also how the detached
daemon that :func:`.client.ensure_running` starts runs.
"""

from __future__ import annotations

import argparse
import sys

from ..._base.errors import NameServerUnreachable, PydistError
from .client import kill, names, ping, spawn_daemon, wait_for_daemon
from .protocol import DEFAULT_PORT, epmd_port
from .server import serve


def main(argv: list[str]) -> int:
    """``pydist epmd [--names|--kill|--daemon]``; argv is what follows ``epmd``."""
    parser = argparse.ArgumentParser(
        prog="pydist epmd",
        description="The pydist name server (like Erlang's epmd). It "
        f"listens on port $PYDIST_EPMD_PORT, default {DEFAULT_PORT}; with no option it runs "
        "in the foreground.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--names", action="store_true", help="list the registered nodes")
    group.add_argument("--kill", action="store_true", help="stop the running name server")
    group.add_argument("--daemon", action="store_true", help="start it detached, unless running")
    try:
        args = parser.parse_args(argv)
        port = epmd_port()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except PydistError as exc:
        print(f"pydist epmd: {exc}", file=sys.stderr)
        return 1
    if args.names:
        try:
            entries = names()
        except NameServerUnreachable:
            print(f"pydist epmd: no name server on port {port}", file=sys.stderr)
            return 1
        print(f"epmd: up and running on port {port} with data:")
        for name, node_port in entries:
            print(f"name {name} at port {node_port}")
        return 0
    if args.kill:
        if kill():
            print("Killed")
            return 0
        print(f"pydist epmd: no name server on port {port}", file=sys.stderr)
        return 1
    if args.daemon:
        if ping():
            return 0
        try:
            wait_for_daemon(spawn_daemon(), 5.0)
        except NameServerUnreachable as exc:
            print(f"pydist epmd: {exc}", file=sys.stderr)
            return 1
        return 0
    return serve(port)
