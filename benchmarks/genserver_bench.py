"""GenServer benchmark: local and remote ``GenServer.call`` round trips and
``kv_store.put`` on three nodes, beside a raw pyzmq DEALER<->ROUTER
ping-pong measured in the same run (the figures are ratios against it).

Run it as ``python benchmarks/genserver_bench.py`` (``--rounds N``,
``--n CALLS``, ``--quick``). Not a test: it prints a table for
docs/performance.md ("GenServer").

Who runs what (this one file plays every part, picked by ``argv[1]``):

- the orchestrator (no argument) picks a free name-server port, a temporary
  HOME and a random cookie, and starts three nodes
  ``python -m pydist --sname gbX -S examples/kv_store genserver_bench.py node``
  (the kv_store app, its Epmd host list set to the three), and per round a raw
  ``raw-server`` / ``raw-client`` pair;
- ``node``: starts ``bench_echo`` (a GenServer answering each call with its
  request) and ``bench_msg_echo`` (a plain process answering ``(pid, i)``
  with ``("pong", i)``: one pydist message round trip, for comparison), and
  answers JSON commands on stdin with ``RESULT {json}``;
- ``raw-server``/``raw-client``: a DEALER->ROUTER ping-pong of the same small
  pickled tuples, one thread per side, no CURVE (the plainest floor).

Every wait has a timeout; all processes and the name server end with the run.
"""

from __future__ import annotations

import json
import os
import pickle
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0


def _stats(samples_us):
    s = sorted(samples_us)
    return {"p50": s[len(s) // 2], "p90": s[int(len(s) * 0.9)], "n": len(s)}


def _timed(step, n, warm=200):
    for i in range(warm):
        step(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        step(i)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


# -- the parts ---------------------------------------------------------------
def raw_server():
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.ROUTER)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print(port, flush=True)
    while True:
        ident, data = s.recv_multipart()
        msg = pickle.loads(data)
        if msg == "quit":
            return
        s.send_multipart([ident, pickle.dumps(("pong", msg[1]))])


def raw_client(port, n):
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.connect(f"tcp://127.0.0.1:{port}")

    def step(i):
        s.send(pickle.dumps(("ping", i)))
        pickle.loads(s.recv())

    print(json.dumps(_timed(step, int(n))), flush=True)
    s.send(pickle.dumps("quit"))
    time.sleep(0.1)


def node_main(ns):
    from pydist import GenServer, Node

    class Echo(GenServer):
        def handle_call(self, request, from_, state):
            return ("reply", request, state)

    GenServer.start(Echo, None, name="bench_echo")

    def raw_echo():  # plain processes: what one pydist message round trip costs
        from pydist import receive, send

        while True:
            pid, i = receive()
            send(pid, ("pong", i))

    from pydist import Process, receive, send, spawn
    from pydist import self as me

    Process.register(spawn(raw_echo), "bench_msg_echo")
    kv_store = ns["kv_store"]
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "quit":
            return
        if op == "peers":
            result = sorted(Node.list())
        elif op == "local":
            result = _timed(lambda i: GenServer.call("bench_echo", i), cmd["n"])
        elif op == "msg":
            peer, my = cmd["peer"], me()
            result = _timed(lambda i, peer=peer, my=my: (send(("bench_msg_echo", peer), (my, i)), receive()), cmd["n"])
        elif op == "remote":
            peer = cmd["peer"]
            result = _timed(lambda i, peer=peer: GenServer.call(("bench_echo", peer), i), cmd["n"])
        elif op == "put":
            t0 = time.perf_counter()
            lat = _timed(lambda i: kv_store.put(f"k{i}", i), cmd["n"], warm=50)
            result = {"lat": lat, "secs": time.perf_counter() - t0}
            assert kv_store.put("check", 1) == "ok"
        print("RESULT " + json.dumps(result), flush=True)


# -- the orchestrator ----------------------------------------------------------
class Node:
    def __init__(self, name, env):
        self.name = name
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pydist",
                "--sname",
                name,
                "-S",
                str(ROOT / "examples" / "kv_store"),
                __file__,
                "node",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(ROOT / "examples" / "kv_store"),
        )
        self._expect("READY")

    def _expect(self, prefix):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} ended before answering")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise RuntimeError(f"{self.name}: no {prefix} within {WAIT} s")

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._expect("RESULT "))

    def stop(self):
        try:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.close()
            self.proc.wait(5)
        except Exception:
            self.proc.kill()


