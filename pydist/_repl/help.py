"""``h()``: the prompt's help, as iex's ``h``.

``h()`` lists what the prompt offers; ``h(obj)`` (or ``h("Node.ping")``,
looked up in the caller's namespace) shows an object's documentation
without a pager, so it works the same above a prompt, in a pipe and in a
``--remsh`` session. Cheap to import: pydoc loads only when asked.

``h()`` fits its two columns to the width of the terminal the person types
at: the prompt's evaluator says it before each entry (``set_width``, per
thread: a ``--remsh`` session on another node knows its client's width);
elsewhere it is this process's terminal, else 80 columns.
"""

from __future__ import annotations

import sys
import textwrap
import threading

from .namespace import resolve

__all__ = ["h"]

_BUILTINS = (
    ("node()", "this node's name, e.g. 'foo@vm' ('nonode@nohost' if not distributed)"),
    ("Node.self() / Node.list()", "this node / the connected nodes"),
    ("Node.ping(name)", "'pong' once connected to name, 'pang' if it cannot"),
    ("Node.connect(name) / Node.disconnect(name)", "True/False"),
    ("Node.spawn(name, fn, *args)", "run fn(*args) on node name; its output comes here"),
    ("Node.monitor(name) / Node.monitor_nodes()", "get ('nodedown', name) messages"),
    ("spawn(fn, *args) / spawn_link / spawn_monitor", "a new process on this node"),
    ("self()", "this prompt's pid (the prompt is a process)"),
    ("send(dest, msg)", "send to a Pid, a registered name or (name, node)"),
    ("receive(timeout=None, match=None)", "the oldest (matching) message; Ctrl-C stops waiting"),
    ("flush()", "print and empty this prompt's mailbox"),
    ("Process.register/whereis/monitor/link/exit/flag", "as Elixir's Process"),
    ("rpc.call(node, fn, *args, timeout=5.0)", "run fn on node and return its value"),
    ("rpc.multicall(nodes, fn) / rpc.cast / erpc", "fn on many nodes at once: (results, bad_nodes)"),
    ("GenServer / Supervisor / Application", "as Elixir's; h(GenServer) for more"),
    ("Task.async_(fn, node=None) / Task.await_(t)", "fn in a process (on a node) and its value back"),
    ("Task.async_stream(xs, fn, nodes=[...])", "fn over xs in tasks, spread over nodes"),
    ("Agent.start(fn, name=...) / Agent.get/update", "state behind a process, changed by functions"),
    ("Global.register_name(name, pid)", "a name across the cluster; ('via', Global, name)"),
    ("pg.join(group, pid) / pg.get_members(group)", "process groups across the cluster"),
    ("Registry / DynamicSupervisor", "a local key registry / a supervisor of children on demand"),
    ("Timer.send_after(s, dest, msg) / Timer.cancel", "timers that can be cancelled (a Ref each)"),
    ("i() / i(pid)", "this node's processes / one process (also on another node)"),
    ("observer()", "a live full-screen view: nodes, processes, applications (q leaves)"),
    ("trace(target) / trace.stop()", "print each message target sends or receives, on any node"),
    ("trace.record(ts) / trace.stop_recording()", "a message sequence chart: .save('x.svg'), .mermaid()"),
    ("get_state(server) / replace_state(server, fn)", "look into a running GenServer (Erlang's :sys)"),
    ("Application.get_env(app, key)", "an app's settings: its env, --config FILE, put_env"),
    ("make_ref(), Pid, Ref, Exit", "references, pids, and the exit error"),
)

_PROMPT = (
    ("h() / h(obj)", "this list / help on obj (also h('Node.ping'))"),
    ("v(n) / v() / _", "the value of entry n / of the last entry"),
    ("c('file.py')", "load a file as a module here; its functions travel by value"),
    ("nl(module)", "load module onto every connected node"),
    ("clear()", "clear the screen"),
    ("exit() / Ctrl-D", "leave (the node leaves the cluster)"),
    ("tb()", "the last error with every frame (library frames are folded in tracebacks)"),
    ("Ctrl-C", "clear the line, or stop the running entry"),
    ("Tab", "complete names, attributes, paths in strings, keyword arguments, node names in Node.*('…')"),
    ("Enter / Meta-Enter", "a new line inside a block, run on a blank last line / run the entry now"),
    ("F6", "paste mode (for a terminal without bracketed paste): Enter only adds lines"),
    ("Ctrl-Z", "suspend pydist as a shell job (fg brings it back)"),
)

_local = threading.local()
MIN_COLUMN = 24  # narrower than this, each description goes under its name


def set_width(columns: int) -> None:
    """The width of the terminal this thread's prompt shows ``h()`` on."""
    _local.width = columns


def _width() -> int:
    width = getattr(_local, "width", None)
    if width:
        return width
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def _table(title: str, rows, width: int = 80) -> str:
    """``rows`` as two columns, descriptions wrapped to ``width`` (one column
    spare: a line that fills the terminal exactly wraps on some)."""
    name_width = max(len(a) for a, _ in rows)
    room = width - 1 - name_width - 4
    lines = [title]
    for a, b in rows:
        if room >= MIN_COLUMN:
            parts = textwrap.wrap(b, room) or [""]
            lines.append(f"  {a.ljust(name_width)}  {parts[0]}")
            lines += [" " * (name_width + 4) + part for part in parts[1:]]
        else:
            lines += textwrap.wrap(a, max(width - 3, 10), initial_indent="  ", subsequent_indent="    ")
            lines += textwrap.wrap(b, max(width - 7, 10), initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def h(obj=None) -> None:
    """Help: ``h()`` lists the prompt's built-ins; ``h(obj)`` documents ``obj``."""
    if obj is None:
        width = _width()
        print(_table("Built-ins (also: from pydist import ...):", _BUILTINS, width))
        print()
        print(_table("At the prompt:", _PROMPT, width))
        examples = "Examples: h(Node.spawn), h('rpc.call'), h(GenServer), h(Task), h('Global.register_name')"
        print("\n" + "\n".join(textwrap.wrap(examples, max(width - 1, 20), subsequent_indent="  ")))
        return
    if isinstance(obj, str):
        obj = _lookup(obj, sys._getframe(1).f_globals)
    obj = resolve(obj)  # a built-in not loaded yet: its real object's help
    import pydoc

    try:
        text = pydoc.render_doc(obj, title="Help on %s", renderer=pydoc.plaintext)  # type: ignore[attr-defined]
    except Exception as err:  # an object pydoc cannot describe
        text = f"no help for {obj!r}: {err}"
    print(text.rstrip())


def _lookup(name: str, ns: dict):
    """A dotted name from the caller's namespace, else from pydoc's search."""
    head, *rest = name.split(".")
    import builtins

    import pydist

    found = True
    if head in ns:
        obj = ns[head]
    elif hasattr(builtins, head):
        obj = getattr(builtins, head)
    else:
        try:
            obj = getattr(pydist, head)  # also the lazy ones: h("GenServer.call")
        except (AttributeError, ImportError):
            found = False
    if found:
        try:
            for part in rest:
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            raise NameError(f"h: {name!r}: {head} has no attribute {part!r}") from None
    import pydoc

    located = pydoc.locate(name)
    if located is None:
        raise NameError(f"h: nothing called {name!r} here (try h() for the list of built-ins)")
    return located
