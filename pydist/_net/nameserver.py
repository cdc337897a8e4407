"""The name server (pydist's epmd) and the client nodes use to talk to it.

Why it exists: a node listens on a port the kernel picks (so many nodes can
share a host), so a peer that knows only ``foo@vm`` needs something at a
*fixed* port on ``vm`` to say which port ``foo`` got. As in Erlang, that is
one small process per host, started by the first node that finds none
(:func:`ensure_running`) and outliving every node.

Registration is a connection, not a record: an entry lives exactly as long
as the registering node's TCP connection, so a node killed with ``kill -9``
vanishes the moment its kernel closes the socket -- no leases, no stale
names. Only processes on this host may register (or kill the server); any
host may look names up, which is why it listens on all IPv4 interfaces.

Protocol: UTF-8 text lines ending in ``\\n``, at most :data:`MAX_LINE` bytes
(a trailing ``\\r`` is tolerated, so ``nc`` works for debugging)::

    REGISTER <name> <port>  -> OK | TAKEN | ERR registration only from this host
                               (connection stays open; may receive NOTICE <text>)
    LOOKUP <name>           -> PORT <n> | NONE
    NAMES                   -> NAME <name> <port> ... END
    NOTIFY <name> <text>    -> OK | NONE   (registrant gets NOTICE <text>)
    KILL                    -> OK, then the server exits (this host only)
    PING                    -> PONG

Anything else (unknown command, bad arguments, an over-long line, invalid
UTF-8, EOF mid-line, :data:`IDLE_TIMEOUT` without a complete line from an
unregistered connection) closes that connection and nothing more: one asyncio
loop in one thread, so a slow or hostile client only ever costs its own socket.

Server, client and the ``pydist epmd`` CLI share one module (past the usual
400 lines) because all three speak this protocol and change together.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time

from .._base.errors import NameInUse, NameServerUnreachable, PydistError

__all__ = [
    "DEFAULT_PORT",
    "Registration",
    "ensure_running",
    "epmd_port",
    "kill",
    "lookup",
    "main",
    "names",
    "notify",
    "ping",
    "register",
    "serve",
    "split_name",
]

log = logging.getLogger("pydist.epmd")

DEFAULT_PORT = 4370  # not Erlang's 4369, so epmd and pydist can run side by side
MAX_LINE = 512  # bytes, newline included
MAX_NOTICE = 300  # characters of NOTIFY text forwarded
IDLE_TIMEOUT = 10.0  # seconds an unregistered connection may wait between lines
WRITE_TIMEOUT = 10.0  # seconds a reply may wait for a client that does not read
NOTICE_BUFFER = 64 * 1024  # notices to a registrant that does not read are dropped past this
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SERVE_CODE = "import sys; from pydist._net.nameserver import main; sys.exit(main(sys.argv[1:]))"


def epmd_port() -> int:
    """``$PYDIST_EPMD_PORT`` if set (tests and side-by-side setups), else DEFAULT_PORT."""
    value = os.environ.get("PYDIST_EPMD_PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise PydistError(f"PYDIST_EPMD_PORT={value!r} is not a port number (1-65535)")
    return int(value)


def split_name(node: str) -> str:
    """The name server's key for ``node``: the part before ``@`` ("foo@vm" -> "foo").

    Raises ValueError if that part is not 1-64 of ``A-Z a-z 0-9 _ . -`` or the
    host part is present but empty.
    """
    name, at, host = node.partition("@")
    if not _NAME_RE.fullmatch(name) or (at and (not host or "@" in host)):
        raise ValueError(
            f"invalid node name {node!r}: use NAME or NAME@HOST, where NAME is 1-64 letters, digits, '_', '.' or '-'"
        )
    return name


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"invalid name {name!r}: 1-64 letters, digits, '_', '.' or '-'")
    return name


def _is_loopback(peer) -> bool:
    try:
        addr = ipaddress.ip_address(peer[0].split("%")[0])
    except (TypeError, ValueError, IndexError):
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


# --------------------------------------------------------------------- server


class _Server:
    """The registry and the per-connection protocol handler (one event loop)."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[int, asyncio.StreamWriter]] = {}
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()
        self.stopping = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        self.tasks.add(asyncio.current_task())
        local = _is_loopback(writer.get_extra_info("peername"))
        registered: str | None = None
        try:
            while not self.stopping.is_set():
                read = reader.readuntil(b"\n")
                try:
                    raw = await (read if registered else asyncio.wait_for(read, IDLE_TIMEOUT))
                    line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
                except (
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    ValueError,
                    asyncio.TimeoutError,
                    ConnectionError,
                ):
                    return  # EOF, garbage, over-long or idle: drop it
                cmd, _, arg = line.partition(" ")
                out, close = self.dispatch(cmd, arg, local, registered, writer)
                if cmd == "REGISTER" and out == ["OK"]:
                    registered = arg.split(" ")[0]
                writer.write("".join(f"{o}\n" for o in out).encode())
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
                if close:
                    return
        except (asyncio.TimeoutError, OSError):
            pass
        except Exception:  # never let one connection hurt the server
            log.exception("name server connection failed")
        finally:
            if registered and self.names.get(registered, (0, None))[1] is writer:
                del self.names[registered]
                log.info("unregistered %s", registered)
            self.writers.discard(writer)
            self.tasks.discard(asyncio.current_task())
            writer.close()

    def dispatch(self, cmd, arg, local, registered, writer) -> tuple[list[str], bool]:
        """Answer one request: (reply lines, close the connection afterwards?)."""
        if cmd == "PING" and not arg:
            return ["PONG"], False
        if cmd == "LOOKUP" and _NAME_RE.fullmatch(arg):
            entry = self.names.get(arg)
            return [f"PORT {entry[0]}" if entry else "NONE"], False
        if cmd == "NAMES" and not arg:
            return [f"NAME {n} {p}" for n, (p, _) in sorted(self.names.items())] + ["END"], False
        if cmd == "NOTIFY":
            name, _, text = arg.partition(" ")
            entry = self.names.get(name)
            if entry is None:
                return ["NONE"], False
            target = entry[1]
            if not target.is_closing() and target.transport.get_write_buffer_size() < NOTICE_BUFFER:
                target.write(f"NOTICE {text[:MAX_NOTICE]}\n".encode())
            return ["OK"], False
        if cmd == "REGISTER":
            parts = arg.split(" ")
            if (
                len(parts) != 2
                or not _NAME_RE.fullmatch(parts[0])
                or not parts[1].isdigit()
                or not 0 < int(parts[1]) < 65536
            ):
                return ["ERR bad request"], True
            if not local:
                return ["ERR registration only from this host"], True
            if registered:
                return ["ERR already registered on this connection"], False
            if parts[0] in self.names:
                return ["TAKEN"], False
            self.names[parts[0]] = (int(parts[1]), writer)
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


