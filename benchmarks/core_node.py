"""The pydist side of benchmarks/core.py: the nodes it measures.

Run by core.py as ``python -m pydist --sname X benchmarks/core_node.py ROLE``
(never by hand; it reads JSON commands on stdin and answers ``RESULT {json}``):

- ``node-b`` serves: ``bench_echo`` (messaging.py's echo process) and
  ``bench_gs`` (a GenServer answering each call with its request);
- ``node-a PEER`` measures, each figure from the process kind the command
  names: ``main`` (this script's own process, thread-backed like the
  prompt's evaluator), ``spawned`` (``spawn(fn)``: a green process once the
  new core lands, a thread before) or ``thread`` (``spawn(fn, thread=True)``,
  offered only when the runtime has the option);
- ``rss N``: holds N processes waiting in ``receive()``, prints the RSS they
  cost and exits at once (core.py kills it in any case).

The functions sent to the peer (``_tiny``, ``_reply_to``, ``_ring_member``)
live here, in ``__main__``, so they travel by value as a prompt's do, like
the raw function call's ``_tiny`` in messaging.py.
"""

from __future__ import annotations

import collections
import inspect
import os
import sys
import time

from messaging import CMD_DEADLINE, WAIT, _echo, _serve_commands, _timed_loop

from pydist import GenServer, Node, Process, make_ref, receive, rpc, self, send, spawn

RESERVE_TASKS = 8192  # task ids (pids/threads) the rss load leaves to the rest of the shared machine
MIN_FREE_MEM = 0.2  # ... and the share of the machine's memory


# -- travel by value to the peer ---------------------------------------------------
def _tiny(i):
    return i + 1


def _reply_to(pid, i) -> None:
    send(pid, ("spawned", i))


def _ring_member(reporter) -> None:
    """Pass ("tok", k) to the next member as ("tok", k - 1); at 0 tell ``reporter``."""
    try:
        _, nxt = receive(timeout=CMD_DEADLINE, match=lambda m: m[0] == "next")
        for _ in range(100_000_000):
            m = receive(timeout=CMD_DEADLINE)
            if m[0] == "tok":
                send(reporter, ("done",)) if m[1] == 0 else send(nxt, ("tok", m[1] - 1))
            elif m[0] == "stop":
                return
    except TimeoutError:
        return  # bounded: a member left behind stops by itself


def _nothing() -> None:
    pass


def _thread_option() -> bool:
    """Whether this runtime has ``spawn(fn, thread=True)`` (the new core) or not (every process a thread)."""
    params = inspect.signature(spawn).parameters
    if "thread" in params:
        return True
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return False
    try:
        spawn(_nothing, thread=True)
        return True
    except TypeError:
        return False


def _echo_once() -> None:
    pid, i = receive(timeout=WAIT)
    send(pid, ("pong", i))


# -- node A: every figure from a process of a given kind -----------------------------
def _in_process(kind: str, job):
    """``job()``'s value, computed in a process of ``kind`` (``main``: this one)."""
    if kind == "main":
        return job()
    me, tag = self(), make_ref()

    def runner():
        try:
            out = (True, job())
        except Exception as err:  # reported to the orchestrator, one line
            out = (False, f"{type(err).__name__}: {err}")
        send(me, (tag, out))

    spawn(runner, thread=True) if kind == "thread" else spawn(runner)
    _, (ok, value) = receive(
        timeout=CMD_DEADLINE + 4 * WAIT, match=lambda m: type(m) is tuple and len(m) == 2 and m[0] == tag
    )
    if not ok:
        raise RuntimeError(f"{kind} process: {value}")
    return value


def _latency_step(what: str, peer: str):
    """One round trip of ``what``, as a function of the sequence number."""
    me = self()
    if what == "msg":
        dest = ("bench_echo", peer)

        def step(i):
            send(dest, (me, i))
            if receive(timeout=WAIT) != ("pong", i):
                raise AssertionError("send + receive: wrong reply")
    elif what == "gs":
        dest = ("bench_gs", peer)

        def step(i):
            if GenServer.call(dest, i) != i:
                raise AssertionError("GenServer.call: wrong reply")
    elif what == "rpc":

        def step(i):
            if rpc.call(peer, _tiny, i) != i + 1:
                raise AssertionError("rpc.call: wrong value")
    elif what == "nspawn":

        def step(i):
            Node.spawn(peer, _reply_to, me, i)
            if receive(timeout=WAIT) != ("spawned", i):
                raise AssertionError("Node.spawn: wrong reply")
    elif what == "local":

        def step(i):
            send(spawn(_echo_once), (me, i))
            if receive(timeout=WAIT) != ("pong", i):
                raise AssertionError("local spawn + reply: wrong reply")
    else:
        raise ValueError(f"unknown latency {what!r}")
    return step


def _throughput(peer: str, n: int) -> dict:
    me, dest = self(), ("bench_echo", peer)
    t0 = time.perf_counter()
    send(dest, ("tp", me, n))
    for i in range(n):
        send(dest, ("m", i))
    if receive(timeout=CMD_DEADLINE) != ("ack", n):
        raise AssertionError("throughput: wrong ack")
    return {"n": n, "rate": n / (time.perf_counter() - t0)}


def _spawn_rate(n: int) -> dict:
    """``n`` spawns of a trivial function, timed until all of them have run and ended."""
    base = len(Process.list())
    t0 = time.perf_counter()
    for _ in range(n):
        spawn(_nothing)
    t1 = time.perf_counter()
    deadline = t1 + CMD_DEADLINE
    while len(Process.list()) > base:
        if time.perf_counter() > deadline:
            raise AssertionError(f"spawn rate: {len(Process.list()) - base} trivial processes still alive")
        Process.sleep(0.002)
    t2 = time.perf_counter()
    return {"n": n, "rate": n / (t2 - t0), "call_rate": n / (t1 - t0)}


