"""What tracing and observing cost the hot path, against a baseline measured in the same run.

Run it as ``python benchmarks/trace_cost.py`` (``--rounds N``, ``--quick``);
the figures go to docs/performance.md ("Tracing and observing").

One process, one node (no sockets: the per-message cost is what is
measured, and on a remote message it is the same two checks on a much
longer path). Two workloads:

- ``self``: the main thread (a thread process, as the prompt) sends itself
  a message and receives it;
- ``ping``: a green process sends to another green process and waits for
  its answer (two messages and two switches of the loop per round trip).

Each runs under five configurations, in blocks that take turns round by
round (so load from elsewhere on the shared machine hits them alike); every
ratio is against **baseline** of the same round, and the table shows the
median over rounds with their range:

- ``baseline``: ``Runtime.send`` and ``Process.deliver`` with the trace
  hook's lines taken out (recompiled from their source, here);
- ``off``: as shipped, nothing traced: the hook is one global test;
- ``other traced``: another process is traced, so the hook looks up the
  sender and the receiver in the trace table and finds neither;
- ``observed``: an observer's lease is held (messages counted per process)
  and a thread process takes a snapshot once a second, as
  ``observer()`` does over the network;
- ``traced``: the measured processes are traced, each event delivered to
  a local collector (a green process that drops them).

Then the CPU time of one snapshot (what an observer costs the observed
node each second) with 1,000 and 10,000 processes waiting in ``receive``.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import statistics
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pydist
from pydist import receive, send, spawn
from pydist._api import observe
from pydist._core import runtime as _runtime
from pydist._core import state as _state
from pydist._core.tracing import TRACER, Spec

CONFIGS = ("baseline", "off", "other traced", "observed", "traced")
BLOCKS = 10  # each figure is the best of this many blocks, in CPU time of the thread that runs it
QUICK = {"rounds": 3, "self": 20_000, "ping": 5_000, "sizes": (1000,), "pairs": 20}
FULL = {"rounds": 7, "self": 100_000, "ping": 20_000, "sizes": (1000, 10_000), "pairs": 100}


def _without_hook(fn, module, hook_head: str):
    """``fn`` recompiled from its source with the two lines of the trace hook taken out."""
    src = textwrap.dedent(inspect.getsource(fn))
    lines = src.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.strip() == hook_head]
    assert len(at) == 1, f"{fn.__qualname__}: the hook line {hook_head!r} is not there once"
    del lines[at[0] : at[0] + 2]
    ns: dict = {}
    exec(compile("".join(lines), inspect.getsourcefile(fn) or "?", "exec"), module.__dict__, ns)
    return ns[fn.__name__]


SHIPPED = {"send": _runtime.Runtime.send, "deliver": _state.Process.deliver}
BARE = {
    "send": _without_hook(_runtime.Runtime.send, _runtime, "if _state.TRACER is not None:"),
    "deliver": _without_hook(_state.Process.deliver, _state, "if TRACER is not None:"),
}


class Setup:
    """Puts the node in one configuration, and back."""

    def __init__(self, measured: list):
        self.measured = measured  # pids traced in "traced"
        self.bystander = spawn(receive)
        self.sink = spawn(_drop)
        self.snapper = None
        self.ref = pydist.make_ref()

    def enter(self, config: str) -> None:
        bare = config == "baseline"
        _runtime.Runtime.send = BARE["send"] if bare else SHIPPED["send"]
        _state.Process.deliver = BARE["deliver"] if bare else SHIPPED["deliver"]
        if config == "other traced":
            TRACER.add(Spec(self.ref, self.bystander, ("send", "receive"), sink=self.sink))
        elif config == "traced":
            for pid in self.measured:
                TRACER.add(Spec(self.ref, pid, ("send", "receive"), sink=self.sink))
        elif config == "observed":
            observe.snapshot("bench", limit=200)
            self.snapper = spawn(_snap_every_second, thread=True)

    def leave(self) -> None:
        TRACER.remove(lambda s: s.ref != self.ref)
        if self.snapper is not None:
            send(self.snapper, "stop")
            self.snapper = None
        observe.end("bench")
        assert _state.TRACER is None, "a configuration left the hook on"
        _runtime.Runtime.send, _state.Process.deliver = SHIPPED["send"], SHIPPED["deliver"]


def _drop() -> None:
    while True:
        receive()


def _snap_every_second() -> None:
    while True:
        observe.snapshot("bench", limit=200)
        try:
            if receive(1.0) == "stop":
                return
        except TimeoutError:
            pass


def _self_round(n: int, blocks: int = BLOCKS) -> float:
    """CPU seconds per round trip: the best of ``blocks`` blocks (interference only adds)."""
    me = pydist.self()
    best = float("inf")
    for _ in range(blocks):
        t0 = time.thread_time()
        for i in range(n // blocks):
            send(me, i)
            receive()
        best = min(best, (time.thread_time() - t0) / (n // blocks))
    return best


def _pong() -> None:
    while True:
        m = receive()
        if m is None:
            return
        send(m[0], m[1])


def _ping(n: int, reply_to) -> None:
    pong = spawn(_pong)
    me = pydist.self()
    best = float("inf")
    for _ in range(BLOCKS):  # both green processes run on the loop thread: its CPU time is theirs
        t0 = time.thread_time()
        for i in range(n // BLOCKS):
            send(pong, (me, i))
            receive()
        best = min(best, (time.thread_time() - t0) / (n // BLOCKS))
    send(pong, None)
    send(reply_to, best)


def _ping_round(n: int, setup: Setup, config: str) -> float:
    me = pydist.self()
    if config == "traced":  # the green pinger itself is what is traced: start it first, traced
        pid = spawn(lambda: (receive(), _ping(n, me)))
        TRACER.add(Spec(setup.ref, pid, ("send", "receive"), sink=setup.sink))
        send(pid, "go")
    else:
        spawn(_ping, n, me)
    return receive(300.0)


def _ab_pairs(pairs: int, n: int, setup: Setup) -> list[float]:
    """off / baseline, block against block: the two swap every block, so both see the same load."""
    out = []
    for i in range(pairs):
        got = {}
        for config in ("baseline", "off") if i % 2 else ("off", "baseline"):
            setup.enter(config)
            try:
                got[config] = _self_round(n, blocks=1)
            finally:
                setup.leave()
        out.append(got["off"] / got["baseline"])
    return out


def _check_cost(n: int = 2_000_000) -> float:
    """Nanoseconds of the hook's test alone: a loop with it against the same loop without."""
    st = _state

    def with_check():
        for _ in range(n):
            if st.TRACER is not None:
                pass

    def without():
        for _ in range(n):
            pass

    best = {}
    for fn in (with_check, without) * 5:
        t0 = time.thread_time()
        fn()
        best[fn] = min(best.get(fn, float("inf")), time.thread_time() - t0)
    return (best[with_check] - best[without]) / n * 1e9


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"


