"""A notebook's cells as group leaders: output lands in the cell that caused it.

ipykernel shows text in the cell whose request is the stream's *parent*
(``OutStream.set_parent``, called by the kernel before each cell). pydist
routes ``print`` by group leader (``_core/iofwd.py``), so each cell gets a
group leader of its own: a handler process that writes what it is sent to
ipykernel's stream *with that cell's parent*. The kernel's process (the
thread running the cell, a thread process) takes the cell's group leader
before the cell runs; what it spawns inherits it, on this node or another
(``Node.spawn`` carries the group leader along), so a process started by a
cell prints into that cell, also after the cell has finished: the spawning
cell, as ipykernel does for threads. Text from outside any process (a plain
thread, ipykernel itself) goes to the cell running now.

Who runs what: ``before_cell`` runs on the kernel's main thread; a cell's
handler runs on whichever thread delivers to it (the printing thread, or the
node's loop for green processes and remote output). ``OutStream.write``
only buffers and wakes ipykernel's IOPub thread, so it never blocks the loop.
"""

from __future__ import annotations

from typing import Any

from .._base.terms import Pid
from .._core import iofwd
from .._core.iofwd import TERMINAL
from .._core.runtime import RUNTIME
from .._core.state import current, set_current

__all__ = ["CellLeaders"]


def _write(stream_name: str, text: str, parent) -> None:
    """Write ``text`` to the kernel's stream as output of the request ``parent``."""
    stream: Any = TERMINAL.err if stream_name == "stderr" else TERMINAL.out
    if parent is None or not hasattr(stream, "set_thread_parent"):
        stream.write(text)
        return
    token = stream.set_thread_parent(parent)
    try:
        stream.write(text)
    finally:
        stream.reset_thread_parent(token)


def _handler(parent):
    def handle(msg) -> None:
        if type(msg) is tuple and len(msg) == 3 and msg[0] == "$io" and isinstance(msg[2], str):
            try:
                _write("stderr" if msg[1] == "stderr" else "stdout", msg[2], parent)
            except (OSError, ValueError):
                pass  # the kernel is closing its streams: nothing to show it on

    return handle


class CellLeaders:
    """One group leader per cell run while the extension is loaded."""

    def __init__(self, shell):
        self.shell = shell
        self.current: Pid | None = None
        self._handlers: dict[Pid, object] = {}  # group leader -> its handler (to re-stamp it)
        iofwd.on_new_user_io(self.restamp)

    def before_cell(self) -> None:
        """The cell about to run gets its group leader (main thread)."""
        parent = getattr(self.shell, "parent_header", None)
        handler = _handler(parent)
        gl = RUNTIME.add_handler_process(handler)
        iofwd.add_terminal_leader(gl)
        self._handlers[gl] = handler
        self.current = gl
        RUNTIME.adopt().group_leader = gl

    def restamp(self) -> None:
        """The node just got its name: cells' group leaders made before carry
        ``nonode@nohost``, which no other node can send to; make them anew.

        Runs in the thread that called ``pydist.start`` (the cell's)."""
        renamed = {}
        for old, handler in list(self._handlers.items()):
            if old.node != RUNTIME.name:
                new = RUNTIME.add_handler_process(handler)
                iofwd.add_terminal_leader(new)
                self._handlers[new] = handler
                renamed[old] = new
        with RUNTIME.lock:
            for p in RUNTIME.procs.values():
                if p.group_leader in renamed:
                    p.group_leader = renamed[p.group_leader]
        if self.current in renamed:
            self.current = renamed[self.current]
        _rename_kernel_process(self.current)


def _rename_kernel_process(gl: Pid | None) -> None:
    """The cell's own process, adopted before the node had a name, becomes a
    process of the named node (a ``self()`` that other nodes can reply to),
    as long as nothing holds on to the old pid yet."""
    p = current()
    if p is None or p.spawned or p.pid.node == RUNTIME.name:
        return
    if p.links or p.monitored_by or p.monitoring or p.registered_name or p.mailbox:
        return  # in use: it keeps its pid
    RUNTIME.process_exited(p, "normal")
    set_current(None)
    RUNTIME.adopt().group_leader = gl
