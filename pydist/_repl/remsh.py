"""``pydist --sname me --remsh other@host``: a prompt that evaluates on another node.

The local prompt spawns (linked and monitored) a *session* process on the
target node. The session keeps its own namespace there and runs each entry
with the same ``Evaluator`` as a local prompt. Its group leader is this
prompt's, so everything it — or anything it spawns — prints comes back
here, values and tracebacks included. ``self()`` in the session is the
session's pid on the target node, as in ``iex --remsh``.

Protocol (messages, in order over one connection):
  here -> session: ``("$remsh", "eval", tag, (src, width))`` / ``("$remsh", "bye", None, None)``
  session -> here: ``("$remsh_ready", pid, node, names)`` once, then per entry
  ``("$remsh_done", tag, ok, counter, names)`` or ``("$remsh_exit", tag, code)``.
Ctrl-C here sends the session the exit signal ``INTERRUPT``, which the
session turns into a KeyboardInterrupt of the running entry. Inside a
blocking C call (``time.sleep(30)``) that happens only when the call
returns: the prompt says so and keeps waiting for the entry, because a new
prompt would be a lie (the session can run nothing else meanwhile). A
second Ctrl-C then leaves the remote shell (exit code 130) and kills the
session. Leaving (Ctrl-D, ``exit()``) ends the session too; either way the
target node keeps running. If this node goes away, the link takes the
session with it.
"""

from __future__ import annotations

import sys

from .._api.processes import Process, spawn_on
from .._base.errors import PydistError
from .._base.terms import is_down
from .._core.iofwd import TERMINAL
from .._core.runtime import RUNTIME
from .._core.state import ProcessExitSignal, current
from .evaluate import INTERRUPT, Evaluator, take_exit_signal

__all__ = ["RemoteEvaluator", "session_main"]

READY_TIMEOUT = 15.0
INTERRUPT_GRACE = 1.0  # after Ctrl-C, how long an entry may take to stop before the prompt says why


def _names(ns) -> list[str]:
    return sorted(k for k in ns if not k.startswith("__"))


def session_main(client, color: bool, width: int) -> None:
    """The session process on the target node (spawned by the client)."""
    from .namespace import prompt_helpers, prompt_namespace

    me = current()
    assert me is not None  # spawned by the client: this thread is a process
    ns = prompt_namespace()
    ns.update(prompt_helpers(ns))
    ev = Evaluator(ns, color=color, width=width)
    ev.fatal_from = {client}
    RUNTIME.send(client, ("$remsh_ready", me.pid, RUNTIME.name, _names(ns)))

    def request(m):
        return type(m) is tuple and len(m) == 4 and m[0] == "$remsh"

    while True:
        try:
            _, kind, tag, payload = me.receive(None, request)
            if kind == "bye":
                return
            src, ev.width = payload
            me.enter_user_code()  # re-armed: an exit signal met in receive() disarmed it
            try:
                ok = ev.run(src)
            except SystemExit as err:
                RUNTIME.send(client, ("$remsh_exit", tag, err.code))
                return
            RUNTIME.send(client, ("$remsh_done", tag, ok, ev.counter, _names(ns)))
        except ProcessExitSignal:
            if me.exit_from == client and me.pending_exit != INTERRUPT:
                raise  # the prompt that owns this session is gone
            text = take_exit_signal(me)
            if text and INTERRUPT not in text:
                sys.stderr.write(text)
                sys.stderr.flush()


class RemoteEvaluator:
    """Looks like an ``Evaluator`` to the prompt loop; the work happens on ``node``."""

    def __init__(self, node: str, *, color: bool, width: int):
        self.node = node
        self.color, self.width = color, width
        self.counter = 1
        me = RUNTIME.adopt()
        self.me = me
        pid, self.mref = spawn_on(
            node, session_main, (me.pid, color, width), link=True, monitor=True, what="--remsh", thread=True
        )
        self.session = pid
        msg = self._wait(lambda m: m[0] == "$remsh_ready", READY_TIMEOUT)
        if msg[0] == "DOWN":
            raise PydistError(
                f"--remsh: could not start a session on {node}: {msg[4]!r} "
                f"(is pydist running there with the same cookie?)"
            )
        _, _, self.prompt_node, self.names = msg
        self.ended: object = None  # the session's exit reason, once it is gone

    def _wait(self, want, timeout=None, quiet=False):
        def match(m):
            return (type(m) is tuple and len(m) > 1 and want(m)) or is_down(m, self.mref)

        try:
            return self.me.receive(timeout, match)
        except TimeoutError:
            if quiet:
                return None
            raise PydistError(f"--remsh: {self.node} did not answer within {timeout} s") from None

    def run(self, src: str) -> bool:
        if not src.strip():
            return False
        from .._api.processes import make_ref

        tag = make_ref()
        RUNTIME.send(self.session, ("$remsh", "eval", tag, (src, self.width)))

        def mine(m):
            return m[0] in ("$remsh_done", "$remsh_exit") and m[1] == tag

        try:
            msg = self._wait(mine)
        except KeyboardInterrupt:
            msg = self._interrupt(mine)
        # the entry's output came before its answer, but a writer thread shows it:
        # let it land before the next prompt (else it is drawn above the prompt, late)
        TERMINAL.drain(2.0)
        if msg[0] == "DOWN":
            self.ended = msg[4]
            sys.stderr.write(f"** the session on {self.node} ended: {msg[4]!r}\n")
            raise SystemExit(1)
        if msg[0] == "$remsh_exit":
            raise SystemExit(msg[2])
        _, _, ok, self.counter, self.names = msg
        return ok

    def _interrupt(self, mine):
        """Ctrl-C: interrupt the entry, and wait for it to say how it ended.

        The prompt comes back only when the session is free again. A second
        Ctrl-C gives up: the session is killed and this remote shell ends.
        """
        Process.exit(self.session, INTERRUPT)
        try:
            msg = self._wait(mine, INTERRUPT_GRACE, quiet=True)
            if msg is not None:
                return msg
            sys.stderr.write(
                f"** the entry on {self.node} is inside a blocking call (time.sleep, a C library ...) "
                "that Ctrl-C cannot interrupt:\n"
                "** it stops with KeyboardInterrupt when that call returns; waiting for it. "
                f"Ctrl-C again leaves this remote shell ({self.node} keeps running)\n"
            )
            sys.stderr.flush()
            return self._wait(mine)
        except KeyboardInterrupt:
            self.abandon()
            sys.stderr.write(
                f"** left the remote shell; its session on {self.node} was killed ({self.node} keeps running)\n"
            )
            raise SystemExit(130) from None

    def abandon(self) -> None:
        """Kill the session (even stuck in a C call, it is gone at once)."""
        if self.ended is None:
            self.ended = "abandoned"
            Process.unlink(self.session)
            Process.demonitor(self.mref, flush=True)
            Process.exit(self.session, "kill")

    def close(self) -> None:
        """Leave: the session ends, the target node keeps running."""
        if self.ended is None:
            Process.unlink(self.session)
            RUNTIME.send(self.session, ("$remsh", "bye", None, None))
