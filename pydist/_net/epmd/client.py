"""What a node asks the host's name server: register, look up, list, notify, stop.

Every call but :func:`register` opens a fresh TCP connection, sends one
request and reads the reply in the calling thread, bounded by ``timeout``.
A :class:`Registration` keeps its connection open for the node's lifetime
(the entry lives exactly as long as it) and reads NOTICE lines in its own
daemon thread. :func:`ensure_running` starts a detached server (``pydist
epmd`` with no option, see :mod:`.cli`) when none answers. The protocol is
described in :mod:`.protocol`.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..._base.errors import NameInUse, NameServerUnreachable, PydistError
from .protocol import MAX_LINE, MAX_NOTICE, check_name, epmd_port, is_node_of

__all__ = [
    "Registration",
    "ensure_running",
    "kill",
    "lookup",
    "lookup_node",
    "names",
    "notify",
    "ping",
    "register",
    "spawn_daemon",
    "wait_for_daemon",
]

log = logging.getLogger("pydist.epmd")

# The detached daemon runs `pydist epmd` with no option: the server, in the foreground.
_SERVE_CODE = "import sys; from pydist._net.epmd.cli import main; sys.exit(main(sys.argv[1:]))"


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
    ``pydist-epmd-<name>``; its exceptions are logged, not raised. If the
    name server goes away (killed, restarted), that thread registers again
    by itself as soon as one answers (every ``RETRY`` seconds), so the node
    is found by name again without a restart.
    """

    RETRY = 1.0

    def __init__(self, sock: socket.socket, buf: bytearray, name: str, port: int, on_notice, again=None):
        self.name, self.port = name, port
        self._sock, self._buf, self._on_notice = sock, buf, on_notice
        self._again = again  # () -> (sock, buf): register once more (raises as register does)
        self._closed = False
        self._up = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_notices, name=f"pydist-epmd-{name}", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        """False once closed, or while the name server is away (the name is lost till it is back)."""
        return not self._closed and self._up and self._thread.is_alive()

    def close(self) -> None:
        """Drop the registration (the entry disappears at once). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
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
                self._up = False
                if self._closed:
                    return
                log.warning(
                    "the name server dropped the registration of %s (was it killed?);"
                    " other nodes cannot find this node by name until one runs again"
                    " (`pydist epmd --daemon`); this node registers again by itself then",
                    self.name,
                )
                if not self._register_again():
                    return
                continue
            if line.startswith("NOTICE ") and self._on_notice is not None:
                try:
                    self._on_notice(line[len("NOTICE ") :])
                except Exception:
                    log.exception("on_notice callback of %s failed", self.name)

    def _register_again(self) -> bool:
        """Wait for a name server and register there; False once closed (or nothing to redo)."""
        if self._again is None:
            return False
        taken_said = False
        while not self._stop.wait(self.RETRY):
            try:
                sock, buf = self._again()
            except NameInUse:
                if not taken_said:
                    taken_said = True
                    log.warning(
                        "the name server is back, but another node took the name %s meanwhile;"
                        " this node stays unregistered until that node goes",
                        self.name,
                    )
                continue
            except PydistError:
                continue  # none answers yet
            with self._lock:
                if self._closed:
                    sock.close()
                    return False
                old, self._sock, self._buf = self._sock, sock, buf
            old.close()
            sock.settimeout(None)
            self._up = True
            log.info("registered %s with the name server again", self.name)
            return True
        return False


def register(
    name: str, port: int, *, node: str | None = None, on_notice=None, host: str = "127.0.0.1", timeout: float = 3.0
) -> Registration:
    """Register ``name`` -> ``port`` with this host's name server.

    ``node`` is the full node name (``foo@vm``), given to whoever looks
    ``name`` up, so a dial under another host name is told the real one.

    Raises NameInUse if another node holds the name, NameServerUnreachable if
    no server answers, PydistError if the server refuses (not this host).
    """
    check_name(name)

    def once():
        return _register_once(name, port, node, host, timeout)

    sock, buf = once()
    return Registration(sock, buf, name, port, on_notice, again=once)


def _register_once(name: str, port: int, node: str | None, host: str, timeout: float):
    """One REGISTER on a fresh connection: ``(socket, buffer)`` kept open, or the error."""
    sock, server_port = _connect(host, timeout)
    buf = bytearray()
    try:
        sock.sendall(f"REGISTER {name} {int(port)}{' ' + node if node else ''}\n".encode())
        reply = _read_line(sock, buf)
    except OSError as exc:
        sock.close()
        raise NameServerUnreachable(
            f"the name server on {host}:{server_port} did not answer REGISTER ({exc})"
        ) from None
    if reply == "OK":
        return sock, buf
    sock.close()
    if reply == "ERR bad request" and node:  # a name server older than node names: register without
        return _register_once(name, port, None, host, timeout)
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
    found = lookup_node(host, name, timeout=timeout)
    return None if found is None else found[0]


def lookup_node(host: str, name: str, *, timeout: float = 2.0) -> tuple[int, str | None] | None:
    """``(port, full node name or None)`` of ``name`` on ``host``'s name server, or None."""
    reply = _request(host, f"LOOKUP {check_name(name)}", timeout)[0]
    parts = reply.split(" ")
    if parts[0] == "PORT" and len(parts) in (2, 3) and parts[1].isdigit():
        node = parts[2] if len(parts) == 3 and is_node_of(parts[2], name) else None
        return int(parts[1]), node
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
        request = f"NOTIFY {check_name(name)} "
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


def spawn_daemon() -> subprocess.Popen:
    """Start a detached server: own session, no terminal, no inherited fds, cwd /."""
    # The directory holding the pydist package (pydist/_net/epmd/client.py, four levels up),
    # so the daemon imports this same pydist even when it is not installed.
    root = str(Path(__file__).resolve().parents[3])
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


def wait_for_daemon(proc: subprocess.Popen, timeout: float) -> None:
    """Return once a server answers PING; NameServerUnreachable (saying why) if none does."""
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
    if code is None:
        why = f"it did not answer within {timeout:g}s"
    elif _accepts(port):
        why = (
            f"it exited with code {code}: port {port} is taken by something that does not answer as a "
            "name server (a name server out of connections or hung, or another program)"
        )
    else:
        why = f"it exited with code {code}; is port {port} used by another program?"
    raise NameServerUnreachable(
        f"could not start a name server on port {port} ({why}); run "
        f"`pydist epmd` to see the error, or set PYDIST_EPMD_PORT to a "
        f"free port"
    )


def _accepts(port: int) -> bool:
    """Whether something on this host accepts TCP connections on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_running(*, timeout: float = 5.0) -> None:
    """Make sure this host's name server answers, starting a detached one if not.

    Two nodes racing here both succeed: the loser's server finds the port
    taken and exits, and both then ping the winner.
    """
    if ping():
        return
    proc = spawn_daemon()
    wait_for_daemon(proc, timeout)
    # Our child until this node exits: reap it when it stops (KILL, or lost the race).
    threading.Thread(target=proc.wait, name="pydist-epmd-reaper", daemon=True).start()
