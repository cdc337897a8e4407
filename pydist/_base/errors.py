"""The errors a pydist user can meet.

One small module on purpose: every error says what happened *and* what to do
next, so the CLI can print ``str(err)`` on one line without a traceback.
``Exit`` mirrors Erlang's exit reasons (a tuple) for the OTP layer.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CookieError",
    "Exit",
    "NameInUse",
    "NameServerUnreachable",
    "ProtocolError",
    "PydistError",
    "RemoteError",
    "SystemLimit",
    "UsageError",
]


class PydistError(Exception):
    """A user-facing error: the CLI prints its message alone and exits 1."""


class UsageError(PydistError):
    """Bad command-line usage (exit code 2)."""


class NameInUse(PydistError):
    """The node name is already registered with this host's name server."""


class NameServerUnreachable(PydistError):
    """No name server answers where one was expected."""


class CookieError(PydistError):
    """The cookie file is missing, unreadable or readable by others."""


class AuthenticationError(PydistError):
    """A peer's cookie differs from ours (the CURVE handshake failed)."""


class ProtocolError(PydistError):
    """A peer sent something that does not follow the wire protocol."""


class SystemLimit(PydistError):
    """A limit of this machine or node was reached (threads, memory): the
    message names the limit and what to do."""


class RemoteError(Exception):
    """An exception raised on another node, with that node's traceback.

    ``exc_type`` is the remote exception's class name, ``node`` where it ran,
    and ``remote_traceback`` the formatted traceback text from that node.
    """

    def __init__(self, node: str, exc_type: str, message: str, remote_traceback: str):
        super().__init__(node, exc_type, message, remote_traceback)
        self.node = node
        self.exc_type = exc_type
        self.message = message
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        head = f"{self.exc_type}: {self.message} (raised on node {self.node})"
        if not self.remote_traceback.strip():  # nothing was raised there (a result that cannot travel)
            return head
        return f"{head}\n--- remote traceback from {self.node} ---\n{self.remote_traceback.rstrip()}"


class Exit(Exception):
    """A process exit, as Erlang's ``exit(Reason)``.

    ``reason`` is Erlang's term (``"normal"``, ``"kill"``,
    ``("noproc", call)``, ``(("nodedown", node), call)``,
    ``("timeout", call)`` …); the message says it in plain words.
    """

    def __init__(self, reason, message: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        if self.message:
            return self.message
        return f"process exited: {self.reason!r}"

    def __reduce__(self):
        return (Exit, (self.reason, self.message))


for _cls in (
    PydistError,
    UsageError,
    NameInUse,
    NameServerUnreachable,
    CookieError,
    AuthenticationError,
    ProtocolError,
    RemoteError,
    SystemLimit,
    Exit,
):
    _cls.__module__ = "pydist"
del _cls
