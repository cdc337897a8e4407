"""``Supervisor``: starts children, watches them, restarts them.

The supervisor is itself a GenServer (``_SupervisorServer``) that traps
exits: each child is started by its spec's ``start`` function from inside
the supervisor's process, which links it there (and the supervisor links
once more to be sure), so a dying child arrives as ``("EXIT", pid,
reason)``. The restart strategy says who else restarts with it; the
restart intensity (``max_restarts`` within ``max_seconds``) stops a crash
loop: past it the supervisor shuts every child down and exits with
``"shutdown"``, which its own supervisor then sees.

A child's registered name is free again when it exits (the runtime drops
names at exit), so the restarted child registers the same name.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from .._api.processes import Process, node, receive, send
from .._api.processes import self as self_pid
from .._base.reasons import exception_reason, explain, is_normal
from .._base.terms import Pid, is_down
from .genserver import GenServer

__all__ = ["Supervisor"]

log = logging.getLogger("pydist")

STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
RESTARTS = ("permanent", "transient", "temporary")


def child_spec(spec, **overrides) -> dict:
    """Normalize a child spec: a dict, a GenServer class, or ``(cls, arg)``.

    A class (or any object) with a ``child_spec(arg)`` method provides the
    dict itself, as Elixir's ``MapServer`` / ``{MapServer, arg}`` do.
    ``overrides`` replace keys (as ``Supervisor.child_spec/2``).
    """
    if isinstance(spec, dict):
        d = dict(spec)
    elif hasattr(spec, "child_spec") and not isinstance(spec, tuple):
        d = dict(spec.child_spec(None))
    elif type(spec) is tuple and len(spec) == 2 and hasattr(spec[0], "child_spec"):
        d = dict(spec[0].child_spec(spec[1]))
    else:
        raise TypeError(
            f"bad child spec {spec!r}: give a dict {{'id': ..., 'start': (fn, args)}}, "
            "a GenServer class, or (GenServer class, arg)"
        )
    d.update(overrides)
    if "id" not in d:
        raise ValueError(f"bad child spec {d!r}: it has no 'id'")
    start: Any = d.get("start")  # checked just below
    if callable(start):
        start = (start, ())
    if not (type(start) in (tuple, list) and len(start) == 2 and callable(start[0])):
        raise ValueError(f"bad child spec for {d['id']!r}: 'start' must be (function, args), not {start!r}")
    d["start"] = (start[0], tuple(start[1]))
    d.setdefault("restart", "permanent")
    d.setdefault("type", "worker")
    d.setdefault("shutdown", None if d["type"] == "supervisor" else 5.0)
    d.setdefault("modules", [])
    if d["restart"] not in RESTARTS:
        raise ValueError(f"bad child spec for {d['id']!r}: 'restart' must be one of {RESTARTS}")
    if d["type"] not in ("worker", "supervisor"):
        raise ValueError(f"bad child spec for {d['id']!r}: 'type' must be 'worker' or 'supervisor'")
    sd = d["shutdown"]
    if sd == "infinity":
        d["shutdown"] = None
    elif not (sd is None or sd == "brutal_kill" or (type(sd) in (int, float) and sd >= 0)):
        raise ValueError(f"bad child spec for {d['id']!r}: 'shutdown' must be seconds, 'brutal_kill' or 'infinity'")
    return d


class _Child:
    __slots__ = ("pid", "restarts", "spec")

    def __init__(self, spec):
        self.spec = spec
        self.pid = None  # a Pid, None (not running) or "restarting"
        self.restarts = 0  # times restarted (the observer and Supervisor.tree show it)

    @property
    def id(self):
        return self.spec["id"]


def _start(ch: _Child):
    """Run the child's start function here; ``("ok", pid|None)`` or ``("error", reason)``."""
    fn, args = ch.spec["start"]
    try:
        ret = fn(*args)
    except Exception as err:
        log.error(
            "Supervisor on %s: child %r failed to start: %s: %s", node(), ch.id, type(err).__name__, err, exc_info=err
        )
        return ("error", exception_reason(err))
    if type(ret) is Pid:
        ret = ("ok", ret)
    if ret == "ignore":
        return ("ok", None)
    if type(ret) is tuple and len(ret) in (2, 3) and ret[0] == "ok" and type(ret[1]) is Pid:
        Process.link(ret[1])  # a start function that forgot to link is still supervised
        return ("ok", ret[1])
    if type(ret) is tuple and len(ret) == 2 and ret[0] == "error":
        return ret
    return ("error", ("bad_return_value", ret))


