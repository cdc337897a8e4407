"""Two nodes play ping-pong.

Terminal 1:  pydist --sname pong examples/ping_pong.py
Terminal 2:  pydist --sname ping examples/ping_pong.py pong      (3 rounds by default)

The first waits for pings under the registered name "pong" (Ctrl-C stops
it); the second connects, sends ("ping", self(), n) a few times and prints
each answer. Full form of the second:

    pydist --sname ping examples/ping_pong.py PEER [ROUNDS [--stop]]

PEER is the first node's name (``pong`` or ``pong@HOST``); ``--stop`` (after
ROUNDS, e.g. ``pong 3 --stop``) also tells the first node to stop.
"""

import sys

ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def serve():
    Process.register(self(), "pong")
    print(f"{node()} is waiting for pings (Ctrl-C to stop)", flush=True)
    while True:
        msg = receive()
        if msg == "stop":
            print("pong: stopping")
            return
        tag, sender, n = msg
        print(f"pong: got ping {n} from {sender.node}", flush=True)
        send(sender, ("pong", node(), n))


def play(peer):
    peer = peer if "@" in peer else f"{peer}@{node().split('@')[1]}"
    if Node.ping(peer) != "pong":
        sys.exit(f"cannot reach {peer}: start it first with pydist --sname {peer.split('@')[0]} examples/ping_pong.py")
    for n in range(1, ROUNDS + 1):
        send(("pong", peer), ("ping", self(), n))
        print(receive(timeout=5))
    if "--stop" in sys.argv:
        send(("pong", peer), "stop")


if len(sys.argv) > 1:
    play(sys.argv[1])
else:
    serve()
