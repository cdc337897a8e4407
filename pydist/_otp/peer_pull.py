"""Start-up of a per-node server that keeps a copy of its peers' state (``Global``, ``pg``).

A server that starts while others already run asks each connected node's
server of the same name for its state, and holds the calls it gets until
every one has answered or is known to be absent (the DOWN of a monitor on
``(name, node)``: no such server there, or the node went down). Nothing
waits in ``init`` and there is no lock, so two servers starting at once
on two nodes never wait on each other, and nobody reads a half-filled copy.
"""

from __future__ import annotations

from .._api.node import Node
from .._api.processes import Process
from .genserver import GenServer

__all__ = ["PeerPull"]


class PeerPull:
    """Runs in the server's process; ``ask(dest, tag)`` sends the request for state."""

    def __init__(self, name, ask):
        self.pending: dict = {}  # monitor ref (also the request's tag) -> node
        self.held: list = []  # (from_, request) of calls that came meanwhile
        for n in Node.list():
            mref = Process.monitor((name, n))
            self.pending[mref] = n
            ask((name, n), mref)

    @property
    def waiting(self) -> bool:
        return bool(self.pending)

    def hold(self, from_, request) -> None:
        self.held.append((from_, request))

    def answered(self, tag) -> bool:
        """The state tagged ``tag`` arrived: True if it was one we waited for."""
        if tag in self.pending:
            del self.pending[tag]
            Process.demonitor(tag, flush=True)
            return True
        return False

    def gone(self, mref) -> bool:
        """A DOWN: True if it was the monitor of a server we waited for (there is none)."""
        return self.pending.pop(mref, None) is not None

    def release(self, answer) -> None:
        """Once nothing is pending, answer the held calls in order with ``answer(request)``."""
        if self.pending:
            return
        held, self.held = self.held, []
        for from_, request in held:
            GenServer.reply(from_, answer(request))
