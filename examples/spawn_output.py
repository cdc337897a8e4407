"""A function runs on another node, and its print lands here.

    pydist --sname bar                              # terminal 1: any node
    pydist --sname foo examples/spawn_output.py bar  # terminal 2

As in the lecture: the spawned process inherits this node's group leader,
so "Hello" and the other node's name print on *this* terminal.
"""

import sys

from pydist import Node, node, receive, self, send

peer = sys.argv[1] if len(sys.argv) > 1 else sys.exit("usage: pydist --sname foo examples/spawn_output.py OTHER_NODE")
if Node.ping(peer) != "pong":
    sys.exit(f"cannot reach {peer}; start it with: pydist --sname {peer.split('@')[0]}")

me = self()


def hello():
    print("Hello")
    print(f"I run on {node()}")
    send(me, "done")


Node.spawn(peer, hello)
receive(timeout=10)
