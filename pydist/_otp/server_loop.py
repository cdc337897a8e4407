"""The server side of ``GenServer``: one process, one loop, the callbacks.

``main`` registers the name, runs ``init`` and acknowledges the starter
(``("$gen_ack", tag, result)``), then loops: receive a message, run the
matching callback, check what it returned, keep the new state. Whatever
stops the server (a ``("stop", ...)`` return, ``GenServer.stop``, the
parent's exit while trapping exits, a bad return value, an exception) runs
``terminate(reason, state)`` and ends the process with that reason, which
links and monitors (so callers and supervisors) then see.

Reports, logged on the server's node like Elixir's logger does (one
``[error]`` report each): an exception in a callback (the traceback from
the callback's frame, the last message, the state), a bad return value
(naming the callback and the value), an abnormal ``("stop", reason, ...)``.
The server then exits with the reason (``("exception", "ValueError:
boom")``, ``("bad_return_value", v)``, ...), which callers and supervisors
see.
"""

from __future__ import annotations

import logging
import reprlib
import traceback

from .._api.processes import Process, node, receive, send
from .._api.processes import self as self_pid
from .._base.errors import Exit
from .._base.reasons import exception_reason, is_normal, reason_of
from .._base.tracebacks import user_traceback

log = logging.getLogger("pydist")

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 200
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 20
_repr.maxlevel = 4

SHAPES = {
    "init": "('ok', state), ('stop', reason) or 'ignore'",
    "handle_call": "('reply', reply, state), ('noreply', state), "
    "('stop', reason, reply, state) or ('stop', reason, state)",
    "other": "('noreply', state) or ('stop', reason, state)",
}


def _valid_extra(x) -> bool:
    if type(x) in (int, float):
        return x >= 0
    return x in ("hibernate", "infinity", None) or (type(x) is tuple and len(x) == 2 and x[0] == "continue")


def answer_call(from_, value) -> None:
    """Answer the call ``from_`` (``(caller, tag)``). When this process holds
    the caller's monitor (the server answering its own call), the monitor ends
    here and the answer says so: the caller drops its half without a
    DEMONITOR frame, so a call costs one frame each way."""
    pid, tag = from_
    if Process.end_monitor_by_reply(tag):
        send(pid, ("$gen_reply", tag, value, True))
    else:
        send(pid, ("$gen_reply", tag, value))


class SysRequest:
    """A ``get_state`` / ``replace_state`` call (Erlang's system messages, ``:sys``):
    the loop answers it between two messages; the callbacks never see it."""

    __slots__ = ("fn", "op")

    def __init__(self, op: str, fn=None):
        self.op, self.fn = op, fn


def _system(req: SysRequest, state):
    """``(reply, new_state)``: a failing ``replace_state`` function leaves the state as it was."""
    if req.op == "get_state":
        return ("ok", state), state
    try:
        new = req.fn(state)
    except Exception as err:
        return ("error", exception_reason(err)), state
    return ("ok", new), new


