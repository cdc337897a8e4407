"""Steps 1, 2 and 5 of the lecture: ``MapServer``, a GenServer holding a dict.

It is registered under the name ``"MapServer"`` (Elixir registers
``KvStore.MapServer`` under its module name), so the local forms address
``"MapServer"`` and the remote forms ``("MapServer", node)``, the same call
sent to another node.

Step 5 (resync-on-start): ``init`` asks every connected node for its whole
map and starts from the first reply, so a node that restarts comes back
with the cluster's data. The cluster supervisor is the app's first child and
makes its first round of connections inside its own init, so by the time
MapServer's init runs the peers are in ``Node.list()``.
"""

from pydist import GenServer, Node

NAME = "MapServer"


class MapServer(GenServer):
    # -- the client API (runs in the caller's process) -------------------------
    @classmethod
    def start_link(cls, arg=None):
        return GenServer.start_link(cls, arg, name=NAME)

    @staticmethod
    def put(*args):
        """``put(k, v)`` here, or ``put(node, k, v)`` on ``node``; replies ``"ok"``."""
        if len(args) == 2:
            k, v = args
            return GenServer.call(NAME, ("put", k, v))
        if len(args) == 3:
            node, k, v = args
            return GenServer.call((NAME, node), ("put", k, v))
        raise TypeError(_arity("put(k, v) or put(node, k, v)", args))

    @staticmethod
    def get(*args):
        """``get(k)`` here, or ``get(node, k)`` on ``node``; the value or None."""
        if len(args) == 1:
            return GenServer.call(NAME, ("get", args[0]))
        if len(args) == 2:
            node, k = args
            return GenServer.call((NAME, node), ("get", k))
        raise TypeError(_arity("get(k) or get(node, k)", args))

    # -- the callbacks (run in the server's process) ---------------------------
    def init(self, _arg):
        replies, _bad_nodes = GenServer.multi_call(Node.list(), NAME, "get_map", 1.0)
        state = dict(replies[0][1]) if replies else {}
        return ("ok", state)

    def handle_call(self, request, from_, state):
        if request == "get_map":
            return ("reply", state, state)
        op, k, *v = request
        if op == "put":
            return ("reply", "ok", {**state, k: v[0]})
        if op == "get":
            return ("reply", state.get(k), state)
        return ("reply", ("error", ("unknown request", request)), state)


def _arity(forms: str, args: tuple) -> str:
    """The TypeError text for a wrong number of arguments (the forms, and what came)."""
    got = ", ".join(repr(a) for a in args)
    return f"MapServer.{forms}; got {len(args)} argument{'s' if len(args) != 1 else ''}: ({got})"
