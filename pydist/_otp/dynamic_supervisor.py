"""``DynamicSupervisor``: a supervisor that starts with no children and takes them on demand.

As Elixir's: every child is restarted alone (``one_for_one``, the only
strategy), by its own ``restart`` (``permanent``, ``transient``,
``temporary``), within the restart intensity; ``max_children`` caps how
many run at once. It is a GenServer trapping exits, as ``Supervisor`` is,
and starts, links and stops children with the same helpers, so a child
spec means the same thing to both.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from .._api.processes import Process, node
from .._api.processes import self as self_pid
from .._base.reasons import explain, is_normal
from .._base.terms import Pid
from .genserver import GenServer
from .supervisor import _Child, _shutdown, child_spec
from .supervisor import _start as _start_child

__all__ = ["DynamicSupervisor"]

log = logging.getLogger("pydist")


class _State:
    def __init__(self, max_children, max_restarts, max_seconds, label):
        self.children: dict = {}  # pid -> _Child, in start order
        self.max_children = max_children
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.restarts: deque = deque()
        self.label = label


class _DynamicServer(GenServer):
    def init(self, arg):
        max_children, max_restarts, max_seconds, name = arg
        Process.flag("trap_exit", True)
        label = f"{name!r} on {node()}" if isinstance(name, str) else f"{self_pid()} on {node()}"
        return ("ok", _State(max_children, max_restarts, max_seconds, label))

    def terminate(self, reason, st):
        for ch in reversed(list(st.children.values())):
            _shutdown(ch)

    def handle_call(self, request, from_, st):
        op = request[0]
        if op == "start_child":
            if st.max_children is not None and len(st.children) >= st.max_children:
                return ("reply", ("error", "max_children"), st)
            ch = _Child(request[1])
            ok, pid = _start_child(ch)
            if ok != "ok":
                return ("reply", (ok, pid), st)
            if pid is None:
                return ("reply", "ignore", st)
            ch.pid = pid
            st.children[pid] = ch
            return ("reply", ("ok", pid), st)
        if op == "terminate_child":
            ch = st.children.pop(request[1], None)
            if ch is None:
                return ("reply", ("error", "not_found"), st)
            _shutdown(ch)
            return ("reply", "ok", st)
        if op == "which_children":
            kids = [("undefined", pid, ch.spec["type"], list(ch.spec["modules"])) for pid, ch in st.children.items()]
            return ("reply", kids, st)
        if op == "count_children":
            kinds = [ch.spec["type"] for ch in st.children.values()]
            counts = {
                "specs": len(kinds),
                "active": len(kinds),
                "supervisors": kinds.count("supervisor"),
                "workers": kinds.count("worker"),
            }
            return ("reply", counts, st)
        return ("reply", ("error", ("unknown_call", request)), st)

    def handle_info(self, msg, st):
        if type(msg) is tuple and len(msg) == 3 and msg[0] == "EXIT" and msg[1] in st.children:
            return self._exited(st, st.children.pop(msg[1]), msg[2])
        return super().handle_info(msg, st)

    def _exited(self, st, ch, reason):
        restart = ch.spec["restart"]
        if restart == "temporary" or (restart == "transient" and is_normal(reason)):
            if not is_normal(reason) and restart != "temporary":
                log.error("DynamicSupervisor %s: child %s exited: %s", st.label, ch.pid, explain(reason, "it"))
            return ("noreply", st)
        now = time.monotonic()
        st.restarts.append(now)
        while st.restarts and now - st.restarts[0] > st.max_seconds:
            st.restarts.popleft()
        if len(st.restarts) > st.max_restarts:
            log.error(
                "DynamicSupervisor %s reached its maximum restart intensity (more than %d restarts in %g s): "
                "shutting down its children and exiting",
                st.label,
                st.max_restarts,
                st.max_seconds,
            )
            return ("stop", "shutdown", st)
        log.log(
            logging.INFO if is_normal(reason) else logging.ERROR,
            "DynamicSupervisor %s: child %s exited: %s; restarting it",
            st.label,
            ch.pid,
            explain(reason, "it"),
        )
        ok, pid = _start_child(ch)
        if ok == "ok" and pid is not None:
            ch.pid = pid
            st.children[pid] = ch
        elif ok != "ok":
            log.error("DynamicSupervisor %s: restarting a child failed: %s", st.label, explain(pid, "it"))
        return ("noreply", st)


def _start(link, strategy, max_children, max_restarts, max_seconds, name):
    what = "DynamicSupervisor.start_link" if link else "DynamicSupervisor.start"
    if strategy != "one_for_one":
        raise ValueError(f"{what}: the only strategy is 'one_for_one', not {strategy!r}")
    if max_children is not None and not (isinstance(max_children, int) and max_children >= 0):
        raise ValueError(f"{what}: max_children must be None or an int >= 0, not {max_children!r}")
    if not (isinstance(max_restarts, int) and max_restarts >= 0 and max_seconds > 0):
        raise ValueError(f"{what}: max_restarts must be an int >= 0 and max_seconds > 0")
    start = GenServer.start_link if link else GenServer.start
    return start(_DynamicServer, (max_children, max_restarts, max_seconds, name), name=name)


class DynamicSupervisor:
    """Elixir's ``DynamicSupervisor``. A supervisor is addressed as a GenServer
    is: a pid, a name, ``(name, node)`` or a via-name."""

    @staticmethod
    def start_link(
        strategy: str = "one_for_one",
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5,
        name=None,
    ):
        """Start an empty supervisor linked to the caller; ``("ok", pid)``."""
        return _start(True, strategy, max_children, max_restarts, max_seconds, name)

    @staticmethod
    def start(
        strategy: str = "one_for_one",
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5,
        name=None,
    ):
        """As ``start_link`` without the link (use it at the prompt)."""
        return _start(False, strategy, max_children, max_restarts, max_seconds, name)

    @staticmethod
    def child_spec(opts=None) -> dict:
        """``(DynamicSupervisor, {"name": ..., "max_children": ...})`` in a Supervisor's children."""
        o = dict(opts or {})
        args = (
            o.get("strategy", "one_for_one"),
            o.get("max_children"),
            o.get("max_restarts", 3),
            o.get("max_seconds", 5),
            o.get("name"),
        )
        return {
            "id": o.get("name") or "DynamicSupervisor",
            "start": (DynamicSupervisor.start_link, args),
            "type": "supervisor",
        }

    @staticmethod
    def start_child(sup, spec):
        """Start a child from ``spec`` (a dict, a GenServer class, ``(cls, arg)``);
        ``("ok", pid)``, ``"ignore"``, ``("error", "max_children")`` or ``("error", reason)``."""
        return GenServer.call(sup, ("start_child", child_spec(spec)), timeout=None)

    @staticmethod
    def terminate_child(sup, pid: Pid):
        """Stop the child ``pid`` (it is not restarted); ``"ok"`` or ``("error", "not_found")``."""
        return GenServer.call(sup, ("terminate_child", pid), timeout=None)

    @staticmethod
    def which_children(sup) -> list:
        """``[("undefined", pid, type, modules)]`` in start order, as Elixir's."""
        return GenServer.call(sup, ("which_children",), timeout=None)

    @staticmethod
    def count_children(sup) -> dict:
        return GenServer.call(sup, ("count_children",), timeout=None)

    @staticmethod
    def stop(sup, reason="normal", timeout: float | None = None) -> str:
        """Stop the supervisor and (newest first) its children."""
        return GenServer.stop(sup, reason, timeout)


DynamicSupervisor.__module__ = "pydist"