def _shutdown(ch: _Child) -> None:
    """Stop one child as Erlang does: unlink, exit(shutdown), kill after the grace time."""
    pid = ch.pid
    ch.pid = None
    if type(pid) is not Pid:
        return
    mref = Process.monitor(pid)
    Process.unlink(pid)
    try:  # its exit may have arrived already: it is not a crash to handle later
        receive(0, lambda m: type(m) is tuple and len(m) == 3 and m[0] == "EXIT" and m[1] == pid)
    except TimeoutError:
        pass

    def down(m):
        return is_down(m, mref)

    grace = ch.spec["shutdown"]
    if grace == "brutal_kill":
        Process.exit(pid, "kill")
    else:
        Process.exit(pid, "shutdown")
        try:
            receive(grace, down)
            return
        except TimeoutError:
            log.warning("Supervisor on %s: child %r did not stop within %s s; killing it", node(), ch.id, grace)
            Process.exit(pid, "kill")
    receive(None, down)


class _State:
    def __init__(self, children, strategy, max_restarts, max_seconds, label):
        self.children: list[_Child] = children
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.restarts: deque = deque()
        self.label = label


class _SupervisorServer(GenServer):
    def init(self, arg):
        specs, strategy, max_restarts, max_seconds = arg
        Process.flag("trap_exit", True)
        me = self_pid()
        name = next((n for n in Process.registered() if Process.whereis(n) == me), None)
        label = f"{name!r} on {node()}" if name else f"{me}"
        st = _State([_Child(s) for s in specs], strategy, max_restarts, max_seconds, label)
        for i, ch in enumerate(st.children):
            ok, value = _start(ch)
            if ok != "ok":
                for started in reversed(st.children[:i]):
                    _shutdown(started)
                log.error("Supervisor %s: child %r failed to start: %s", label, ch.id, _words(value))
                return ("stop", ("shutdown", ("failed_to_start_child", ch.id, value)))
            ch.pid = value
        return ("ok", st)

    def terminate(self, reason, st):
        for ch in reversed(st.children):
            _shutdown(ch)

    # -- children dying ---------------------------------------------------------
    def handle_info(self, msg, st):
        if type(msg) is tuple and len(msg) == 3 and msg[0] == "EXIT":
            ch = next((c for c in st.children if c.pid == msg[1]), None)
            if ch is not None:
                return self._child_exited(st, ch, msg[2])
            return ("noreply", st)
        if type(msg) is tuple and len(msg) == 2 and msg[0] == "$restart":
            ch = next((c for c in st.children if c.id == msg[1] and c.pid == "restarting"), None)
            if ch is not None:
                return self._restart(st, ch)
            return ("noreply", st)
        return super().handle_info(msg, st)

    def _child_exited(self, st, ch, reason):
        ch.pid = None
        restart = ch.spec["restart"]
        if restart == "temporary" or (restart == "transient" and is_normal(reason)):
            if restart == "temporary":
                st.children.remove(ch)
            if not is_normal(reason):
                log.error(
                    "Supervisor %s: child %r exited: %s (temporary: not restarted)", st.label, ch.id, _words(reason)
                )
            return ("noreply", st)
        log.log(
            logging.INFO if is_normal(reason) else logging.ERROR,
            "Supervisor %s: child %r exited: %s; restarting it (%s)",
            st.label,
            ch.id,
            _words(reason),
            st.strategy,
        )
        return self._restart(st, ch)

    def _restart(self, st, ch):
        now = time.monotonic()
        st.restarts.append(now)
        while st.restarts and now - st.restarts[0] > st.max_seconds:
            st.restarts.popleft()
        if len(st.restarts) > st.max_restarts:
            log.error(
                "Supervisor %s reached its maximum restart intensity (more than %d restarts "
                "in %g s): shutting down its children and exiting",
                st.label,
                st.max_restarts,
                st.max_seconds,
            )
            return ("stop", "shutdown", st)
        i = st.children.index(ch)
        if st.strategy == "one_for_one":
            group = [ch]
        elif st.strategy == "one_for_all":
            group = list(st.children)
        else:
            group = st.children[i:]
        for other in reversed(group):
            if other is not ch:
                _shutdown(other)
        for c in list(group):
            if c is not ch and c.spec["restart"] == "temporary":
                st.children.remove(c)
                continue
            if c not in st.children:
                continue
            ok, value = _start(c)
            if ok != "ok":
                log.error("Supervisor %s: restarting child %r failed: %s; trying again", st.label, c.id, _words(value))
                c.pid = "restarting"
                send(self_pid(), ("$restart", c.id))
                return ("noreply", st)
            c.pid = value
            c.restarts += 1
        return ("noreply", st)

    # -- the API's calls -----------------------------------------------------------
    def handle_call(self, request, from_, st):
        op = request[0] if type(request) is tuple and request else None
        find = {c.id: c for c in st.children}
        if op == "which_children":
            return ("reply", [(c.id, c.pid, c.spec["type"], list(c.spec["modules"])) for c in st.children], st)
        if op == "tree_info":
            return ("reply", {"strategy": st.strategy, "restarts": {c.id: c.restarts for c in st.children}}, st)
        if op == "count_children":
            live = [c for c in st.children if type(c.pid) is Pid]
            return (
                "reply",
                {
                    "specs": len(st.children),
                    "active": len(live),
                    "supervisors": sum(c.spec["type"] == "supervisor" for c in st.children),
                    "workers": sum(c.spec["type"] == "worker" for c in st.children),
                },
                st,
            )
        if op == "start_child":
            spec = request[1]
            old = find.get(spec["id"])
            if old is not None:
                err = ("already_started", old.pid) if type(old.pid) is Pid else "already_present"
                return ("reply", ("error", err), st)
            new = _Child(spec)
            ok, value = _start(new)
            if ok != "ok":
                return ("reply", ("error", value), st)
            new.pid = value
            st.children.append(new)
            return ("reply", ("ok", value), st)
        ch = find.get(request[1])
        if ch is None:
            return ("reply", ("error", "not_found"), st)
        if op == "terminate_child":
            _shutdown(ch)
            if ch.spec["restart"] == "temporary":
                st.children.remove(ch)
            return ("reply", "ok", st)
        if op == "restart_child":
            if ch.pid is not None:
                return ("reply", ("error", "running" if type(ch.pid) is Pid else "restarting"), st)
            ok, value = _start(ch)
            if ok != "ok":
                return ("reply", ("error", value), st)
            ch.pid = value
            return ("reply", ("ok", value), st)
        if op == "delete_child":
            if ch.pid is not None:
                return ("reply", ("error", "running"), st)
            st.children.remove(ch)
            return ("reply", "ok", st)
        return ("reply", ("error", ("unknown_call", request)), st)


