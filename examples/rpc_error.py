"""rpc.call returns values, and raises remote errors here with their traceback.

pydist --sname bar                            # terminal 1
pydist --sname foo examples/rpc_error.py bar  # terminal 2
"""

import sys
import traceback

from pydist import node, rpc

peer = sys.argv[1] if len(sys.argv) > 1 else sys.exit("usage: pydist --sname foo examples/rpc_error.py OTHER_NODE")


def where_am_i(x):
    return f"{x} squared is {x * x}, computed on {node()}"


def divide(a, b):
    return a / b


print(rpc.call(peer, where_am_i, 7))
try:
    rpc.call(peer, divide, 1, 0)
except ZeroDivisionError:
    print("The remote call failed; here is what happened over there:")
    traceback.print_exc()
