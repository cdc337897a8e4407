"""``observer()``: a full-screen live view of the cluster, in the terminal (Erlang's ``:observer``).

Tabs: *Nodes* (every connected node: visible or hidden, up since, ping
round trip, processes, messages in and out per second), *Processes* of the
chosen node (sortable by mailbox, messages or memory), *Applications*
(each running application's supervision tree, with pids and restart
counts) and *Process* (one process: its info, links, monitors and last
messages). ``q`` or Esc goes back to the prompt as it was.

The tabs are drawn by ``observer_view``. Who runs what: the screen is a prompt_toolkit full-screen application on
the caller's thread (the prompt's, or ``pydist observer NODE``'s main
thread); a *fetcher* (a thread process) asks each node for a snapshot once
a second (``_api/observe.snapshot``, run there on a thread process, which
also renews the lease under which that node counts messages) and asks the
screen to redraw. Output that processes print meanwhile is held and shown
when the observer closes, so nothing scribbles over the view.
"""

from __future__ import annotations

import sys
import time

from .._api import observe as _observe
from .._api import rpc as _rpc
from .._api.node import Node
from .._api.processes import Process, receive, send, spawn
from .._api.processes import self as self_pid
from .._base.errors import PydistError
from .._base.terms import is_down
from .._core.iofwd import TERMINAL
from .._core.runtime import RUNTIME
from .observer_view import DRAW, KEYS, TABS, Model, tab_bar

__all__ = ["observer"]

REFRESH = 1.0  # seconds between two snapshots of each node
ROWS = 200  # processes fetched for the Processes tab


# -- fetching (a thread process) ----------------------------------------------------------
def _cluster(focus: str) -> list[str]:
    me = RUNTIME.name
    if focus == me:
        return [me, *Node.list()]
    others = _rpc.call(focus, Node.list, timeout=2.0)
    return [focus, *[n for n in others if n != me]]


def _fetch_loop(model: Model, redraw) -> None:
    me = self_pid()
    prev: dict[str, tuple] = {}
    asked: set[str] = set()
    while not model.stopping:
        try:
            model.nodes = _cluster(model.focus)
            model.error = None
        except Exception as err:
            model.error = f"{model.focus} does not answer ({type(err).__name__}: {err})"
        cost = 0.0
        for n in list(model.nodes):
            focused = n == model.focus
            want_rows = ROWS if focused and model.tab in (1, 3) else 0
            detail = model.detail_pid if focused and model.tab == 3 else None
            t0 = time.monotonic()
            ok = Node.ping(n) == "pong"
            ping = time.monotonic() - t0
            st = model.stats.setdefault(n, {})
            st["ping"] = ping if ok else None
            try:
                snap = _rpc.call(n, _observe.snapshot, me, model.sort, want_rows, detail, timeout=3.0, thread=True)
            except Exception as err:
                st["error"] = f"{type(err).__name__}: {err}"
                continue
            asked.add(n)
            st["error"] = None
            st["snap"] = snap
            cost += snap["cost"]
            last = prev.get(n)
            if last is not None and snap["now"] > last[0]:
                dt = snap["now"] - last[0]
                st["rate_in"] = (snap["received"] - last[1]) / dt
                st["rate_out"] = (snap["sent"] - last[2]) / dt
            prev[n] = (snap["now"], snap["received"], snap["sent"])
            if focused:
                if want_rows:
                    model.rows = snap["rows"]
                model.detail = snap["detail"]
        if model.tab == 2:
            model.apps = _applications(model.focus)
        model.cost = cost
        model.updated = time.time()
        redraw()
        try:
            receive(REFRESH, lambda m: m == "poke")
        except TimeoutError:
            pass
    for n in asked:  # the nodes stop counting now, not when the lease runs out
        try:
            _rpc.call(n, _observe.end, me, timeout=1.0)
        except Exception:
            pass


def _applications(node: str) -> list:
    from .._otp.app_trees import app_trees

    try:
        return _rpc.call(node, app_trees, timeout=3.0, thread=True)
    except Exception as err:
        return [("?", {"error": f"{type(err).__name__}: {err}"})]


# -- the application ---------------------------------------------------------------------------
def _held_output():
    """Text printed while the view is up: held, shown when it closes."""
    held: list = []

    class _Hold:
        def __init__(self, name):
            self.name = name

        def write(self, text):
            held.append((self.name, text))
            return len(text)

        def flush(self):
            pass

        def isatty(self):
            return False

    return held, _Hold("stdout"), _Hold("stderr")


