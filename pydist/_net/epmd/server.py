"""The name server daemon: the registry and its per-connection protocol handler.

One asyncio loop in one thread (the thread that calls :func:`serve`; in the
daemon that ``pydist epmd`` or :func:`.client.ensure_running` starts, the main
thread), so a slow or hostile client only ever costs its own socket: every
read of an unregistered connection has :data:`~.protocol.IDLE_TIMEOUT`, every
reply :data:`WRITE_TIMEOUT`, and anything malformed closes that connection
and nothing more. The protocol itself is described in :mod:`.protocol`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sys
import time

from ..._base.names import is_valid_name
from .protocol import IDLE_TIMEOUT, MAX_LINE, MAX_NOTICE, epmd_port, is_loopback, is_node_of

log = logging.getLogger("pydist.epmd")

WRITE_TIMEOUT = 10.0  # seconds a reply may wait for a client that does not read
NOTICE_BUFFER = 64 * 1024  # notices to a registrant that does not read are dropped past this
# A client asks one question per connection; nodes keep theirs (registered) for good. So a
# connection that has not registered lives UNREGISTERED_LIFETIME seconds at most, at most
# MAX_UNREGISTERED of them are kept (the oldest goes first), and at most MAX_PER_HOST from
# one other host: a flood of kept-alive connections can use neither every descriptor nor
# the registrations' room, and a node can always register.
UNREGISTERED_LIFETIME = 30.0
MAX_UNREGISTERED = 256
MAX_PER_HOST = 32
NOTIFY_BURST, NOTIFY_RATE = 5, 1.0  # notices per registrant: a burst of 5, then 1 a second


class _Server:
    """The registry and the per-connection protocol handler (one event loop)."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[int, asyncio.StreamWriter]] = {}
        self.nodes: dict[str, str] = {}  # name -> the registrant's full node name, if it gave one
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()
        self.stopping = asyncio.Event()
        self.unregistered: dict[asyncio.StreamWriter, str] = {}  # oldest first -> its host
        self.notify_budget: dict[str, tuple[float, float]] = {}  # name -> (tokens, when)

    def _admit(self, writer: asyncio.StreamWriter, host: str, local: bool) -> bool:
        """Room for one more unregistered connection (evicting the oldest); False: refuse it."""
        if not local and sum(1 for h in self.unregistered.values() if h == host) >= MAX_PER_HOST:
            return False
        while len(self.unregistered) >= MAX_UNREGISTERED:
            oldest = next(iter(self.unregistered))
            del self.unregistered[oldest]
            oldest.close()  # its handler sees EOF and ends
        self.unregistered[writer] = host
        return True

    def _notify_allowed(self, name: str) -> bool:
        now = time.monotonic()
        tokens, when = self.notify_budget.get(name, (float(NOTIFY_BURST), now))
        tokens = min(float(NOTIFY_BURST), tokens + (now - when) * NOTIFY_RATE)
        if tokens < 1.0:
            self.notify_budget[name] = (tokens, now)
            return False
        self.notify_budget[name] = (tokens - 1.0, now)
        return True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        task = asyncio.current_task()
        assert task is not None  # a connection handler always runs as a task
        self.tasks.add(task)
        peer = writer.get_extra_info("peername")
        local = is_loopback(peer)
        registered: str | None = None
        if not self._admit(writer, str(peer[0]) if peer else "?", local):
            self.writers.discard(writer)
            self.tasks.discard(task)
            writer.close()
            return
        ends = time.monotonic() + UNREGISTERED_LIFETIME
        try:
            while not self.stopping.is_set():
                read = reader.readuntil(b"\n")
                try:
                    left = min(IDLE_TIMEOUT, ends - time.monotonic())
                    raw = await (read if registered else asyncio.wait_for(read, max(0.0, left)))
                    line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
                except (
                    TimeoutError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    ValueError,
                    ConnectionError,
                ):
                    return  # EOF, garbage, over-long or idle: drop it
                cmd, _, arg = line.partition(" ")
                out, close = self.dispatch(cmd, arg, local, registered, writer)
                if cmd == "REGISTER" and out == ["OK"]:
                    registered = arg.split(" ")[0]
                    self.unregistered.pop(writer, None)  # a node's connection: kept for good
                writer.write("".join(f"{o}\n" for o in out).encode())
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
                if close:
                    return
        except (TimeoutError, OSError):
            pass
        except Exception:  # never let one connection hurt the server
            log.exception("name server connection failed")
        finally:
            if registered and self.names.get(registered, (0, None))[1] is writer:
                del self.names[registered]
                self.nodes.pop(registered, None)
                log.info("unregistered %s", registered)
            self.writers.discard(writer)
            self.unregistered.pop(writer, None)
            self.tasks.discard(asyncio.current_task())
            writer.close()

    def dispatch(self, cmd, arg, local, registered, writer) -> tuple[list[str], bool]:
        """Answer one request: (reply lines, close the connection afterwards?)."""
        if cmd == "PING" and not arg:
            return ["PONG"], False
        if cmd == "LOOKUP" and is_valid_name(arg):
            entry = self.names.get(arg)
            if entry is None:
                return ["NONE"], False
            node = self.nodes.get(arg)
            return [f"PORT {entry[0]} {node}" if node else f"PORT {entry[0]}"], False
        if cmd == "NAMES" and not arg:
            return [f"NAME {n} {p}" for n, (p, _) in sorted(self.names.items())] + ["END"], False
        if cmd == "NOTIFY":
            if not local:  # anyone could make a node print warnings: only this host's nodes may
                return ["ERR notify only from this host"], True
            name, _, text = arg.partition(" ")
            entry = self.names.get(name)
            if entry is None:
                return ["NONE"], False
            if not self._notify_allowed(name):
                return ["BUSY"], False
            target = entry[1]
            if not target.is_closing() and target.transport.get_write_buffer_size() < NOTICE_BUFFER:
                target.write(f"NOTICE {text[:MAX_NOTICE]}\n".encode())
            return ["OK"], False
        if cmd == "REGISTER":
            parts = arg.split(" ")
            if (
                len(parts) not in (2, 3)
                or not is_valid_name(parts[0])
                or not parts[1].isdigit()
                or not 0 < int(parts[1]) < 65536
                or (len(parts) == 3 and not is_node_of(parts[2], parts[0]))
            ):
                return ["ERR bad request"], True
            if not local:
                return ["ERR registration only from this host"], True
            if registered:
                return ["ERR already registered on this connection"], False
            if parts[0] in self.names:
                return ["TAKEN"], False
            self.names[parts[0]] = (int(parts[1]), writer)
            if len(parts) == 3:
                self.nodes[parts[0]] = parts[2]
            log.info("registered %s at port %s", parts[0], parts[1])
            return ["OK"], False
        if cmd == "KILL" and not arg:
            if not local:
                return ["ERR kill only from this host"], True
            self.stopping.set()
            return ["OK"], True
        if cmd in ("PING", "LOOKUP", "NAMES", "KILL"):
            return ["ERR bad request"], True
        return ["ERR unknown command"], True