def serve(port: int | None = None, host: str = "0.0.0.0") -> int:
    """Run the name server in this thread until a KILL request; return the exit code.

    Returns 1 (after a message on stderr) if the port cannot be bound, which
    is how the loser of two nodes racing to start a server bows out.
    """
    try:
        return asyncio.run(_serve(epmd_port() if port is None else port, host))
    except KeyboardInterrupt:
        return 0


# --------------------------------------------------------------------- client


def _connect(host: str, timeout: float) -> tuple[socket.socket, int]:
    port = epmd_port()
    try:
        return socket.create_connection((host, port), timeout=timeout), port
    except socket.gaierror as exc:
        raise NameServerUnreachable(f"cannot resolve host {host!r} to reach its name server: {exc.strerror}") from None
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise NameServerUnreachable(
            f"no pydist name server answers on {host}:{port} ({why}); is a node running "
            f"there, and is PYDIST_EPMD_PORT the same on both hosts?"
        ) from None


def _read_line(sock: socket.socket, buf: bytearray) -> str | None:
    """One line from ``sock`` (buffering the rest in ``buf``); None at EOF."""
    while b"\n" not in buf:
        if len(buf) > MAX_LINE:
            raise ConnectionError("over-long line from the name server")
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return line.decode("utf-8", "replace")


def _request(host: str, request: str, timeout: float, until=lambda line: True) -> list[str]:
    """Send one request on a fresh connection; return reply lines up to ``until``."""
    sock, port = _connect(host, timeout)
    with sock:
        buf, lines = bytearray(), []
        try:
            sock.sendall(f"{request}\n".encode())
            while True:
                line = _read_line(sock, buf)
                if line is None:
                    raise ConnectionError("connection closed")
                lines.append(line)
                if until(line):
                    return lines
        except OSError as exc:
            raise NameServerUnreachable(
                f"the name server on {host}:{port} did not answer {request.split()[0]} ({exc})"
            ) from None


