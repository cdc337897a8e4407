"""``Task``: one function in a process of its own, and its value back (Elixir's ``Task``).

``Task.async_(fn, *args, node=None)`` starts ``fn`` in a process linked to
and monitored by the caller (on ``node`` if given: the function travels by
value), and returns a ``Task``; only that caller, the task's owner, may
``await_``, ``yield_``, ``shutdown`` or ``ignore`` it. The task sends
``(task.ref, value)`` and exits (see ``task_run``). Names carry PEP 8's
trailing underscore where Python's keywords take Elixir's (``async_``,
``await_``, ``yield_``).

Which process runs what: ``fn`` runs in the task's process; everything
else here runs in the owner, on spawn/send/receive/monitor/link alone.
"""

from __future__ import annotations

import time

from .._api.processes import Process, make_ref, receive, send, spawn_on
from .._api.processes import node as own_node
from .._api.processes import self as self_pid
from .._base.errors import Exit
from .._base.names import qualify
from .._base.reasons import explain, node_went_down
from .._base.terms import down_ref
from . import task_run as _run
from .dynamic_supervisor import DynamicSupervisor
from .task_stream import stream

__all__ = ["Task"]


def _check_owner(task, what: str) -> None:
    if not isinstance(task, Task):
        raise TypeError(f"Task.{what}: expected a Task (from Task.async_), got {task!r}")
    if task.owner != self_pid():
        raise ValueError(
            f"Task.{what}: {task!r} must be queried from its owner {task.owner}, not from {self_pid()} "
            "(send the value to other processes instead)"
        )


def _exit_reason(reason, pid):
    return ("nodedown", pid.node) if reason == "noconnection" else reason


def _crashed(what: str, task, reason, desc) -> Exit:
    reason = _exit_reason(reason, task.pid)
    if type(reason) is tuple and reason[:1] == ("nodedown",):
        words = node_went_down(reason[1], "the task's")
    else:
        words = explain(reason, "the task")
    return Exit((reason, desc), f"Task.{what}: {words}")


def _timed_out(what: str, tasks, timeout, desc) -> Exit:
    pids = ", ".join(str(t.pid) for t in tasks)
    return Exit(
        ("timeout", desc),
        f"Task.{what} timed out after {timeout} s: stopped {pids} (pass a larger timeout= if the work is just slow)",
    )


def _receive_any(tasks, deadline):
    """The next reply or DOWN of one of ``tasks``: ``(task, msg)``; TimeoutError past ``deadline``."""
    by_ref = {t.ref: t for t in tasks}
    by_mref = {t.mref: t for t in tasks}

    def mine(m):
        return (type(m) is tuple and len(m) == 2 and m[0] in by_ref) or down_ref(m) in by_mref

    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    msg = receive(left, mine)
    return (by_ref[msg[0]] if len(msg) == 2 else by_mref[msg[1]]), msg


def _deadline(timeout):
    if timeout == "infinity":
        timeout = None
    return None if timeout is None else time.monotonic() + timeout


