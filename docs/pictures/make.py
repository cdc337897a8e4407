"""Make docs/observing.md's pictures from a real run: ``python docs/pictures/make.py``.

Starts the kv_store's three nodes (``node0..2@localhost``, on a private name
server with a random cookie), records ``kv_store.put("a", 5)`` on node0 and
saves its chart (``put.svg``, ``put.mmd``), then draws what ``observer()``
shows on node0 — its Nodes, Processes and Applications tabs, from real
snapshots — through rich (``observer-*.svg``). Every node is killed at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
APP = ROOT / "examples" / "kv_store"
NAMES = ["node0@localhost", "node1@localhost", "node2@localhost"]

DRIVE = f"""
import time
from pathlib import Path
out = Path({str(HERE)!r})
deadline = time.monotonic() + 30
while len(Node.list()) < 2 and time.monotonic() < deadline:
    Process.sleep(0.2)
trace.record([self()] + [('MapServer', n) for n in [node(), *Node.list()]])
print(kv_store.put('a', 5))
chart = trace.stop_recording()
chart.save(str(out / 'put.svg'))
chart.save(str(out / 'put.mmd'))
print(chart)

from rich.console import Console
from rich.text import Text
from pydist._repl import observer as ob
from pydist._repl import observer_view as view
STYLES = {{'class:head': 'bold', 'class:cursor': 'reverse', 'class:note': 'bright_black',
          'class:tab': 'reverse', 'class:tab.on': 'bold white on blue', 'class:keys': 'reverse'}}
for tab, name in ((0, 'nodes'), (1, 'processes'), (2, 'applications')):
    model = view.Model(node())
    model.tab = tab
    fetcher = spawn(ob._fetch_loop, model, lambda: None, thread=True)
    Process.sleep(2.5)  # two snapshots: the rates need two
    model.stopping = True
    send(fetcher, 'poke')
    text = Text()
    for style, piece in view.tab_bar(model) + [('', '\\n')] + view.DRAW[tab](model, 118):
        text.append(piece, style=STYLES.get(style, ''))
    text.append(' ' + view.KEYS, style='reverse')
    console = Console(record=True, width=120, force_terminal=True, color_system='truecolor')
    console.print(text)
    console.save_svg(str(out / f'observer-{{name}}.svg'), title=f'observer() on {{node()}}')
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    env = dict(os.environ)
    env.update(
        HOME=tempfile.mkdtemp(prefix="pydist-pictures-"),
        PYDIST_EPMD_PORT=str(_free_port()),
        PYDIST_COOKIE=secrets.token_hex(8),
        KV_STORE_HOSTS=",".join(NAMES),
        KV_STORE_POLL="0.5",
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-m", "pydist", "--sname"]
    others = [
        subprocess.Popen([*cmd, n, "-S", "kv_store", "-e", "Process.sleep(40)"], cwd=APP, env=env) for n in NAMES[1:]
    ]
    try:
        time.sleep(1.0)
        done = subprocess.run([*cmd, NAMES[0], "-S", "kv_store", "-e", DRIVE], cwd=APP, env=env, timeout=90)
        return done.returncode
    finally:
        for p in others:
            p.kill()
            p.wait()
        subprocess.run([sys.executable, "-m", "pydist", "epmd", "--kill"], env=env, capture_output=True, timeout=30)


if __name__ == "__main__":
    sys.exit(main())
