"""The floor of pydist's design on this machine: a bare prototype beside raw CURVE.

Run it as ``python benchmarks/floor.py`` (``--rounds N``, ``--n ROUND_TRIPS``).
It answers "how close to raw ZeroMQ can *this shape* get here, with no pydist
in it?", so that benchmarks/core.py's ratios can be read against it
(docs/performance.md, "Where the time goes").

Each round, in fresh OS processes on loopback, with CURVE on every socket:

- **raw**: a DEALER client and a ROUTER server, one connection, the client
  blocking in ``recv`` — core.py's "raw CURVE ping-pong";
- **prototype**: two nodes in pydist's socket shape (each binds a ROUTER and
  connects a DEALER to the other, so a request and its reply ride two
  connections), each running a greenlet switched into by its own poll loop
  (one ``poll(2)`` on the ROUTER's FD, a Frame's ``more``, a zero-timeout
  ``zmq_poll`` for "is there more?" — the loop pydist uses). Nothing else:
  no pids, names, mailboxes, links, tracing or batching;
- **one connection**: the same prototype, but the reply rides the request's
  connection back (B answers through its ROUTER, A reads its DEALER), as
  Erlang's one connection per node pair does.

Printed per round: the p50s of ``--n`` round trips of a small pickled
tuple, the ratios, and the CPU the prototype's loop thread spends per round
trip (``time.thread_time``). Bounded: every child exits when its stdin
closes or after 120 s; all are killed at the end, even on failure.
"""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import time

DEADLINE = 120.0  # seconds a child lives at most


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sockets(zmq, ctx, keys, bind_port: int | None, connect_port: int | None, ident: bytes = b""):
    pub, sec = keys
    out = []
    if bind_port is not None:
        r = ctx.socket(zmq.ROUTER)
        r.curve_server, r.curve_publickey, r.curve_secretkey, r.linger = True, pub, sec, 0
        r.bind(f"tcp://127.0.0.1:{bind_port}")
        out.append(r)
    if connect_port is not None:
        d = ctx.socket(zmq.DEALER)
        d.curve_serverkey, d.curve_publickey, d.curve_secretkey, d.linger = pub, pub, sec, 0
        if ident:
            d.routing_id = ident
        d.connect(f"tcp://127.0.0.1:{connect_port}")
        out.append(d)
    return out


