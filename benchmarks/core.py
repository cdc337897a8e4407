"""Process-core benchmark (issue 9): pydist's process figures beside raw pyzmq, in one run.

Run it as ``python benchmarks/core.py`` (``--rounds N``, ``--quick`` for a
check in under a minute, ``--json FILE``); the figures go to
docs/performance.md ("Process core").

Each round starts fresh OS processes on loopback — a raw pyzmq server and
client (messaging.py's, plain and CURVE, plus a raw function call) and two
pydist nodes (core_node.py: B serves, A measures) — and measures, in short
blocks that take turns so load from elsewhere on the shared machine hits
them alike:

- baselines: raw ping-pong (plain, CURVE), raw function call (a cloudpickled
  function, called on the server, its pickled result back), raw throughput;
- pydist A→B: send + receive, ``GenServer.call``, ``rpc.call`` of a tiny
  function, ``Node.spawn`` + a message back, a local spawn + message + reply,
  each from a ``spawn``-ed process (green on the new core), from the main
  thread process (the prompt's case) and, when the runtime has the option,
  from a ``spawn(fn, thread=True)`` process; one-way throughput;
- local spawn rate, and a ring passing a token (local, and across A and B).

Every ratio is taken against its baseline of the same round; the table
shows medians over rounds with their range. After the rounds, the RSS of a
process waiting in ``receive()`` at 10k / 100k / 1M processes, each size in
a fresh node that is killed once it has answered; the first size that fails
ends the series (``--quick``: 10k only).

Bounded: every wait has a timeout, every loop a count and a deadline; all
children and the private name server (``PYDIST_EPMD_PORT``, a temporary
``HOME``, a random cookie) are killed at the end, even on failure.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from messaging import CMD_DEADLINE, ROOT, Child, _free_port, _latency_stats, _median

HERE = Path(__file__).resolve().parent
WHATS = {  # latency figure -> (label, baseline key, green target, thread-process target)
    "msg": ("send + receive echo", "raw_curve_rt", 1.3, 1.8),
    "gs": ("GenServer.call echo", "raw_curve_rt", 1.4, 1.8),
    "rpc": ("rpc.call of a tiny function", "raw_curve_fn", 1.3, None),
    "nspawn": ("Node.spawn + message back", "raw_curve_fn", 1.5, None),
    "local": ("local spawn + message + reply", None, None, None),
}
KIND_LABEL = {"spawned": "spawn(fn)", "main": "main thread", "thread": "spawn(fn, thread=True)"}
RAW_LABEL = {
    "raw_plain_rt": "raw pyzmq ping-pong",
    "raw_curve_rt": "raw CURVE ping-pong",
    "raw_plain_fn": "raw fn call",
    "raw_curve_fn": "raw CURVE fn call",
}
RSS_SIZES = (10_000, 100_000, 1_000_000)
SPAWN_TARGET, RSS_TARGET_KIB = 100_000, 8.0
QUICK = {"lat": 300, "blocks": 3, "warm": 50, "tp": 10_000, "spawn": 2000, "ring": (200, 4000), "xring": (20, 1000)}
FULL = {
    "lat": 2000,
    "blocks": 4,
    "warm": 200,
    "tp": 50_000,
    "spawn": 10_000,
    "ring": (1000, 20_000),
    "xring": (100, 4000),
}


def _ask(child: Child, op: str, timeout: float = CMD_DEADLINE + 60, **args) -> dict:
    child.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
    child.proc.stdin.flush()
    out = json.loads(child.expect("RESULT", timeout))
    if isinstance(out, dict) and "error" in out:
        raise RuntimeError(f"{child.name} {op} {args}: {out['error']}")
    return out


def _kill(child: Child) -> None:
    try:
        os.killpg(child.proc.pid, signal.SIGKILL)  # its own session: only this child and its threads
    except OSError:
        pass
    child.proc.wait(10)


def _start_round(env: dict, tag: str) -> list[Child]:
    """Fresh children for one round: [node A, raw client, node B, raw server]."""
    node = [sys.executable, "-m", "pydist", "--sname"]
    b = Child("node-b", [*node, f"coreb{tag}", str(HERE / "core_node.py"), "node-b"], env)
    srv = Child("raw-server", [sys.executable, str(HERE / "messaging.py"), "raw-server"], env)
    started = [b, srv]
    try:
        peer, ports = b.expect("READY", 60), srv.expect("READY", 30).split()
        a = Child("node-a", [*node, f"corea{tag}", str(HERE / "core_node.py"), "node-a", peer], env)
        started.insert(0, a)
        raw = Child("raw-client", [sys.executable, str(HERE / "messaging.py"), "raw-client", *ports], env)
        started.insert(1, raw)
        a.expect("READY", 60)
        raw.expect("READY", 30)
    except BaseException:
        for c in started:
            c.stop()
        raise
    return started


def _round(a: Child, raw: Child, kinds: list[str], sizes: dict, index: int) -> dict:
    blocks, n = sizes["blocks"], sizes["lat"] // sizes["blocks"]
    calls = {
        "raw_plain_rt": lambda w: _ask(raw, "rt", variant="plain", n=n, warm=w),
        "raw_curve_rt": lambda w: _ask(raw, "rt", variant="curve", n=n, warm=w),
        "raw_plain_fn": lambda w: _ask(raw, "fn", variant="plain", n=n, warm=w),
        "raw_curve_fn": lambda w: _ask(raw, "fn", variant="curve", n=n, warm=w),
    }
    for kind in kinds:
        for what in WHATS:
            calls[f"{kind}_{what}"] = lambda w, k=kind, x=what: _ask(a, "lat", kind=k, what=x, n=n, warm=w)
    order, samples = list(calls), {k: [] for k in calls}
    for b in range(blocks):
        w = sizes["warm"] if b == 0 else max(5, sizes["warm"] // 10)
        shift = (b + index) % len(order)
        for key in order[shift:] + order[:shift]:
            samples[key] += calls[key](w)["samples"]
    r = {k: _latency_stats(v) for k, v in samples.items()}
    tps = [
        ("raw_plain_tp", lambda: _ask(raw, "tp", variant="plain", n=sizes["tp"])),
        ("raw_curve_tp", lambda: _ask(raw, "tp", variant="curve", n=sizes["tp"])),
    ] + [(f"{k}_tp", lambda k=k: _ask(a, "tp", kind=k, n=sizes["tp"])) for k in kinds]
    for key, call in tps if index % 2 == 0 else tps[::-1]:
        r[key] = call()
    r["spawn_rate"] = _ask(a, "spawn_rate", kind="spawned", n=sizes["spawn"])
    r["ring_local"] = _ask(a, "ring", kind="spawned", remote=False, procs=sizes["ring"][0], hops=sizes["ring"][1])
    r["ring_remote"] = _ask(a, "ring", kind="spawned", remote=True, procs=sizes["xring"][0], hops=sizes["xring"][1])
    return r


def _rss_series(env: dict, tag: str, sizes: tuple[int, ...]) -> list[dict]:
    """One fresh node per size; the series stops at the first size that fails."""
    out: list[dict] = []
    for n in sizes:
        last = out[-1] if out else None
        if last and last.get("kib_per_process"):
            need = 1.3 * n * last["kib_per_process"]
            avail = _meminfo_kib("MemAvailable:")
            if need > 0.6 * avail:
                out.append({"n": n, "error": f"not tried: it needs about {need / 2**20:.1f} GiB, "
                            f"the machine has {avail / 2**20:.1f} GiB available"})  # fmt: skip
                break
        seconds = min(300, 30 + n / 2000)  # the old runtime meets its thread limit (~22k) well within 80 s
        cmd = [sys.executable, "-m", "pydist", "--sname", f"corer{n}x{tag}", str(HERE / "core_node.py"), "rss"]
        child = Child(f"rss {n:,}", [*cmd, str(n), str(seconds)], env)
        try:
            res = json.loads(child.expect("RESULT", seconds + 60))
        except RuntimeError as err:
            tail = [line for line in child.log if line.strip()][-1:] or [str(err).splitlines()[0]]
            res = {"n": n, "error": f"the node failed: {tail[0].strip()}"}
        finally:
            _kill(child)
        out.append(res)
        print(f"rss {n:,}: {_rss_cell(res)}", flush=True)
        if res.get("error"):
            break
    return out


def _meminfo_kib(key: str) -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))


def _rss_cell(res: dict) -> str:
    if res.get("error"):
        return res["error"]
    return f"{res['kib_per_process']:.1f} KiB per process ({res['waiting']:,} waiting, spawned in {res['spawn_secs']:.1f} s)"


def _fmt(v: float, unit: str = "") -> str:
    return (f"{v:,.0f}" if v >= 100 else f"{v:.1f}") + (f" {unit}" if unit else "")


def _report(rounds: list[dict], kinds: list[str], rss: list[dict], sizes: dict, header: list[str]) -> str:
    def med(key, q):
        vals = [r[key][q] for r in rounds]
        return _median(vals), min(vals), max(vals)

    def cell(key, q, unit):
        m, lo, hi = med(key, q)
        return f"{_fmt(m, unit)} | {_fmt(lo)}–{_fmt(hi)}"

    def ratio(num, q, den, dq, op=None, target=None):
        xs = [r[num][q] / r[den][dq] for r in rounds]
        verdict = (
            ""
            if target is None
            else f"{op} {target}× "
            + ("met" if (_median(xs) <= target if op == "≤" else _median(xs) >= target) else "**missed**")
        )
        return f"{_median(xs):.2f}× ({min(xs):.2f}–{max(xs):.2f}) | {verdict}"  # fmt: skip

    rows = ["| figure | median | range | ÷ baseline, same round (range) | target |", "|---|---:|---:|---:|---|"]
    for key, label in RAW_LABEL.items():
        base = "1 |" if key == "raw_plain_rt" else "÷ raw pyzmq: " + ratio(key, "p50", "raw_plain_rt", "p50")
        rows.append(f"| {label} p50 | {cell(key, 'p50', 'µs')} | {base} |")
    for key, label in (("raw_plain_tp", "raw pyzmq throughput"), ("raw_curve_tp", "raw CURVE throughput")):
        rows.append(f"| {label} | {cell(key, 'rate', 'msg/s')} | | |")
    for kind in kinds:
        for what, (label, base, green, thread) in WHATS.items():
            target = green if kind == "spawned" else thread
            versus = (
                f"÷ {RAW_LABEL[base]}: " + ratio(f"{kind}_{what}", "p50", base, "p50", "≤", target) if base else "|"
            )
            rows.append(f"| {label} p50, {KIND_LABEL[kind]} | {cell(f'{kind}_{what}', 'p50', 'µs')} | {versus} |")
        rows.append(
            f"| one-way throughput, {KIND_LABEL[kind]} | {cell(f'{kind}_tp', 'rate', 'msg/s')} | ÷ raw CURVE: "
            + ratio(f"{kind}_tp", "rate", "raw_curve_tp", "rate", "≥", 1.0 if kind == "spawned" else None)
            + " |"
        )
    m = med("spawn_rate", "rate")[0]
    rows.append(
        f"| local spawn rate, run to the end (from spawn(fn)) | {cell('spawn_rate', 'rate', '/s')} | | "
        f"≥ {SPAWN_TARGET:,}/s {'met' if m >= SPAWN_TARGET else '**missed**'} |"
    )
    for key, what, (procs, hops) in (("ring_local", "local", sizes["ring"]), ("ring_remote", "A↔B", sizes["xring"])):
        rows.append(f"| ring, {what}: {procs:,} processes, {hops:,} hops | {cell(key, 'rate', 'hops/s')} | | |")
    for res in rss:
        kib = res.get("kib_per_process")
        ok = (
            ""
            if res.get("error")
            else (f"≤ {RSS_TARGET_KIB:g} KiB " + ("met" if kib <= RSS_TARGET_KIB else "**missed**"))
        )
        value = f"{kib:.1f} KiB | {res['waiting']:,} waiting, spawned in {res['spawn_secs']:.1f} s" if not res.get("error") else f"failed | {res['error']}"  # fmt: skip
        rows.append(f"| RSS per waiting process, {res['n']:,} | {value} | | {ok} |")
    if not any(r.get("n") == 1_000_000 and not r.get("error") for r in rss):
        rows.append("| 1,000,000 waiting processes held | no | | | **missed** |")
    return "\n".join([*header, "", *rows])


def main(argv: list[str]) -> int:
    import argparse

    import zmq

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 5; 2 with --quick)")
    p.add_argument("--quick", action="store_true", help="small counts and RSS at 10k only: under a minute")
    p.add_argument("--json", metavar="FILE", help="also write every round's figures to FILE")
    args = p.parse_args(argv)
    sizes, n_rounds = (QUICK, args.rounds or 2) if args.quick else (FULL, args.rounds or 5)
    home = tempfile.mkdtemp(prefix="pydist-bench-")
    env = dict(
        os.environ,
        HOME=home,
        PYDIST_EPMD_PORT=str(_free_port()),
        PYDIST_COOKIE="bench-" + secrets.token_hex(8),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    )
    started, tag, load0 = time.monotonic(), str(os.getpid()), os.getloadavg()[0]
    try:
        rounds, kinds = [], ["spawned", "main"]
        for i in range(n_rounds):
            t0 = time.monotonic()
            children = _start_round(env, f"{i}x{tag}")
            try:
                info = _ask(children[0], "kinds")
                kinds = info["kinds"]
                rounds.append(_round(children[0], children[1], kinds, sizes, i))
            finally:
                for c in children:
                    c.stop()
            print(f"round {i + 1}/{n_rounds} done in {time.monotonic() - t0:.1f} s", flush=True)
        load1 = os.getloadavg()[0]  # before the RSS load, which alone can push it into the hundreds
        rss = _rss_series(env, tag, RSS_SIZES[:1] if args.quick else RSS_SIZES)
        runtime = (
            "`spawn(fn, thread=True)` exists: spawn(fn) is a green process"
            if "thread" in kinds
            else "no `thread=` option: every process is an OS thread (spawn(fn) too)"
        )
        command = " ".join(["python benchmarks/core.py", *argv])
        header = [
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, `{command}`, {n_rounds} rounds "
            f"in {time.monotonic() - started:.0f} s; nproc {os.cpu_count()}, Python {sys.version.split()[0]}, "
            f"pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()}), loopback, load average {load0:.1f} at the "
            f"start, {load1:.1f} after the rounds; {runtime}",
            f"per round: {sizes['lat']} round trips per latency in {sizes['blocks']} interleaved blocks "
            f"(+{sizes['warm']} warm-up), throughput {sizes['tp']:,} messages, {sizes['spawn']:,} spawns",
        ]
        print()
        print(_report(rounds, kinds, rss, sizes, header))
        if args.json:
            Path(args.json).write_text(json.dumps({"sizes": sizes, "rounds": rounds, "rss": rss}, indent=1))
        return 0
    except (RuntimeError, AssertionError) as err:
        print(f"core benchmark failed: {err}", file=sys.stderr)
        return 1
    finally:
        subprocess.run(
            [sys.executable, "-m", "pydist", "epmd", "--kill"], env=env, cwd=str(ROOT), capture_output=True, timeout=30
        )
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