class Registration:
    """This node's entry in the name server: alive as long as its TCP connection.

    ``on_notice(text)`` is called for each NOTICE line, in the daemon thread
    ``pydist-epmd-<name>``; its exceptions are logged, not raised.
    """

    def __init__(self, sock: socket.socket, buf: bytearray, name: str, port: int, on_notice):
        self.name, self.port = name, port
        self._sock, self._buf, self._on_notice = sock, buf, on_notice
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read_notices, name=f"pydist-epmd-{name}", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        """False once closed, or once the name server went away (the name is lost)."""
        return not self._closed and self._thread.is_alive()

    def close(self) -> None:
        """Drop the registration (the entry disappears at once). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread's recv
        except OSError:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(1.0)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<Registration {self.name} port={self.port} {'active' if self.active else 'closed'}>"

    def _read_notices(self) -> None:
        self._sock.settimeout(None)
        while True:
            try:
                line = _read_line(self._sock, self._buf)
            except (OSError, ValueError):
                line = None
            if line is None:
                if not self._closed:
                    log.warning(
                        "the name server dropped the registration of %s (was it killed?);"
                        " other nodes cannot find this node by name now",
                        self.name,
                    )
                return
            if line.startswith("NOTICE ") and self._on_notice is not None:
                try:
                    self._on_notice(line[len("NOTICE ") :])
                except Exception:
                    log.exception("on_notice callback of %s failed", self.name)


def register(name: str, port: int, *, on_notice=None, host: str = "127.0.0.1", timeout: float = 3.0) -> Registration:
    """Register ``name`` -> ``port`` with this host's name server.

    Raises NameInUse if another node holds the name, NameServerUnreachable if
    no server answers, PydistError if the server refuses (not this host).
    """
    _check_name(name)
    sock, server_port = _connect(host, timeout)
    buf = bytearray()
    try:
        sock.sendall(f"REGISTER {name} {int(port)}\n".encode())
        reply = _read_line(sock, buf)
    except OSError as exc:
        sock.close()
        raise NameServerUnreachable(
            f"the name server on {host}:{server_port} did not answer REGISTER ({exc})"
        ) from None
    if reply == "OK":
        return Registration(sock, buf, name, port, on_notice)
    sock.close()
    if reply == "TAKEN":
        raise NameInUse(
            f"the name {name} is already in use on this host (another node is "
            f"running as {name}@...; `pydist epmd --names` lists them); pick "
            f"another --sname/--name"
        )
    raise PydistError(
        f"the name server on {host}:{server_port} refused to register {name}: {reply or 'connection closed'}"
    )


def lookup(host: str, name: str, *, timeout: float = 2.0) -> int | None:
    """The port ``name`` is registered at on ``host``'s name server, or None."""
    reply = _request(host, f"LOOKUP {_check_name(name)}", timeout)[0]
    if reply.startswith("PORT ") and reply[5:].isdigit():
        return int(reply[5:])
    if reply == "NONE":
        return None
    raise NameServerUnreachable(f"the name server on {host}:{epmd_port()} answered LOOKUP with {reply!r}")


def names(host: str = "127.0.0.1", *, timeout: float = 2.0) -> list[tuple[str, int]]:
    """All ``(name, port)`` registered on ``host``, sorted by name."""
    lines = _request(host, "NAMES", timeout, until=lambda line: not line.startswith("NAME "))
    if lines[-1] != "END":
        raise NameServerUnreachable(f"the name server on {host} answered NAMES with {lines[-1]!r}")
    return [(n, int(p)) for _, n, p in (line.split(" ") for line in lines[:-1])]


def notify(host: str, name: str, text: str, *, timeout: float = 2.0) -> bool:
    """Pass ``text`` (informational, truncated, one line) to the node ``name``; never raises."""
    try:
        request = f"NOTIFY {_check_name(name)} "
        text = "".join(c if c.isprintable() else " " for c in str(text))[:MAX_NOTICE]
        room = MAX_LINE - 1 - len(request.encode())
        text = text.encode()[:room].decode("utf-8", "ignore")
        return _request(host, request + text, timeout) == ["OK"]
    except Exception:
        return False


def ping(host: str = "127.0.0.1", *, timeout: float = 1.0) -> bool:
    """True if a pydist name server answers on ``host``."""
    try:
        return _request(host, "PING", timeout) == ["PONG"]
    except (PydistError, OSError):
        return False


def kill(host: str = "127.0.0.1", *, timeout: float = 2.0) -> bool:
    """Stop the name server on this host and wait until it is gone; False if none answered."""
    try:
        if _request(host, "KILL", timeout) != ["OK"]:
            return False
    except PydistError:
        return False
    deadline = time.monotonic() + timeout
    while ping(host, timeout=0.2) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _spawn_daemon() -> subprocess.Popen:
    """Start a detached server: own session, no terminal, no inherited fds, cwd /."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYDIST_EPMD_PORT=str(epmd_port()))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-c", _SERVE_CODE],
        cwd="/",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )


def _wait_for_daemon(proc: subprocess.Popen, timeout: float) -> None:
    port, deadline = epmd_port(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(timeout=0.5):
            return
        if proc.poll() is not None:  # ours lost the port: a racing winner answers
            deadline = min(deadline, time.monotonic() + 1.0)  # soon, or nobody will
        time.sleep(0.05)
    code = proc.poll()
    if code is None:  # never answered: do not leave it behind
        proc.kill()
        proc.wait()
    why = (
        f"it exited with code {code}; is port {port} used by another program?"
        if code is not None
        else f"it did not answer within {timeout:g}s"
    )
    raise NameServerUnreachable(
        f"could not start a name server on port {port} ({why}); run "
        f"`pydist epmd` to see the error, or set PYDIST_EPMD_PORT to a "
        f"free port"
    )


def ensure_running(*, timeout: float = 5.0) -> None:
    """Make sure this host's name server answers, starting a detached one if not.

    Two nodes racing here both succeed: the loser's server finds the port
    taken and exits, and both then ping the winner.
    """
    if ping():
        return
    proc = _spawn_daemon()
    _wait_for_daemon(proc, timeout)
    # Our child until this node exits: reap it when it stops (KILL, or lost the race).
    threading.Thread(target=proc.wait, name="pydist-epmd-reaper", daemon=True).start()


# ------------------------------------------------------------------------ CLI


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
            _wait_for_daemon(_spawn_daemon(), 5.0)
        except NameServerUnreachable as exc:
            print(f"pydist epmd: {exc}", file=sys.stderr)
            return 1
        return 0
    return serve(port)