def _ring(peer: str | None, procs: int, hops: int) -> dict:
    """A token passed ``hops`` times round ``procs`` members (every other one on ``peer``)."""
    me = self()
    members = [Node.spawn(peer, _ring_member, me) if peer and i % 2 else spawn(_ring_member, me) for i in range(procs)]
    try:
        for i, p in enumerate(members):
            send(p, ("next", members[(i + 1) % procs]))
        t0 = time.perf_counter()
        send(members[0], ("tok", hops))
        if receive(timeout=CMD_DEADLINE) != ("done",):
            raise AssertionError("ring: wrong message")
        return {"procs": procs, "hops": hops, "rate": hops / (time.perf_counter() - t0)}
    finally:
        for p in members:
            send(p, ("stop",))


def node_a(peer: str) -> None:
    deadline = time.monotonic() + 30
    while Node.ping(peer) != "pong":
        if time.monotonic() > deadline:
            raise SystemExit(f"node-a: cannot reach {peer}")
        time.sleep(0.2)

    thread_option = _thread_option()
    kinds = ["spawned", "main"] + (["thread"] if thread_option else [])

    def lat(kind, what, n, warm):
        return _in_process(kind, lambda: _timed_loop(_latency_step(what, peer), n, warm))

    handlers = {
        "kinds": lambda: {"kinds": kinds, "thread_option": thread_option},
        "lat": lat,
        "tp": lambda kind, n: _in_process(kind, lambda: _throughput(peer, n)),
        "spawn_rate": lambda kind, n: _in_process(kind, lambda: _spawn_rate(n)),
        "ring": lambda kind, remote, procs, hops: _in_process(
            kind, lambda: _ring(peer if remote else None, procs, hops)
        ),
    }

    def guarded(fn):
        def run(**args):
            try:
                return fn(**args)
            except Exception as err:
                return {"error": f"{type(err).__name__}: {err}"}

        return run

    print("READY", flush=True)
    _serve_commands({op: guarded(fn) for op, fn in handlers.items()})


# -- node B: the echo side -------------------------------------------------------------
class _EchoServer(GenServer):
    def handle_call(self, request, from_, state):
        return ("reply", request, state)


def node_b() -> None:
    echo = spawn(_echo)
    Process.register(echo, "bench_echo")
    GenServer.start(_EchoServer, None, name="bench_gs")
    print(f"READY {Node.self()}", flush=True)
    for line in sys.stdin:
        if "quit" in line:
            break
    send(echo, ("stop",))


# -- rss: the cost of a waiting process ----------------------------------------------
def _proc_field(path: str, key: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in {path}")


def _machine_limit(spawned: int) -> str | None:
    """Why not to go on: the shared machine is near its task or memory limit (else None)."""
    with open("/proc/loadavg") as f:
        tasks = int(f.read().split()[3].split("/")[1])
    with open("/proc/sys/kernel/pid_max") as f, open("/proc/sys/kernel/threads-max") as g:
        limit = min(int(f.read()), int(g.read()))
    if limit - tasks < RESERVE_TASKS:
        return (
            f"stopped at {spawned:,} processes: the machine has {limit - tasks:,} of its {limit:,} task ids "
            f"(pid_max) left, and each process here holds an OS thread"
        )
    avail, total = _proc_field("/proc/meminfo", "MemAvailable:"), _proc_field("/proc/meminfo", "MemTotal:")
    if avail < MIN_FREE_MEM * total:
        return f"stopped at {spawned:,} processes: the machine's available memory fell to {avail // 1024:,} MiB"
    return None


def rss(n: int, seconds: float) -> None:
    import json

    ready: collections.deque = collections.deque()  # appended by each process once it runs
    hold = seconds + 60  # every waiting process ends by itself, even if nobody kills the node

    def wait() -> None:
        ready.append(None)
        try:
            receive(timeout=hold)
        except TimeoutError:
            pass

    for _ in range(10):
        spawn(_nothing)
    time.sleep(0.3)
    before = _proc_field("/proc/self/status", "VmRSS:")
    t0 = time.monotonic()
    deadline, error, spawned = t0 + seconds, None, 0
    try:
        for spawned in range(n):
            if spawned % 1000 == 0:
                error = _machine_limit(spawned)
                if error is None and time.monotonic() > deadline:
                    error = f"stopped at {spawned:,} processes: spawning took over {seconds:.0f} s"
                if error:
                    break
            spawn(wait)
        else:
            spawned = n
    except Exception as err:
        error = f"{type(err).__name__}: {err} (after {spawned:,} processes)"
    t_spawn = time.monotonic() - t0
    while len(ready) < spawned and time.monotonic() < deadline + 10:
        time.sleep(0.05)
    time.sleep(0.2)
    after = _proc_field("/proc/self/status", "VmRSS:")
    waiting = len(ready)
    print(
        "RESULT "
        + json.dumps(
            {
                "n": n,
                "spawned": spawned,
                "waiting": waiting,
                "rss_before_kib": before,
                "rss_after_kib": after,
                "kib_per_process": (after - before) / waiting if waiting else None,
                "spawn_secs": t_spawn,
                "error": error,
            }
        ),
        flush=True,
    )
    os._exit(0)  # the quickest way to end a million processes


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "node-a":
        node_a(sys.argv[2])
    elif role == "node-b":
        node_b()
    elif role == "rss":
        rss(int(sys.argv[2]), float(sys.argv[3]))
    else:
        raise SystemExit("benchmarks/core_node.py is started by benchmarks/core.py")
