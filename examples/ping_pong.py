"""Two nodes play ping-pong.

Terminal 1:  pydist --sname pong examples/ping_pong.py
Terminal 2:  pydist --sname ping examples/ping_pong.py pong      (3 rounds by default)

The first waits for pings under the registered name "pong" (Ctrl-C stops
it); the second connects, sends ("ping", self(), n) a few times and prints
each answer. Full form of the second:

    pydist --sname ping examples/ping_pong.py PEER [ROUNDS] [--stop]

PEER is the first node's name (``pong`` or ``pong@HOST``); ``--stop`` (e.g.
``pong 3 --stop`` or ``pong --stop``) also tells the first node to stop.
"""

import sys

from pydist import Node, Process, node, receive, self, send

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]  # PEER [ROUNDS]; flags anywhere
if len(ARGS) > 2 or (len(ARGS) == 2 and not ARGS[1].isdigit()):
    sys.exit(
        f"usage: pydist --sname ping examples/ping_pong.py PEER [ROUNDS] [--stop] "
        f"(ROUNDS is a number; got {' '.join(sys.argv[1:])!r})"
    )
ROUNDS = int(ARGS[1]) if len(ARGS) > 1 else 3


def serve():
    Process.register(self(), "pong")
    print(f"{node()} is waiting for pings (Ctrl-C to stop)", flush=True)
    while True:
        msg = receive()
        if msg == "stop":
            print("pong: stopping")
            return
        _ping, sender, n = msg
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


if ARGS:
    play(ARGS[0])
else:
    serve()
