"""Messaging benchmark: pydist against raw pyzmq, in the same run, on loopback.

Run it as ``python benchmarks/messaging.py`` (``--rounds N``, ``--quick``,
``--json FILE``); the figures are recorded in docs/performance.md.

Why ratios: the machines this runs on are shared and noisy, so absolute
microseconds mean little from one minute to the next. Every round measures
raw pyzmq (plain and CURVE) and pydist in interleaved blocks, and each
figure is a ratio against the raw baseline of the *same* round; the summary
is the median over rounds, with their range.

Who runs what (this one file plays every part, picked by ``argv[1]``):

- the orchestrator (no argument) starts a private name server port, two
  pydist nodes (``python -m pydist --sname X messaging.py node-a|node-b``)
  and two raw pyzmq processes (``raw-server``, ``raw-client``), sends the
  measuring processes one JSON command per line on stdin and reads one
  ``RESULT {json}`` line back;
- ``node-b`` registers ``bench_echo``, which answers ``(pid, i)`` with
  ``("pong", i)`` and acks a burst of ``("m", i)`` once all have arrived;
- ``node-a`` measures: round trip, one-way throughput, remote spawn;
- ``raw-server`` / ``raw-client``: a DEALER->ROUTER ping-pong of the same
  small pickled tuples with plain ``pickle``, without and with CURVE; and
  (for benchmarks/core.py) a raw function call: a cloudpickled function
  sent, called by the server, its pickled result sent back.

Bounded: every loop has a count and a deadline, every wait a timeout; all
processes and the name server are killed at the end, even on failure.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HWM = 200_000  # the same high-water marks pydist's transport uses
WAIT = 10.0  # seconds any single reply may take before the run fails
CMD_DEADLINE = 60.0  # seconds any one measurement may take in all
TARGETS = {"rt": 1.5, "tp": 0.5, "spawn": 2.0}


# -- shared by the measuring processes ------------------------------------------
def _latency_stats(samples_us: list[float]) -> dict:
    s = sorted(samples_us)

    def pick(q):
        return s[min(len(s) - 1, int(q * len(s)))]

    return {"n": len(s), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99)}


def _timed_loop(step, n: int, warm: int) -> dict:
    """``step(i)`` n times after ``warm`` untimed ones; stops early at the deadline.

    Returns every sample (µs), so the orchestrator can pool interleaved blocks."""
    from time import perf_counter_ns

    for i in range(warm):
        step(i)
    deadline = perf_counter_ns() + int(CMD_DEADLINE * 1e9)
    lat = []
    for i in range(n):
        t0 = perf_counter_ns()
        step(i)
        t1 = perf_counter_ns()
        lat.append(t1 - t0)
        if t1 > deadline:
            break
    return {"samples": [round(x / 1000, 1) for x in lat]}


def _serve_commands(handlers: dict) -> None:
    """Read JSON commands from stdin until ``quit``/EOF; answer ``RESULT {json}``."""
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            return
        print("RESULT " + json.dumps(handlers[cmd["op"]](**cmd["args"])), flush=True)


# -- raw pyzmq --------------------------------------------------------------------
def raw_server() -> None:
    """Two ROUTERs (plain and CURVE) in one poll loop; drains like pydist's I/O thread."""
    import zmq

    ctx = zmq.Context()
    pub, sec = zmq.curve_keypair()
    plain, curve = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
    curve.curve_server, curve.curve_publickey, curve.curve_secretkey = True, pub, sec
    ports = []
    for s in (plain, curve):
        s.rcvhwm = s.sndhwm = HWM
        s.linger = 0
        ports.append(s.bind_to_random_port("tcp://127.0.0.1"))
    print(f"READY {ports[0]} {ports[1]} {pub.decode()}", flush=True)
    poller = zmq.Poller()
    for s in (plain, curve):
        poller.register(s, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    state = {plain: [0, 0], curve: [0, 0]}  # socket -> [expected, received]
    loads, dumps = pickle.loads, pickle.dumps
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for s, _ in poller.poll(1000):
            if s == sys.stdin.fileno():
                return  # the orchestrator closed our stdin (or sent quit)
            for _ in range(1000):
                try:
                    ident, data = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                msg = loads(data)
                kind = msg[0]
                if kind == "ping":
                    s.send_multipart([ident, dumps(("pong", msg[1]))])
                elif kind == "m":
                    st = state[s]
                    st[1] += 1
                    if st[1] == st[0]:
                        s.send_multipart([ident, dumps(("ack", st[1]))])
                elif kind == "tp":
                    state[s] = [msg[1], 0]
                elif kind == "call":  # benchmarks/core.py: a cloudpickled function, its result pickled back
                    s.send_multipart([ident, dumps(("ret", msg[1](*msg[2])))])


def raw_client(plain_port: str, curve_port: str, server_key: str) -> None:
    import zmq

    ctx = zmq.Context()
    socks = {}
    for variant, port in (("plain", plain_port), ("curve", curve_port)):
        d = ctx.socket(zmq.DEALER)
        d.sndhwm = d.rcvhwm = HWM
        d.rcvtimeo = int(WAIT * 1000)
        d.linger = 0
        if variant == "curve":
            d.curve_serverkey = server_key.encode()
            d.curve_publickey, d.curve_secretkey = zmq.curve_keypair()
        d.connect(f"tcp://127.0.0.1:{port}")
        socks[variant] = d
    loads, dumps = pickle.loads, pickle.dumps

    def rt(variant, n, warm):
        d = socks[variant]

        def step(i):
            d.send(dumps(("ping", i)))
            assert loads(d.recv()) == ("pong", i)

        return _timed_loop(step, n, warm)

    def tp(variant, n):
        d = socks[variant]
        t0 = time.perf_counter()
        d.send(dumps(("tp", n)))
        for i in range(n):
            d.send(dumps(("m", i)))
        assert loads(d.recv()) == ("ack", n)
        return {"n": n, "rate": n / (time.perf_counter() - t0)}

    def fn(variant, n, warm):
        """A raw remote function call: ``_tiny`` by value (cloudpickle), called there, its result back."""
        import cloudpickle

        d, fdumps = socks[variant], cloudpickle.dumps

        def step(i):
            d.send(fdumps(("call", _tiny, (i,))))
            assert loads(d.recv()) == ("ret", i + 1)

        return _timed_loop(step, n, warm)

    print("READY", flush=True)
    _serve_commands({"rt": rt, "tp": tp, "fn": fn})


def _tiny(i):
    """The function of the raw function-call round trip; defined in ``__main__``, so it travels by value."""
    return i + 1


# -- pydist nodes (run under ``python -m pydist --sname X``) -----------------------
def _echo() -> None:
    from pydist import Pid, receive, send

    ack_to, expected, got = None, 0, 0
    for _ in range(50_000_000):
        msg = receive(timeout=300)
        if type(msg[0]) is Pid:
            send(msg[0], ("pong", msg[1]))
        elif msg[0] == "m":
            got += 1
            if got == expected:
                send(ack_to, ("ack", got))
        elif msg[0] == "tp":
            _, ack_to, expected = msg
            got = 0
        elif msg[0] == "stop":
            return


def _reply_to(pid, i) -> None:
    """Runs on node B after a Node.spawn from A; travels by value (defined in __main__)."""
    from pydist import send

    send(pid, ("spawned", i))


def node_b() -> None:
    from pydist import Process, node, send, spawn

    echo = spawn(_echo)
    Process.register(echo, "bench_echo")
    print(f"READY {node()}", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    send(echo, ("stop",))


def node_a(peer: str) -> None:
    from pydist import Node, receive, self, send

    if Node.ping(peer) != "pong":
        raise SystemExit(f"node-a: cannot reach {peer}")
    me, dest = self(), ("bench_echo", peer)

    def rt(n, warm):
        def step(i):
            send(dest, (me, i))
            assert receive(timeout=WAIT) == ("pong", i)

        return _timed_loop(step, n, warm)

    def tp(n):
        t0 = time.perf_counter()
        send(dest, ("tp", me, n))
        for i in range(n):
            send(dest, ("m", i))
        assert receive(timeout=CMD_DEADLINE) == ("ack", n)
        return {"n": n, "rate": n / (time.perf_counter() - t0)}

    def spawn(n, warm):
        def step(i):
            Node.spawn(peer, _reply_to, me, i)
            assert receive(timeout=WAIT) == ("spawned", i)

        return _timed_loop(step, n, warm)

    print("READY", flush=True)
    _serve_commands({"rt": rt, "tp": tp, "spawn": spawn})


# -- the orchestrator ----------------------------------------------------------------
class Child:
    """A child process spoken to by lines; its stdout is read by a thread."""

    def __init__(self, name: str, cmd: list[str], env: dict):
        self.name = name
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise RuntimeError(
                    f"{self.name}: no {prefix!r} line within {timeout} s; output:\n" + "\n".join(self.log[-30:])
                )
            self.log.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def call(self, op: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.expect("RESULT", CMD_DEADLINE + 2 * WAIT))

    def stop(self):
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only this child
            except OSError:
                self.proc.kill()
            self.proc.wait(3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def _round(a: Child, raw: Child, sizes: dict, index: int) -> dict:
    """One measurement of everything.

    Latencies are taken in ``blocks`` short blocks that take turns (raw,
    raw CURVE, pydist, in a rotating order) and are pooled, so a burst of
    load from elsewhere on the machine hits them alike; the three
    throughput bursts of a round run in alternating order.
    """
    blocks, warm = sizes["blocks"], sizes["warm"]
    rt_n, sp_n = sizes["rt"] // blocks, sizes["spawn"] // blocks
    calls = {
        "raw_plain_rt": lambda w: raw.call("rt", variant="plain", n=rt_n, warm=w),
        "raw_curve_rt": lambda w: raw.call("rt", variant="curve", n=rt_n, warm=w),
        "pydist_rt": lambda w: a.call("rt", n=rt_n, warm=w),
        "pydist_spawn": lambda w: a.call("spawn", n=sp_n, warm=w),
    }
    order = list(calls)
    samples = {k: [] for k in calls}
    for b in range(blocks):
        w = warm if b == 0 else max(1, warm // 10)
        for key in order[(b + index) % len(order) :] + order[: (b + index) % len(order)]:
            samples[key] += calls[key](w)["samples"]
    r = {k: _latency_stats(v) for k, v in samples.items()}
    tps = [
        ("raw_plain_tp", lambda: raw.call("tp", variant="plain", n=sizes["tp"])),
        ("raw_curve_tp", lambda: raw.call("tp", variant="curve", n=sizes["tp"])),
        ("pydist_tp", lambda: a.call("tp", n=sizes["tp"])),
    ]
    for key, call in tps if index % 2 == 0 else tps[::-1]:
        r[key] = call()
    return r


def _report(rounds: list[dict], sizes: dict) -> str:
    import zmq

    def med(key, q):
        return _median([r[key][q] for r in rounds])

    def per_round(num, q, den, dq):
        return [r[num][q] / r[den][dq] for r in rounds]

    out = [
        f"pydist messaging benchmark: {len(rounds)} rounds, loopback, nproc {os.cpu_count()}, "
        f"Python {sys.version.split()[0]}, pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()})",
        f"sizes: round trip {sizes['rt']} (+{sizes['warm']} warm-up), throughput {sizes['tp']:,} msgs, "
        f"spawn {sizes['spawn']} per round, latencies in {sizes['blocks']} interleaved blocks; "
        "medians over rounds",
        "",
        f"{'':24}{'raw':>10}{'raw CURVE':>11}{'pydist':>10}",
    ]
    for label, key, q, fmt in (
        ("round trip p50 (µs)", "rt", "p50", ".0f"),
        ("round trip p90 (µs)", "rt", "p90", ".0f"),
        ("throughput (msg/s)", "tp", "rate", ",.0f"),
    ):
        out.append(
            f"{label:24}{med(f'raw_plain_{key}', q):>10{fmt}}{med(f'raw_curve_{key}', q):>11{fmt}}"
            f"{med(f'pydist_{key}', q):>10{fmt}}"
        )
    out.append(f"{'spawn + reply p50 (µs)':24}{'':>21}{med('pydist_spawn', 'p50'):>10.0f}")
    out += ["", f"{'ratio (pydist / raw)':24}{'vs raw':>9}{'(rounds)':>15}{'vs CURVE':>10}   target (vs raw)"]
    rows = (
        ("round trip p50 / raw", "pydist_rt", "p50", "rt", "p50", "<=", TARGETS["rt"]),
        ("round trip p90 / raw", "pydist_rt", "p90", "rt", "p90", "", None),
        ("throughput / raw", "pydist_tp", "rate", "tp", "rate", ">=", TARGETS["tp"]),
        ("spawn p50 / raw rt p50", "pydist_spawn", "p50", "rt", "p50", "<=", TARGETS["spawn"]),
    )
    for label, num, q, base, bq, op, target in rows:
        plain = per_round(num, q, f"raw_plain_{base}", bq)
        curve = _median(per_round(num, q, f"raw_curve_{base}", bq))
        verdict = ""
        if target is not None:
            ok = _median(plain) <= target if op == "<=" else _median(plain) >= target
            verdict = f"{op} {target}  {'met' if ok else 'MISSED'}"
        spread = f"{min(plain):.2f}-{max(plain):.2f}"
        out.append(f"{label:24}{_median(plain):>8.2f}x{spread:>15}{curve:>9.2f}x   {verdict}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=4, help="rounds of every measurement (default 4)")
    p.add_argument("--quick", action="store_true", help="small counts, to check the script works")
    p.add_argument("--json", metavar="FILE", help="also write every round's raw figures to FILE")
    args = p.parse_args(argv)
    sizes = (
        {"rt": 300, "warm": 50, "tp": 5000, "spawn": 100, "blocks": 3}
        if args.quick
        else {"rt": 5000, "warm": 500, "tp": 100_000, "spawn": 2000, "blocks": 5}
    )
    home = tempfile.mkdtemp(prefix="pydist-bench-")
    env = dict(
        os.environ,
        HOME=home,
        PYDIST_EPMD_PORT=str(_free_port()),
        PYDIST_COOKIE="bench-" + secrets.token_hex(8),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    )
    me, tag = str(Path(__file__).resolve()), f"{os.getpid()}"
    children: list[Child] = []
    try:
        b = Child("node-b", [sys.executable, "-m", "pydist", "--sname", f"benchb{tag}", me, "node-b"], env)
        children.append(b)
        b_full = b.expect("READY", 30)
        a = Child("node-a", [sys.executable, "-m", "pydist", "--sname", f"bencha{tag}", me, "node-a", b_full], env)
        children.append(a)
        srv = Child("raw-server", [sys.executable, me, "raw-server"], env)
        children.append(srv)
        ports = srv.expect("READY", 30).split()
        raw = Child("raw-client", [sys.executable, me, "raw-client", *ports], env)
        children.append(raw)
        a.expect("READY", 30)
        raw.expect("READY", 30)
        rounds = []
        for i in range(args.rounds):
            t0 = time.monotonic()
            rounds.append(_round(a, raw, sizes, i))
            print(f"round {i + 1}/{args.rounds} done in {time.monotonic() - t0:.1f} s", flush=True)
        print()
        print(_report(rounds, sizes))
        if args.json:
            Path(args.json).write_text(json.dumps({"sizes": sizes, "rounds": rounds}, indent=1))
        return 0
    except (RuntimeError, AssertionError) as err:
        print(f"messaging benchmark failed: {err}", file=sys.stderr)
        return 1
    finally:
        for c in reversed(children):
            c.stop()
        subprocess.run(
            [sys.executable, "-m", "pydist", "epmd", "--kill"], env=env, cwd=str(ROOT), capture_output=True, timeout=30
        )
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "node-a":
        node_a(sys.argv[2])
    elif role == "node-b":
        node_b()
    elif role == "raw-server":
        raw_server()
    elif role == "raw-client":
        raw_client(*sys.argv[2:5])
    else:
        sys.exit(main(sys.argv[1:]))