def _snapshot_cost(sizes) -> list[tuple[int, float, int]]:
    out = []
    for size in sizes:
        waiting = [spawn(receive) for _ in range(size)]
        time.sleep(0.2)
        observe.snapshot("cost", limit=200)  # warm
        times = []
        for _ in range(5):
            snap = observe.snapshot("cost", limit=200)
            times.append(snap["cost"])
        observe.end("cost")
        out.append((size, statistics.median(times), snap["processes"]))
        for pid in waiting:
            send(pid, "bye")
        time.sleep(0.3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--quick", action="store_true", help="small counts, 3 rounds: a check in seconds")
    args = ap.parse_args()
    plan = dict(QUICK if args.quick else FULL)
    if args.rounds:
        plan["rounds"] = args.rounds
    setup = Setup([pydist.self()])
    _self_round(2000)  # warm up
    gc.disable()  # a collection landing in one block but not another is noise, not cost
    per: dict = {(w, c): [] for w in ("self", "ping") for c in CONFIGS}
    ratios: dict = {(w, c): [] for w in ("self", "ping") for c in CONFIGS}
    for r in range(plan["rounds"]):
        order = CONFIGS[r % len(CONFIGS) :] + CONFIGS[: r % len(CONFIGS)]
        got: dict = {}
        for config in order:
            setup.enter(config)
            try:
                got[("self", config)] = _self_round(plan["self"])
                got[("ping", config)] = _ping_round(plan["ping"], setup, config)
            finally:
                setup.leave()
        for (w, c), v in got.items():
            per[(w, c)].append(v * 1e9)
            ratios[(w, c)].append(v / got[(w, "baseline")])
        print(f"round {r + 1}/{plan['rounds']} done", file=sys.stderr)
    print(f"\n`python benchmarks/trace_cost.py{' --quick' if args.quick else ''}`: {plan['rounds']} rounds\n")
    print("| workload | configuration | CPU ns per round trip | × baseline (median, range) |")
    print("|---|---|---|---|")
    names = {"self": "send to self + receive (main thread)", "ping": "green ping-pong (2 messages)"}
    for w in ("self", "ping"):
        for c in CONFIGS:
            print(f"| {names[w]} | {c} | {statistics.median(per[(w, c)]):,.0f} | {_spread(ratios[(w, c)])} |")
    ab = _ab_pairs(plan["pairs"], plan["self"] // 10, setup)
    check = _check_cost()
    gc.enable()
    print(
        f"\nA/B, send to self + receive, off against baseline in {len(ab)} alternating blocks of "
        f"{plan['self'] // 10:,}: median {statistics.median(ab):.3f}× (quartiles "
        f"{statistics.quantiles(ab, n=4)[0]:.3f}–{statistics.quantiles(ab, n=4)[2]:.3f}).\n"
        f"The hook's test alone (`if _state.TRACER is not None`): {check:.1f} ns; a message passes it "
        f"twice (send, deliver): {2 * check / statistics.median(per[('self', 'baseline')]) * 100:.2f}% of "
        "a send + receive."
    )
    print("\n| processes | CPU per snapshot (ms, median of 5) |")
    print("|---|---|")
    for size, cost, n in _snapshot_cost(plan["sizes"]):
        print(f"| {size:,} ({n:,} with the node's own) | {cost * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
