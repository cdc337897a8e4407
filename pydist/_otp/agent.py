"""``Agent``: state behind a process, read and changed by functions (Elixir's ``Agent``).

An agent is a GenServer whose state is whatever its start function
returned; ``get``/``update``/``get_and_update`` send a function to it
and it runs there, in the agent's process, one at a time (so updates never
race). The functions travel with the call, so an agent on another node
(``("name", "node@host")``) works the same; keep them small, as the agent
serves nobody else while one runs.
"""

from __future__ import annotations

from .genserver import GenServer

__all__ = ["Agent"]


class _AgentServer(GenServer):
    def init(self, fn):
        return ("ok", fn())

    def handle_call(self, request, from_, state):
        op, fn = request
        if op == "get":
            return ("reply", fn(state), state)
        if op == "update":
            return ("reply", "ok", fn(state))
        ret = fn(state)  # get_and_update
        if not (type(ret) is tuple and len(ret) == 2):
            raise TypeError(f"Agent.get_and_update: the function must return (reply, new_state), not {ret!r}")
        return ("reply", ret[0], ret[1])

    def handle_cast(self, request, state):
        return ("noreply", request[1](state))


def _check(fn, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"Agent.{what}: expected a function, got {fn!r}")


class Agent:
    """Elixir's ``Agent``. An agent is addressed as a GenServer is: a pid, a
    name, ``(name, node)`` or a via-name such as ``("via", Global, "cfg")``."""

    @staticmethod
    def start_link(fn, name=None, timeout: float | None = 5.0):
        """Start an agent linked to the caller with state ``fn()``; ``("ok", pid)``.

        ``("error", ("already_started", pid))`` if ``name`` is taken; ``("error",
        reason)`` if ``fn`` raises.
        """
        _check(fn, "start_link")
        return GenServer.start_link(_AgentServer, fn, name=name, timeout=timeout)

    @staticmethod
    def start(fn, name=None, timeout: float | None = 5.0):
        """As ``start_link``, without the link (use it at the prompt)."""
        _check(fn, "start")
        return GenServer.start(_AgentServer, fn, name=name, timeout=timeout)

    @staticmethod
    def get(agent, fn, timeout: float | None = 5.0):
        """``fn(state)``, computed in the agent."""
        _check(fn, "get")
        return GenServer.call(agent, ("get", fn), timeout)

    @staticmethod
    def update(agent, fn, timeout: float | None = 5.0) -> str:
        """Replace the state by ``fn(state)``; ``"ok"`` once done."""
        _check(fn, "update")
        return GenServer.call(agent, ("update", fn), timeout)

    @staticmethod
    def get_and_update(agent, fn, timeout: float | None = 5.0):
        """``fn(state)`` returns ``(reply, new_state)``: the agent keeps the state, you get the reply."""
        _check(fn, "get_and_update")
        return GenServer.call(agent, ("get_and_update", fn), timeout)

    @staticmethod
    def cast(agent, fn) -> str:
        """``update`` without waiting; always ``"ok"``."""
        _check(fn, "cast")
        return GenServer.cast(agent, ("update", fn))

    @staticmethod
    def stop(agent, reason="normal", timeout: float | None = None) -> str:
        return GenServer.stop(agent, reason, timeout)

    @staticmethod
    def child_spec(fn) -> dict:
        """``(Agent, fn)`` in a Supervisor's children, as ``{Agent, fn}`` in Elixir."""
        return {"id": "Agent", "start": (Agent.start_link, (fn,)), "restart": "permanent", "type": "worker"}


Agent.__module__ = "pydist"