def raw_round(env, n):
    server = subprocess.Popen([sys.executable, __file__, "raw-server"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = server.stdout.readline().strip()
        out = subprocess.run(
            [sys.executable, __file__, "raw-client", port, str(n)],
            capture_output=True,
            text=True,
            env=env,
            timeout=WAIT,
        )
        return json.loads(out.stdout)
    finally:
        server.wait(10) if server.poll() is None else None


def main(argv):
    rounds = 1 if "--quick" in argv else int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    n = 300 if "--quick" in argv else int(argv[argv.index("--n") + 1]) if "--n" in argv else 3000
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="pydist-bench-home-")
    names = [f"gb{i}x{os.getpid()}@localhost" for i in range(3)]
    env = dict(
        os.environ,
        PYDIST_EPMD_PORT=str(port),
        HOME=home,
        PYDIST_COOKIE=secrets.token_hex(16),
        KV_STORE_HOSTS=",".join(names),
        KV_STORE_POLL="5",
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    nodes = []
    try:
        nodes = [Node(name, env) for name in names]
        a = nodes[0]
        deadline = time.monotonic() + WAIT
        while a.ask(op="peers") != sorted(names[1:]):
            if time.monotonic() > deadline:
                raise RuntimeError("the three nodes did not connect")
            time.sleep(0.1)
        rows = {k: [] for k in ("raw", "msg", "local", "remote", "put")}
        put_rate = []
        for _ in range(rounds):  # blocks take turns, so load elsewhere hits them alike
            rows["raw"].append(_stats(raw_round(env, n)))
            rows["msg"].append(_stats(a.ask(op="msg", n=n, peer=names[1])))
            rows["local"].append(_stats(a.ask(op="local", n=n)))
            rows["remote"].append(_stats(a.ask(op="remote", n=n, peer=names[1])))
            put = a.ask(op="put", n=n // 3)
            rows["put"].append(_stats(put["lat"]))
            put_rate.append(len(put["lat"]) / sum(put["lat"]) * 1e6)
        report(rows, put_rate, rounds, n)
    finally:
        for node in nodes:
            node.stop()
        subprocess.run([sys.executable, "-m", "pydist", "epmd", "--kill"], env=env, capture_output=True)


def report(rows, put_rate, rounds, n):
    med = statistics.median
    raw50 = med([r["p50"] for r in rows["raw"]])
    print(
        f"\n{rounds} rounds x {n} calls (kv_store.put: {n // 3}); medians over rounds; "
        f"ratio = p50 / raw pyzmq p50 of the same round\n"
    )
    print("| | p50 | p90 | ratio to raw (range) | per second (1/p50) |")
    print("|---|---:|---:|---:|---:|")
    for key, label in (
        ("raw", "raw pyzmq DEALER↔ROUTER ping-pong"),
        ("msg", "pydist send + receive, remote node"),
        ("local", "GenServer.call, local"),
        ("remote", "GenServer.call, remote node"),
        ("put", "kv_store.put, 3 replicas"),
    ):
        p50 = med([r["p50"] for r in rows[key]])
        p90 = med([r["p90"] for r in rows[key]])
        ratios = [r["p50"] / raw["p50"] for r, raw in zip(rows[key], rows["raw"], strict=True)]
        print(
            f"| {label} | {p50:.0f} µs | {p90:.0f} µs | {med(ratios):.2f}× "
            f"({min(ratios):.2f}–{max(ratios):.2f}) | {1e6 / p50:,.0f} |"
        )
    layer = [g["p50"] / m["p50"] for g, m in zip(rows["remote"], rows["msg"], strict=True)]
    print(
        f"\nremote GenServer.call / pydist message round trip (same round): {med(layer):.2f}× "
        f"({min(layer):.2f}–{max(layer):.2f}) — what the GenServer layer adds"
    )
    print(f"kv_store.put sustained: {med(put_rate):,.0f} writes/s (raw ping-pong: {1e6 / raw50:,.0f} round trips/s)")


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "raw-server":
        raw_server()
    elif role == "raw-client":
        raw_client(sys.argv[2], sys.argv[3])
    elif role == "node":
        node_main(globals())
    else:
        main(sys.argv[1:])
