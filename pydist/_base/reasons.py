"""Exit reasons, and what they say in plain words: the one place that words them.

An exit reason is a plain term that travels with links, monitors and
``Exit``: ``"normal"``, ``"killed"``, ``("exception", "KeyError: 'k'")``,
``("shutdown", ...)``, ``("bad_return_value", v)``, or a failed call's
``(head, ("GenServer", "call", [...]))``. Calls, rpc, Supervisor,
Application, Task and the prompt all turn one into a sentence; they do it
here, so a reason reads the same wherever it surfaces (and tests pin the
wording). Pure functions, run by whichever thread builds the message.
"""

from __future__ import annotations

from .errors import Exit

__all__ = [
    "NOPROC",
    "call_failure",
    "exception_reason",
    "exit_signal",
    "explain",
    "explain_tree",
    "is_normal",
    "no_connection",
    "node_went_down",
    "reason_of",
]

# Elixir's wording for :noproc
NOPROC = "no process: the process is not alive or there's no process currently associated with the given name"


# -- what a reason is ----------------------------------------------------------------
def exception_reason(err: BaseException) -> tuple[str, str]:
    """The exit reason of a process that raised ``err``: ``("exception", "KeyError: 'k'")``."""
    return ("exception", f"{type(err).__name__}: {err}")


def reason_of(err: BaseException):
    """The exit reason ``err`` ends a process with: an ``Exit`` carries its own."""
    return err.reason if isinstance(err, Exit) else exception_reason(err)


def is_normal(reason) -> bool:
    """A reason that is not a crash: ``normal``, ``shutdown`` or ``("shutdown", ...)``."""
    return reason in ("normal", "shutdown") or (type(reason) is tuple and reason[:1] == ("shutdown",))


# -- in plain words ----------------------------------------------------------------
def explain(reason, who: str = "the server") -> str:
    """An exit reason in plain words (Elixir's wording where it has one)."""
    if reason == "noproc":
        return NOPROC
    if reason == "normal":
        return f"{who} exited normally"
    if reason == "killed":
        return f"{who} was killed"
    if reason == "shutdown" or (type(reason) is tuple and reason[:1] == ("shutdown",)):
        return f"{who} was shut down ({reason!r})"
    if type(reason) is tuple and len(reason) == 2 and reason[0] == "exception":
        return f"{who} crashed: {reason[1]}"
    if type(reason) is tuple and len(reason) == 2 and reason[0] == "bad_return_value":
        return f"{who} stopped: a callback returned a bad value: {reason[1]!r}"
    if reason == "noconnection":
        return f"{who} was on a node that went down"
    return f"{who} exited with reason {reason!r}"


def explain_tree(reason) -> str:
    """Why a supervision tree (an application's) stopped or did not start."""
    if (
        type(reason) is tuple
        and len(reason) == 2
        and reason[0] == "shutdown"
        and type(reason[1]) is tuple
        and reason[1][0] == "failed_to_start_child"
    ):
        _, child, why = reason[1]
        return f"its child {child!r} failed to start: " + explain(why, "it")
    return explain(reason, "its supervisor")


def no_connection(node: str) -> str:
    """A call to ``node`` found no connection (the reason ``("nodedown", node)``)."""
    return f"no connection to {node} (the node is down or unreachable; check it with Node.ping({node!r}))"


def node_went_down(node: str, whose: str) -> str:
    """The process a caller waited on was on ``node``, which went down."""
    return f"{whose} node {node} went down (or was unreachable)"


def call_failure(head, timeout=None) -> str:
    """Why a ``GenServer`` call failed, from the head of its exit reason; ``timeout`` is the call's."""
    if head == "noproc":
        return NOPROC + " (is the server started? check the name with GenServer.whereis)"
    if type(head) is tuple and head[0] == "nodedown":
        return no_connection(head[1])
    if head == "timeout":
        return f"time out: no reply within {timeout} s (the server is busy or stuck; pass a larger timeout= if it is just slow)"
    if head == "calling_self":
        return "process attempted to call itself (a server that calls itself would wait for its own reply forever)"
    return explain(head)


# -- at the prompt ---------------------------------------------------------------------
def exit_signal(reason, from_) -> str:
    """The line the prompt prints for an exit signal it survived (iex's ``** (EXIT from ...)``)."""
    words = reason if isinstance(reason, str) else repr(reason)
    return f"** (EXIT from {from_ if from_ is not None else 'an unknown process'}) {words}\n"