class Task:
    """A running task (``Task.async_``'s result) and Elixir's ``Task`` module.

    ``task.pid`` is the task's process, ``task.ref`` tags its reply
    ``(ref, value)``, ``task.owner`` is the process that may await it.
    """

    __slots__ = ("mref", "owner", "pid", "ref")

    def __init__(self, pid, ref, owner, mref):
        self.pid, self.ref, self.owner, self.mref = pid, ref, owner, mref

    def __repr__(self) -> str:
        return f"Task(pid={self.pid}, ref={self.ref})"

    def __eq__(self, other):
        return isinstance(other, Task) and other.ref == self.ref

    def __hash__(self):
        return hash(self.ref)

    # -- starting -------------------------------------------------------------
    @staticmethod
    def async_(fn, *args, node: str | None = None) -> Task:
        """Run ``fn(*args)`` in a new process (on ``node`` if given), linked and monitored.

        A crash in ``fn`` takes the caller down too (the link), as in
        Elixir; use ``Task.Supervisor.async_nolink`` to get it as a value.
        """
        on = None if node is None else qualify(node, own_node())
        owner = self_pid()
        ref = make_ref()
        pid, mref = spawn_on(on, _run.run, (owner, ref, fn, args), link=True, monitor=True, what="Task.async_")
        return Task(pid, ref, owner, mref)

    @staticmethod
    def start(fn, *args):
        """Run ``fn(*args)`` in a process nobody waits for; ``("ok", pid)`` (a side effect)."""
        pid, _ = spawn_on(None, fn, args, what="Task.start")
        return ("ok", pid)

    @staticmethod
    def start_link(fn, *args):
        """As ``start``, linked to the caller (a supervisor's child); ``("ok", pid)``."""
        pid, _ = spawn_on(None, fn, args, link=True, what="Task.start_link")
        return ("ok", pid)

    # -- collecting -----------------------------------------------------------
    @staticmethod
    def await_(task: Task, timeout: float | None = 5.0):
        """The task's value; waits ``timeout`` seconds (None or ``"infinity"``: forever).

        Raises ``Exit`` with ``("timeout", ("Task", "await_", [task,
        timeout]))`` after stopping the task (as Elixir's, where the linked
        task dies with its caller), or ``(reason, ...)`` if the task exited
        first (``("nodedown", node)`` if its node went down).
        """
        _check_owner(task, "await_")
        desc = ("Task", "await_", [task, timeout])
        try:
            _task, msg = _receive_any([task], _deadline(timeout))
        except TimeoutError:
            _run.stop([(task.pid, task.ref, task.mref)])
            raise _timed_out("await_", [task], timeout, desc) from None
        if len(msg) == 2:
            Process.demonitor(task.mref, flush=True)
            return msg[1]
        raise _crashed("await_", task, msg[4], desc)

    @staticmethod
    def await_many(tasks, timeout: float | None = 5.0) -> list:
        """The values of all ``tasks``, in their order, within ``timeout`` seconds in all.

        On a timeout every task still running is stopped and ``Exit(("timeout", ...))``
        is raised; a task that exits first raises ``Exit((reason, ...))``.
        """
        tasks = list(tasks)
        for t in tasks:
            _check_owner(t, "await_many")
        desc = ("Task", "await_many", [tasks, timeout])
        deadline = _deadline(timeout)
        values: dict = {}
        pending = list(tasks)
        while pending:
            try:
                task, msg = _receive_any(pending, deadline)
            except TimeoutError:
                _run.stop([(t.pid, t.ref, t.mref) for t in pending])
                raise _timed_out("await_many", pending, timeout, desc) from None
            if len(msg) == 5:
                raise _crashed("await_many", task, msg[4], desc)
            Process.demonitor(task.mref, flush=True)
            values[task.ref] = msg[1]
            pending.remove(task)
        return [values[t.ref] for t in tasks]

    @staticmethod
    def yield_(task: Task, timeout: float | None = 5.0):
        """``("ok", value)``, ``("exit", reason)`` if the task died, or None if it is still
        running after ``timeout`` seconds (it keeps running: yield again, or shut it down)."""
        _check_owner(task, "yield_")
        try:
            _task, msg = _receive_any([task], _deadline(timeout))
        except TimeoutError:
            return None
        if len(msg) == 2:
            Process.demonitor(task.mref, flush=True)
            return ("ok", msg[1])
        return ("exit", msg[4])

    @staticmethod
    def yield_many(tasks, timeout: float | None = 5.0) -> list:
        """``[(task, result)]`` in the tasks' order; ``result`` as ``yield_`` gives it."""
        tasks = list(tasks)
        for t in tasks:
            _check_owner(t, "yield_many")
        deadline = _deadline(timeout)
        got: dict = {}
        pending = list(tasks)
        while pending:
            try:
                task, msg = _receive_any(pending, deadline)
            except TimeoutError:
                break
            pending.remove(task)
            if len(msg) == 2:
                Process.demonitor(task.mref, flush=True)
                got[task.ref] = ("ok", msg[1])
            else:
                got[task.ref] = ("exit", msg[4])
        return [(t, got.get(t.ref)) for t in tasks]

    @staticmethod
    def shutdown(task: Task, timeout: float | str = 5.0):
        """Stop the task: ``"shutdown"``, then ``"kill"`` after ``timeout`` seconds
        (``"brutal_kill"``: at once). Returns ``("ok", value)`` if its reply had
        arrived, ``("exit", reason)`` if it had died of something else, else None."""
        _check_owner(task, "shutdown")
        if timeout == "brutal_kill":
            out = _run.stop([(task.pid, task.ref, task.mref)], "kill")
        elif isinstance(timeout, str):
            raise ValueError(f"Task.shutdown: timeout is a number of seconds or 'brutal_kill', not {timeout!r}")
        else:
            out = _run.stop([(task.pid, task.ref, task.mref)], "shutdown", grace=timeout)
        return out[task.ref]

    @staticmethod
    def ignore(task: Task):
        """Stop watching the task (it runs on, unlinked); its result if it had one already."""
        _check_owner(task, "ignore")
        Process.unlink(task.pid)
        try:
            _task, msg = _receive_any([task], time.monotonic())
        except TimeoutError:
            Process.demonitor(task.mref, flush=True)
            return None
        Process.demonitor(task.mref, flush=True)
        return ("ok", msg[1]) if len(msg) == 2 else ("exit", msg[4])

    @staticmethod
    def async_stream(
        iterable,
        fn,
        max_concurrency: int | None = None,
        timeout: float | None = 5.0,
        ordered: bool = True,
        nodes=None,
        on_timeout: str = "exit",
    ):
        """Run ``fn(x)`` for each ``x`` in tasks, at most ``max_concurrency`` at once.

        Yields ``("ok", value)`` or ``("exit", reason)`` per element (a crash
        is a value here, not the caller's death), in the input's order unless
        ``ordered=False``. ``nodes=[...]`` spreads the elements over those
        nodes in turn (default concurrency: this machine's cores per node).
        ``timeout`` is per element; past it the stream raises
        ``Exit(("timeout", ...))`` after stopping its tasks, or yields
        ``("exit", "timeout")`` for that element with ``on_timeout="kill_task"``.
        """
        return stream(iterable, fn, max_concurrency, timeout, ordered, nodes, on_timeout)

    class Supervisor:
        """Elixir's ``Task.Supervisor``: tasks under a DynamicSupervisor, on any node.

        ``sup`` is addressed as a GenServer is, so ``("tasks", "b@vm")`` starts
        the task on b (the function travels with the request). Its children are
        ``temporary``: a task that crashes is not restarted.
        """

        @staticmethod
        def start_link(name=None, max_children: int | None = None):
            """Start a task supervisor linked to the caller; ``("ok", pid)``."""
            return DynamicSupervisor.start_link(max_children=max_children, name=name)

        @staticmethod
        def start(name=None, max_children: int | None = None):
            """As ``start_link`` without the link (use it at the prompt)."""
            return DynamicSupervisor.start(max_children=max_children, name=name)

        @staticmethod
        def child_spec(opts=None) -> dict:
            return DynamicSupervisor.child_spec(opts) | {"id": (opts or {}).get("name") or "Task.Supervisor"}

        @staticmethod
        def start_child(sup, fn, *args, restart: str = "temporary"):
            """Run ``fn(*args)`` under ``sup``, nobody waiting for it; ``("ok", pid)``."""
            spec = {"id": "Task", "start": (_run.start_plain, (fn, args)), "restart": restart}
            return DynamicSupervisor.start_child(sup, spec)

        @staticmethod
        def async_(sup, fn, *args) -> Task:
            """As ``Task.async_``, but the task runs under ``sup`` (on ``sup``'s node), linked to the caller."""
            return _supervised(sup, fn, args, True, "async_")

        @staticmethod
        def async_nolink(sup, fn, *args) -> Task:
            """As ``async_``, not linked: a crash is ``("exit", reason)`` for ``yield_``, not the caller's death."""
            return _supervised(sup, fn, args, False, "async_nolink")

        @staticmethod
        def children(sup) -> list:
            """The pids of ``sup``'s running tasks."""
            return [c[1] for c in DynamicSupervisor.which_children(sup)]

        @staticmethod
        def terminate_child(sup, pid):
            return DynamicSupervisor.terminate_child(sup, pid)


def _supervised(sup, fn, args, link: bool, what: str) -> Task:
    if not callable(fn):
        raise TypeError(f"Task.Supervisor.{what}: expected a function, got {fn!r}")
    owner, ref = self_pid(), make_ref()
    spec = {"id": "Task", "start": (_run.start_supervised, (owner, ref, fn, args, link)), "restart": "temporary"}
    ret = DynamicSupervisor.start_child(sup, spec)
    if not (type(ret) is tuple and ret[0] == "ok"):
        raise Exit(
            (ret[1] if type(ret) is tuple else ret, ("Task.Supervisor", what, [sup])),
            f"Task.Supervisor.{what}: {sup!r} did not start the task: {ret!r}",
        )
    pid = ret[1]
    mref = Process.monitor(pid)
    send(pid, ("$task_go", ref))
    return Task(pid, ref, owner, mref)


Task.__module__ = "pydist"
Task.Supervisor.__module__ = "pydist"
