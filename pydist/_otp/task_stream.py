"""``Task.async_stream``: a bounded pool of tasks over an iterable, optionally over nodes.

The caller's process starts up to ``max_concurrency`` tasks (monitored,
not linked: a crashing element is a value, ``("exit", reason)``), takes
the next element as each one finishes, and yields results in input order
(or as they come). With ``nodes=[...]`` the elements go to those nodes in
turn, each task spawned there directly (Elixir needs a ``Task.Supervisor``
on every node for this). Closing the generator early stops the tasks
still running, so an abandoned stream leaves no work behind.
"""

from __future__ import annotations

import os
import time

from .._api.processes import Process, make_ref, receive, spawn_on
from .._api.processes import node as own_node
from .._api.processes import self as self_pid
from .._base.errors import Exit
from .._base.names import qualify
from .._base.terms import down_ref
from . import task_run as _run

__all__ = ["stream"]


def stream(iterable, fn, max_concurrency, timeout, ordered, nodes, on_timeout):
    """Check the arguments now (not at the first ``next``), then return the generator."""
    if not callable(fn):
        raise TypeError(f"Task.async_stream: expected a function to run on each element, got {fn!r}")
    if on_timeout not in ("exit", "kill_task"):
        raise ValueError(f"Task.async_stream: on_timeout must be 'exit' or 'kill_task', not {on_timeout!r}")
    if timeout == "infinity":
        timeout = None
    targets = [None] if not nodes else [qualify(n, own_node()) for n in nodes]
    limit = max_concurrency or (os.cpu_count() or 1) * len(targets)
    if not (isinstance(limit, int) and limit >= 1):
        raise ValueError(f"Task.async_stream: max_concurrency must be a positive int, not {max_concurrency!r}")
    return _results(iter(iterable), fn, limit, timeout, ordered, targets, on_timeout)


def _results(it, fn, limit, timeout, ordered, targets, on_timeout):
    me = self_pid()
    running: dict = {}  # reply ref -> [index, pid, mref, deadline]
    by_mref: dict = {}
    done: dict = {}  # index -> result, waiting for its turn (ordered)
    next_out = started = 0
    exhausted = False

    def mine(m):
        return (type(m) is tuple and len(m) == 2 and m[0] in running) or down_ref(m) in by_mref

    try:
        while True:
            while not exhausted and len(running) < limit:
                try:
                    x = next(it)
                except StopIteration:
                    exhausted = True
                    break
                ref = make_ref()
                on = targets[started % len(targets)]
                pid, mref = spawn_on(on, _run.run, (me, ref, fn, (x,)), monitor=True, what="Task.async_stream")
                running[ref] = [started, pid, mref, None if timeout is None else time.monotonic() + timeout]
                by_mref[mref] = ref
                started += 1
            if not running:
                return
            finished = []  # (index, result)
            soonest = min((e[3] for e in running.values() if e[3] is not None), default=None)
            try:
                msg = receive(None if soonest is None else max(0.0, soonest - time.monotonic()), mine)
            except TimeoutError:
                now = time.monotonic()
                late = [ref for ref, e in running.items() if e[3] is not None and e[3] <= now]
                if on_timeout == "exit":
                    raise Exit(
                        ("timeout", ("Task", "async_stream", [timeout])),
                        f"Task.async_stream: an element took longer than {timeout} s; its tasks were stopped "
                        "(pass a larger timeout=, or on_timeout='kill_task' to get ('exit', 'timeout') for it)",
                    ) from None
                out = _run.stop([(running[r][1], r, running[r][2]) for r in late])
                for r in late:
                    e = running.pop(r)
                    by_mref.pop(e[2], None)
                    finished.append((e[0], out[r] if out[r] and out[r][0] == "ok" else ("exit", "timeout")))
            else:
                if len(msg) == 2:
                    e = running.pop(msg[0])
                    by_mref.pop(e[2], None)
                    Process.demonitor(e[2], flush=True)
                    finished.append((e[0], ("ok", msg[1])))
                else:
                    e = running.pop(by_mref.pop(msg[1]))
                    finished.append((e[0], ("exit", msg[4])))
            for index, result in finished:
                if not ordered:
                    yield result
                    continue
                done[index] = result
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
    finally:
        if running:  # closed early, a timeout, or the caller was interrupted
            _run.stop([(e[1], r, e[2]) for r, e in running.items()])