async def _serve(port: int, host: str) -> int:
    state = _Server()
    try:
        server = await asyncio.start_server(state.handle, host, port, reuse_address=True, limit=MAX_LINE - 1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"pydist epmd: port {port} is already in use (is a name server already "
                f"running? `pydist epmd --names` tells); set PYDIST_EPMD_PORT to use another "
                f"port",
                file=sys.stderr,
            )
        else:
            print(f"pydist epmd: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    log.info("listening on %s:%d", host, port)
    await state.stopping.wait()
    server.close()
    await asyncio.sleep(0.05)  # let the KILL reply reach its client
    for writer in list(state.writers):
        writer.close()
    await server.wait_closed()
    # Let handlers see EOF and finish: asyncio.run would cancel them, and 3.11
    # logs a cancelled connection handler as an error.
    if state.tasks:
        await asyncio.wait(state.tasks, timeout=2.0)
    return 0


def _more_descriptors() -> None:
    """Raise the soft limit on open files to the hard one (1,024 is a common soft limit)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def serve(port: int | None = None, host: str = "0.0.0.0") -> int:
    """Run the name server in this thread until a KILL request; return the exit code.

    Returns 1 (after a message on stderr) if the port cannot be bound, which
    is how the loser of two nodes racing to start a server bows out.
    """
    _more_descriptors()
    try:
        return asyncio.run(_serve(epmd_port() if port is None else port, host))
    except KeyboardInterrupt:
        return 0
