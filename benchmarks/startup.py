"""Start-up benchmark: how long until pydist has done something, or is ready to be typed at.

Run it as ``python benchmarks/startup.py`` (``--rounds N``, ``--quick``,
``--json FILE``); the figures are recorded in docs/performance.md.

Measured in one run, interleaved round by round (the machine is shared and
noisy, so each pydist figure is a ratio against baselines of the same round):

- ``python -c pass``                          the interpreter alone;
- ``python -c "import zmq, cloudpickle"``     what any zmq+cloudpickle tool pays;
- ``pydist --sname X -e 'print(node())'``     a named node that runs one line and
  leaves (wall time, start to exit; Elixir: ``elixir --sname x -e ...`` 253 ms);
- ``pydist --sname X`` in a pty                until the prompt ``pydist(X@host)1>``
  is on the screen (Elixir: ``iex`` to its prompt 467 ms), then Ctrl-D.

The name server is started once beforehand on a private port (a node that
has to start one pays ~0.1 s more, once per machine boot). Every child has
a deadline and is killed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30.0
# Elixir's figures, measured on the same class of machine: `elixir --sname x -e ...`, `iex` to its prompt.
ELIXIR = {"eval": 0.253, "prompt": 0.467}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: str, port: int) -> dict:
    env = dict(os.environ)
    env.update(
        HOME=home,
        PYDIST_EPMD_PORT=str(port),
        PYDIST_COOKIE=secrets.token_hex(8),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    return env


def _wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=DEADLINE)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return dt


def _to_prompt(name: str, env: dict) -> float:
    import pexpect

    t0 = time.perf_counter()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "pydist", "--sname", name],
        env=env,
        encoding="utf-8",
        codec_errors="replace",
        dimensions=(40, 120),
        timeout=DEADLINE,
    )
    try:
        child.expect_exact(f"pydist({name}@")
        dt = time.perf_counter() - t0
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        return dt
    finally:
        if child.isalive():
            child.terminate(force=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="3 rounds: does it work?")
    ap.add_argument("--json", metavar="FILE", help="write every round's figures here")
    args = ap.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    home = tempfile.mkdtemp(prefix="pydist-bench-home-")
    port = _free_port()
    env = _env(home, port)
    py = sys.executable
    pydist = [py, "-m", "pydist"]
    subprocess.run([*pydist, "epmd", "--daemon"], env=env, check=True, timeout=DEADLINE, capture_output=True)
    samples: dict[str, list[float]] = {"python": [], "imports": [], "eval": [], "prompt": []}
    try:
        for i in range(rounds + 1):  # round 0 warms the disk cache and is dropped
            row = {
                "python": _wall([py, "-c", "pass"], env),
                "imports": _wall([py, "-c", "import zmq, cloudpickle"], env),
                "eval": _wall([*pydist, "--sname", f"bench{i}e", "-e", "print(node())"], env),
                "prompt": _to_prompt(f"bench{i}p", env),
            }
            if i:
                for k, v in row.items():
                    samples[k].append(v)
    finally:
        subprocess.run([*pydist, "epmd", "--kill"], env=env, timeout=DEADLINE, capture_output=True)
    med = {k: statistics.median(v) for k, v in samples.items()}

    def ratio(k, base):
        return [a / b for a, b in zip(samples[k], samples[base], strict=True)]

    def rng(xs):
        return f"{min(xs):.2f}–{max(xs):.2f}"

    import platform

    import zmq

    print(
        f"{time.strftime('%Y-%m-%d')}, nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"pyzmq {zmq.__version__}, {rounds} rounds, medians (range of per-round ratios)\n"
    )
    print("| | wall | ÷ `python -c pass` | ÷ `import zmq, cloudpickle` | Elixir |")
    print("|---|---:|---:|---:|---:|")
    print(f"| `python -c pass` | {med['python'] * 1000:.0f} ms | 1 | | |")
    print(
        f'| `python -c "import zmq, cloudpickle"` | {med["imports"] * 1000:.0f} ms | '
        f"{statistics.median(ratio('imports', 'python')):.2f}× | 1 | |"
    )
    for key, label in (
        ("eval", "`pydist --sname x -e 'print(node())'`"),
        ("prompt", "`pydist --sname x` to the prompt"),
    ):
        print(
            f"| {label} | **{med[key] * 1000:.0f} ms** | "
            f"{statistics.median(ratio(key, 'python')):.2f}× ({rng(ratio(key, 'python'))}) | "
            f"{statistics.median(ratio(key, 'imports')):.2f}× ({rng(ratio(key, 'imports'))}) | "
            f"{ELIXIR[key] * 1000:.0f} ms ({med[key] / ELIXIR[key]:.2f}×) |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