def _run_app(model: Model, fetcher_box: list) -> None:
    from prompt_toolkit.application import Application
    from prompt_toolkit.application.current import get_app
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import HSplit, Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl
    from prompt_toolkit.output import create_output
    from prompt_toolkit.styles import Style

    kb = KeyBindings()

    def poke():
        if fetcher_box:
            try:
                send(fetcher_box[0], "poke")
            except Exception:
                pass

    def switch(tab: int):
        model.tab = tab
        poke()

    @kb.add("q")
    @kb.add("escape", eager=True)
    @kb.add("c-c")
    def _quit(event):
        event.app.exit()

    @kb.add("tab")
    def _next(event):
        switch((model.tab + 1) % len(TABS))

    @kb.add("s-tab")
    def _prev(event):
        switch((model.tab - 1) % len(TABS))

    for i in range(len(TABS)):
        kb.add(str(i + 1))(lambda event, i=i: switch(i))

    def _rows_now() -> int:
        return len(model.nodes) if model.tab == 0 else len(model.rows) if model.tab == 1 else 0

    @kb.add("down")
    @kb.add("j")
    def _down(event):
        if model.tab in model.cursor:
            model.cursor[model.tab] = min(model.cursor[model.tab] + 1, max(0, _rows_now() - 1))

    @kb.add("up")
    @kb.add("k")
    def _up(event):
        if model.tab in model.cursor:
            model.cursor[model.tab] = max(0, model.cursor[model.tab] - 1)

    def _set_focus(node: str):
        if node != model.focus:
            model.focus, model.rows, model.apps, model.detail, model.detail_pid = node, [], [], None, None
            model.cursor[1] = 0
        poke()

    @kb.add("enter")
    def _open(event):
        if model.tab == 0 and model.nodes:
            _set_focus(model.nodes[min(model.cursor[0], len(model.nodes) - 1)])
            switch(1)
        elif model.tab == 1 and model.rows:
            model.detail_pid = model.rows[min(model.cursor[1], len(model.rows) - 1)]["pid"]
            model.detail = None
            switch(3)

    @kb.add("s")
    def _sort(event):
        keys = _observe.SORT_KEYS
        model.sort = keys[(keys.index(model.sort) + 1) % len(keys)]
        poke()

    def _step_node(step: int):
        if model.nodes:
            i = model.nodes.index(model.focus) if model.focus in model.nodes else 0
            _set_focus(model.nodes[(i + step) % len(model.nodes)])

    kb.add("right")(lambda event: _step_node(1))
    kb.add("left")(lambda event: _step_node(-1))

    def body():
        width = get_app().output.get_size().columns
        if model.error:
            return [("class:error", model.error + "\n"), *DRAW[model.tab](model, width)]
        return DRAW[model.tab](model, width)

    layout = Layout(
        HSplit(
            [
                Window(FormattedTextControl(lambda: tab_bar(model)), height=1),
                Window(FormattedTextControl(body), wrap_lines=False),
                Window(FormattedTextControl(lambda: [("class:keys", " " + KEYS)]), height=1, style="class:keys"),
            ]
        )
    )
    style = Style.from_dict(
        {
            "tab": "reverse",
            "tab.on": "bold bg:ansiblue fg:ansiwhite",
            "head": "bold",
            "cursor": "reverse",
            "note": "fg:ansibrightblack",
            "keys": "reverse",
            "error": "fg:ansired",
        }
    )
    app: Application = Application(
        layout=layout,
        key_bindings=kb,
        full_screen=True,
        style=style,
        output=create_output(stdout=sys.__stdout__),
    )
    app.ttimeoutlen = 0.05  # Esc alone acts at once
    model_redraw.append(app.invalidate)
    app.run()


model_redraw: list = []


def observer(node: str | None = None) -> None:
    """A full-screen live view of the cluster (Erlang's ``:observer``): nodes, processes,
    applications, one process. ``node``: whose processes to show first (default: this node).
    Keys on the bottom line; ``q`` or Esc returns to the prompt."""
    for stream in (sys.__stdin__, sys.__stdout__):
        if stream is None or not stream.isatty():
            raise PydistError("observer: needs a terminal (run it at the prompt, or `pydist observer NODE` in a shell)")
    focus = RUNTIME.name if node is None else _qualify(node)
    model = Model(focus)
    fetcher_box: list = []
    model_redraw.clear()

    def redraw():
        for fn in list(model_redraw):
            try:
                fn()
            except Exception:
                pass

    held, out, err = _held_output()
    old = TERMINAL.redirect(out, err)
    try:
        fetcher_box.append(spawn(_fetch_loop, model, redraw, thread=True))
        mref = Process.monitor(fetcher_box[0])
        _run_app(model, fetcher_box)
    finally:
        model.stopping = True
        if fetcher_box:
            send(fetcher_box[0], "poke")
            try:  # it tells the nodes they are no longer observed: they stop counting now
                receive(3.0, lambda m: is_down(m, mref))
            except TimeoutError:
                pass
        TERMINAL.redirect(*old)
        for name, text in held:
            TERMINAL.write(name, text)


def _qualify(node: str) -> str:
    from .._base.names import qualify

    return qualify(node, RUNTIME.name)


def cli_main(argv: list[str]) -> int:
    """``pydist observer NODE``: a node of its own (hidden where nodes can be), the view, exit."""
    import argparse
    import inspect
    import os

    from .._api.node import start

    p = argparse.ArgumentParser(prog="pydist observer", description="A live view of a running node and its cluster.")
    p.add_argument("node", metavar="NODE", help="the node to observe, e.g. foo@vm (or foo: on this host)")
    p.add_argument("--cookie", help="the cluster's cookie (else $PYDIST_COOKIE, else ~/.pydist.cookie)")
    args = p.parse_args(argv)
    target = args.node
    longnames = "@" in target and "." in target.split("@", 1)[1]
    name = f"observer{os.getpid()}"
    how: dict = {"longnames": longnames, "cookie": args.cookie}
    hidden = "hidden" in inspect.signature(start).parameters
    if hidden:
        how["hidden"] = True
    full = start(name if not longnames else f"{name}@{target.split('@', 1)[1]}", **how)
    if "@" not in target:
        target = f"{target}@{full.split('@', 1)[1]}"
    if Node.ping(target) != "pong":
        raise PydistError(
            f"observer: cannot reach {target} (Node.ping answered 'pang'); is it running, with this cookie?"
        )
    if not hidden:
        TERMINAL.write("stderr", f"[info] {full} joins the cluster as a visible node (no hidden nodes yet)\n")
    observer(target)
    return 0
