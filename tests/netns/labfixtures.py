"""Fixtures for the multi-host tests: a netlab (tests/netns/netlab.py) and
pydist nodes started inside its hosts with ``ip netns exec``.

Not a conftest.py (tests/conftest.py owns that module name): test files
import what they use, ``from labfixtures import make_lab, lab_nodes, needs_netns``.
Mark a file ``pytestmark = [needs_netns, ...]``: it skips with the precise
reason when network namespaces cannot be built (not root, gVisor, no iproute2). Each node is a tests/agent.py node
(see tests/conftest.py ``NodeProc``); each host's name server is started by
the first node on it, inside that host, on the session's $PYDIST_EPMD_PORT.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import netlab  # noqa: E402
from conftest import AGENT, TIMEOUT, NodeProc, base_env, pydist_cmd  # noqa: E402


_WHY = netlab.unavailable()
needs_netns = [pytest.mark.netns,
               pytest.mark.skipif(_WHY is not None, reason=f"multi-host tests: {_WHY}")]


class LabNodes:
    """Starts pydist nodes inside lab hosts; stops them (and the lab kills the rest)."""

    def __init__(self, lab: netlab.Lab, tmp: Path):
        self.lab = lab
        self.tmp = tmp
        self.started: list[NodeProc] = []

    def start(self, host, name: str, *extra: str, flag: str = "--name", env: dict | None = None,
              cwd=None, wait: bool = True, script: str | None = str(AGENT)) -> NodeProc:
        """``pydist --name NAME EXTRA... tests/agent.py`` inside ``host``."""
        argv = self.lab.prefix(host) + pydist_cmd(flag, name, *extra, *([script] if script else []))
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=base_env(**(env or {})),
                                cwd=str(cwd or self.tmp), start_new_session=True)
        self.lab.host(host).procs.append(proc)
        node = NodeProc(name, proc)
        self.started.append(node)
        if wait:
            node.eval("node()", timeout=TIMEOUT)
        return node

    def stop_all(self) -> None:
        for node in self.started:
            node.stop()


@pytest.fixture
def make_lab():
    """``make_lab(n)`` -> a netlab.Lab of n hosts, torn down after the test (even on failure)."""
    labs = []

    def make(n: int) -> netlab.Lab:
        lab = netlab.Lab(n)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.teardown()


@pytest.fixture
def lab_nodes(tmp_path):
    """``lab_nodes(lab)`` -> a LabNodes for that lab; its nodes are stopped after the test."""
    made = []

    def make(lab) -> LabNodes:
        ln = LabNodes(lab, tmp_path)
        made.append(ln)
        return ln

    yield make
    for ln in made:
        ln.stop_all()