class _BadReturn(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


class _Stopping(Exception):
    def __init__(self, reason, reply_to=None, reply=None, why=None):
        super().__init__(reason)
        self.reason, self.reply_to, self.reply, self.why = reason, reply_to, reply, why


def _ack(starter, tag, result) -> None:
    send(starter, ("$gen_ack", tag, result))


def main(cls, arg, name, starter, tag, linked):
    """The server process: start, acknowledge, loop."""
    me = self_pid()

    def fail(result):  # init did not succeed: the starter gets a value, not our exit
        if linked:
            Process.unlink(starter)
        _ack(starter, tag, result)

    if _is_via(name):
        if name[1].register_name(name[2], me) != "yes":
            fail(("error", ("already_started", name[1].whereis_name(name[2]))))
            return
    elif name is not None:
        try:
            Process.register(me, name)
        except ValueError:
            fail(("error", ("already_started", Process.whereis(name))))
            return
    srv = _Server(cls.__name__, name, me, starter if linked else me)
    try:
        inst = cls()
        ret = inst.init(arg)
    except Exception as err:
        # reported here, before the starter hears of it, so the report comes first
        reason = reason_of(err)
        srv.report(f"init raised {type(err).__name__}: {err}", arg, None, err)
        fail(("error", reason))
        raise Exit(reason) from None
    if ret == "ignore":
        fail("ignore")
        return
    if type(ret) is tuple and len(ret) == 2 and ret[0] == "stop":
        fail(("error", ret[1]))
        raise Exit(ret[1])
    if not (type(ret) is tuple and len(ret) in (2, 3) and ret[0] == "ok" and (len(ret) == 2 or _valid_extra(ret[2]))):
        reason = ("bad_return_value", ret)
        fail(("error", reason))
        srv.report(
            f"init returned {_repr.repr(ret)}, which is not a valid return value (expected {SHAPES['init']})", arg, None
        )
        raise Exit(reason)
    _ack(starter, tag, ("ok", me))
    srv.loop(inst, ret[1], ret[2] if len(ret) == 3 else None)


def _is_via(name) -> bool:
    return type(name) is tuple and len(name) == 3 and name[0] == "via"


def describe(msg, cb) -> str:
    """The message a report names, as Elixir prints it (a call shows its caller)."""
    if cb == "init":
        return f"Argument of init: {_repr.repr(msg)}"
    if type(msg) is tuple and len(msg) == 3 and msg[0] == "$gen_call":
        return f"Last message (from {msg[1][0]}): {_repr.repr(msg[2])}"
    if type(msg) is tuple and len(msg) == 2 and msg[0] == "$gen_cast":
        return f"Last message (a cast): {_repr.repr(msg[1])}"
    return f"Last message: {_repr.repr(msg)}"


class _Server:
    def __init__(self, cls_name, name, me, parent):
        self.cb = "init"  # the callback running now, for reports
        self.me = me
        self.parent = parent
        if _is_via(name):
            who = f"{name[2]!r} (via {getattr(name[1], '__name__', name[1])})"
        else:
            who = repr(name) if name is not None else f"{cls_name} {me}"
        self.label = f"{who} on {node()}"

    def report(self, what: str, msg, state, err: BaseException | None = None) -> None:
        text = f"GenServer {self.label} terminating: {what}\n{describe(msg, self.cb)}"
        if state is not None:
            text += f"\nState: {_repr.repr(state)}"
        if err is not None:
            text += "\n" + "".join(traceback.format_exception(type(err), err, user_traceback(err))).rstrip()
        log.error("%s", text)

    def loop(self, inst, state, extra) -> None:
        msg = None
        try:
            while True:
                while type(extra) is tuple:  # ("continue", arg)
                    self.cb = "handle_continue"
                    state, extra = self._noreply(inst.handle_continue(extra[1], state))
                timeout = extra if type(extra) in (int, float) else None
                try:
                    msg = receive(timeout)
                except TimeoutError:
                    msg = "timeout"
                state, extra = self._dispatch(inst, msg, state)
        except _Stopping as stop:
            why = stop.why or f"{self.cb} returned ('stop', {_repr.repr(stop.reason)}, ...)"
            self._stop(inst, stop.reason, state, why, msg, stop.reply_to, stop.reply)
        except _BadReturn as bad:
            cb = self.cb
            reason = ("bad_return_value", bad.value)
            shapes = SHAPES["handle_call" if cb == "handle_call" else "other"]
            self.report(
                f"{cb} returned {_repr.repr(bad.value)}, which is not a valid return value (expected {shapes})",
                msg,
                state,
            )
            self._stop(inst, reason, state, cb, msg, log_it=False)
        except Exit as err:  # e.g. a GenServer.call made by a callback failed
            self.report(f"{self.cb} exited: {err}", msg, state, err)
            self._stop(inst, err.reason, state, self.cb, msg, log_it=False)
        except Exception as err:
            reason = exception_reason(err)
            self.report(f"{self.cb} raised {reason[1]}", msg, state, err)
            self._run_terminate(inst, reason, state)
            raise Exit(reason) from None

    def _dispatch(self, inst, msg, state):
        if type(msg) is tuple:
            kind = msg[0] if msg else None
            if kind == "$gen_call" and len(msg) == 3:
                from_, request = msg[1], msg[2]
                if type(request) is SysRequest:
                    reply, state = _system(request, state)
                    answer_call(from_, reply)
                    return state, None
                self.cb = "handle_call"
                ret = inst.handle_call(request, from_, state)
                if (
                    type(ret) is tuple
                    and ret
                    and ret[0] == "reply"
                    and len(ret) in (3, 4)
                    and (len(ret) == 3 or _valid_extra(ret[3]))
                ):
                    answer_call(from_, ret[1])
                    return ret[2], (ret[3] if len(ret) == 4 else None)
                if type(ret) is tuple and len(ret) == 4 and ret[0] == "stop":
                    raise _Stopping(ret[1], from_, ret[2])
                return self._noreply(ret)
            if kind == "$gen_cast" and len(msg) == 2:
                self.cb = "handle_cast"
                return self._noreply(inst.handle_cast(msg[1], state))
            if kind == "$gen_stop" and len(msg) == 2:
                raise _Stopping(msg[1], why=f"GenServer.stop with reason {_repr.repr(msg[1])}")
            if kind == "EXIT" and len(msg) == 3 and msg[1] == self.parent and self.parent != self.me:
                raise _Stopping(msg[2], why=f"its parent {msg[1]} exited with {_repr.repr(msg[2])}")
        self.cb = "handle_info"
        return self._noreply(inst.handle_info(msg, state))

    @staticmethod
    def _noreply(ret):
        if type(ret) is tuple and ret:
            if ret[0] == "noreply" and len(ret) in (2, 3) and (len(ret) == 2 or _valid_extra(ret[2])):
                return ret[1], (ret[2] if len(ret) == 3 else None)
            if ret[0] == "stop" and len(ret) == 3:
                raise _Stopping(ret[1])
        raise _BadReturn(ret)

    def _run_terminate(self, inst, reason, state):
        try:
            inst.terminate(reason, state)
        except Exception as err:
            err.add_note(f"GenServer {self.label}: terminate({_repr.repr(reason)}, state) raised")
            raise

    def _stop(self, inst, reason, state, why, msg, reply_to=None, reply=None, log_it=True):
        self._run_terminate(inst, reason, state)
        if reply_to is not None:
            answer_call(reply_to, reply)
        if log_it and not is_normal(reason):
            self.report(why, msg, state)
        raise Exit(reason)