def _words(reason) -> str:
    return explain(reason, "it")


def _start_sup(link, children, strategy, max_restarts, max_seconds, name, what):
    if strategy not in STRATEGIES:
        raise ValueError(f"{what}: strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if not (isinstance(max_restarts, int) and max_restarts >= 0 and max_seconds > 0):
        raise ValueError(f"{what}: max_restarts must be an int >= 0 and max_seconds > 0")
    specs = [child_spec(c) for c in children]
    ids = [s["id"] for s in specs]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise ValueError(
            f"{what}: two children have the id {dup!r}; give each a unique 'id' (Supervisor.child_spec(spec, id=...))"
        )
    start = GenServer.start_link if link else GenServer.start
    return start(_SupervisorServer, (specs, strategy, max_restarts, max_seconds), name=name)


class Supervisor:
    """Elixir's ``Supervisor``: ``start_link(children, strategy=..., ...)`` and friends."""

    child_spec = staticmethod(child_spec)

    @staticmethod
    def start_link(
        children, strategy: str = "one_for_one", max_restarts: int = 3, max_seconds: float = 5, name: str | None = None
    ):
        """Start the children in order, linked; returns ``("ok", pid)``.

        ``("error", ("shutdown", ("failed_to_start_child", id, reason)))``
        if one fails to start (those already started are stopped again).
        Raises ValueError for a bad spec or option.
        """
        return _start_sup(True, children, strategy, max_restarts, max_seconds, name, "Supervisor.start_link")

    @staticmethod
    def start(
        children, strategy: str = "one_for_one", max_restarts: int = 3, max_seconds: float = 5, name: str | None = None
    ):
        """As ``start_link`` without the link to the caller (use it at the prompt)."""
        return _start_sup(False, children, strategy, max_restarts, max_seconds, name, "Supervisor.start")

    @staticmethod
    def which_children(sup) -> list:
        """``[(id, pid | None | "restarting", type, modules)]`` in start order."""
        return GenServer.call(sup, ("which_children",), timeout=None)

    @staticmethod
    def tree(sup):
        """``sup``'s supervision tree as a rich ``Tree`` (the prompt draws it): each child's
        id, pid and restart count, supervisors below supervisors; ``sup`` may be on another node."""
        from .sup_tree import tree

        return tree(sup)

    @staticmethod
    def count_children(sup) -> dict:
        return GenServer.call(sup, ("count_children",), timeout=None)

    @staticmethod
    def start_child(sup, spec):
        """Add and start a child; ``("ok", pid)`` or ``("error", reason)``."""
        return GenServer.call(sup, ("start_child", child_spec(spec)), timeout=None)

    @staticmethod
    def terminate_child(sup, child_id):
        return GenServer.call(sup, ("terminate_child", child_id), timeout=None)

    @staticmethod
    def restart_child(sup, child_id):
        return GenServer.call(sup, ("restart_child", child_id), timeout=None)

    @staticmethod
    def delete_child(sup, child_id):
        return GenServer.call(sup, ("delete_child", child_id), timeout=None)

    @staticmethod
    def stop(sup, reason="normal", timeout: float | None = None):
        """Stop the supervisor and (in reverse order) its children."""
        return GenServer.stop(sup, reason, timeout)


Supervisor.__module__ = "pydist"