def _p50(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def _measure(step, n: int) -> tuple[float, float]:
    """p50 of ``n`` timed steps (µs) after 200 untimed ones, and CPU per step (µs)."""
    for i in range(200):
        step(i)
    samples = []
    c0 = time.thread_time()
    for i in range(n):
        t0 = time.perf_counter()
        step(i)
        samples.append((time.perf_counter() - t0) * 1e6)
    return _p50(samples), (time.thread_time() - c0) / n * 1e6


def raw_server(port: int, keys) -> None:
    import zmq

    (r,) = _sockets(zmq, zmq.Context(), keys, port, None)
    r.rcvtimeo = int(DEADLINE * 1000)
    while True:
        ident, data = r.recv_multipart()
        msg = pickle.loads(data)
        if msg == "quit":
            return
        r.send_multipart([ident, pickle.dumps(("pong", msg[1]))])


def raw_client(port: int, keys, n: int) -> str:
    import zmq

    (d,) = _sockets(zmq, zmq.Context(), keys, None, port)
    d.rcvtimeo = 10_000

    def step(i):
        d.send(pickle.dumps(("ping", i)))
        assert pickle.loads(d.recv()) == ("pong", i)

    p50, _ = _measure(step, n)
    d.send(pickle.dumps("quit"))
    time.sleep(0.1)
    return f"{p50:.1f}"


def proto_node(role: str, my_port: int, peer_port: int, keys, n: int, shape: str = "two") -> str:
    import select

    import greenlet
    import zmq

    ctx = zmq.Context()
    if shape == "two":
        router, dealer = _sockets(zmq, ctx, keys, my_port, peer_port, role.encode())
        inbox = router
    elif role == "b":  # one connection: B only binds, and answers through its ROUTER
        (router,) = _sockets(zmq, ctx, keys, my_port, None)
        dealer, inbox = None, router
    else:  # ... and A only connects, and reads its DEALER
        (dealer,) = _sockets(zmq, ctx, keys, None, peer_port, role.encode())
        router = inbox = dealer
    peer_ident: list[bytes] = []
    hub, mailbox, ready = greenlet.getcurrent(), [], []
    out: list[str] = []

    def receive():
        while not mailbox:
            hub.switch()
        return mailbox.pop(0)

    def send(msg):
        if dealer is not None:
            dealer.send(pickle.dumps(msg))
        else:
            router.send_multipart([peer_ident[0], pickle.dumps(msg)])

    def echo():
        while True:
            msg = receive()
            if msg == "quit":
                return
            send(("pong", msg[1]))

    def client():
        time.sleep(0.3)  # both connections up

        def step(i):
            send(("ping", i))
            assert receive() == ("pong", i)

        p50, cpu = _measure(step, n)
        out.append(f"{p50:.1f} {cpu:.1f}")
        send("quit")

    g = greenlet.greenlet(echo if role == "b" else client)
    ready.append(g)
    poller = select.poll()
    poller.register(inbox.FD, select.POLLIN)
    item = [(inbox, zmq.POLLIN)]
    has_ident = inbox.type == zmq.ROUTER
    deadline = time.monotonic() + DEADLINE
    while not g.dead and time.monotonic() < deadline:
        while ready:
            ready.pop().switch()
        if g.dead:
            break
        while zmq.zmq_poll(item, 0):  # read until the socket says it is empty: its FD is edge-triggered
            if has_ident:
                ident = inbox.recv(zmq.NOBLOCK)
                if not peer_ident:
                    peer_ident.append(ident)
            mailbox.append(pickle.loads(inbox.recv(0, False).bytes))
            ready.append(g)
            break
        if not ready:
            poller.poll(1000)
    time.sleep(0.1)
    return out[0] if out else "-"


def _child(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _round(n: int) -> tuple[float, float, float]:
    import zmq

    pub, sec = zmq.curve_keypair()
    keys = [pub.decode(), sec.decode()]
    kids = []
    try:
        port = _port()
        kids.append(_child(["raw-server", str(port), *keys]))
        time.sleep(0.2)
        client = _child(["raw-client", str(port), *keys, str(n)])
        kids.append(client)
        raw = float(client.communicate(timeout=DEADLINE)[0].split()[-1])
        found = [raw]
        for shape in ("two", "one"):
            pa, pb = _port(), _port()
            kids.append(_child(["proto-node", "b", str(pb), str(pa), *keys, str(n), shape]))
            a = _child(["proto-node", "a", str(pa), str(pb), *keys, str(n), shape])
            kids.append(a)
            found.extend(float(x) for x in a.communicate(timeout=DEADLINE)[0].split()[-2:])
        return tuple(found)
    finally:
        for k in kids:
            if k.poll() is None:
                k.kill()
            k.wait(5)


def main(argv: list[str]) -> int:
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 5
    n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 3000
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `python benchmarks/floor.py --rounds {rounds}`")
    two, one = [], []
    for i in range(rounds):
        raw, proto, cpu, proto1, cpu1 = _round(n)
        two.append(proto / raw)
        one.append(proto1 / raw)
        print(
            f"round {i + 1}: raw CURVE {raw:.0f} µs; prototype, two connections {proto:.0f} µs "
            f"({proto / raw:.2f}×, its loop {cpu:.0f} µs CPU a round trip); one connection {proto1:.0f} µs "
            f"({proto1 / raw:.2f}×, {cpu1:.0f} µs CPU)"
        )
    for label, ratios in (("two connections", two), ("one connection", one)):
        ratios.sort()
        print(
            f"prototype, {label} ÷ raw CURVE, median of {rounds}: {ratios[len(ratios) // 2]:.2f}× "
            f"(range {ratios[0]:.2f}–{ratios[-1]:.2f})"
        )
    return 0


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "raw-server":
        raw_server(int(sys.argv[2]), (sys.argv[3].encode(), sys.argv[4].encode()))
    elif role == "raw-client":
        print(raw_client(int(sys.argv[2]), (sys.argv[3].encode(), sys.argv[4].encode()), int(sys.argv[5])))
    elif role == "proto-node":
        keys = (sys.argv[5].encode(), sys.argv[6].encode())
        print(proto_node(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), keys, int(sys.argv[7]), sys.argv[8]))
    else:
        sys.exit(main(sys.argv[1:]))
