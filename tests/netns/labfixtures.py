"""Fixtures for the multi-host tests: a netlab (tests/netns/netlab.py) and
pydist nodes started inside its hosts with ``ip netns exec``.

Not a conftest.py (tests/conftest.py owns that module name): test files
import what they use, ``from labfixtures import make_lab_fixture, needs_netns``;
each fixture is defined as ``NAME_fixture`` and requested as ``NAME``
(``make_lab``, ``lab_nodes``, ``ssh_lab``), so a test's argument does not
shadow the import (ruff's F811).
Mark a file ``pytestmark = [*needs_netns, ...]``: it skips with the precise
reason when network namespaces cannot be built (not root, gVisor, no
iproute2). Each node is a tests/agent.py node (see tests/conftest.py
``NodeProc``); each host's name server is started by the first node on it,
inside that host, on the session's $PYDIST_EPMD_PORT. ``ssh_lab`` adds a
real sshd to every host, for the push/start scripts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import netlab
import pytest
from conftest import (
    AGENT,
    ROOT,
    TIMEOUT,
    NodeProc,
    base_env,
    pydist_cmd,
    start_agent_node,
    wait_for,
)

_WHY = netlab.unavailable()
needs_netns = [pytest.mark.netns, pytest.mark.skipif(_WHY is not None, reason=f"multi-host tests: {_WHY}")]


class LabNodes:
    """Starts pydist nodes inside lab hosts; stops them (and the lab kills the rest)."""

    def __init__(self, lab: netlab.Lab, tmp: Path):
        self.lab = lab
        self.tmp = tmp
        self.started: list[NodeProc] = []

    def start(
        self,
        host,
        name: str,
        *extra: str,
        flag: str = "--name",
        env: dict | None = None,
        cwd=None,
        wait: bool = True,
        script: str | None = str(AGENT),
    ) -> NodeProc:
        """``pydist --name NAME EXTRA... tests/agent.py`` inside ``host``."""
        argv = self.lab.prefix(host) + pydist_cmd(flag, name, *extra, *([script] if script else []))
        node = start_agent_node(argv, name, env, cwd or self.tmp)
        self.lab.host(host).procs.append(node.proc)
        self.started.append(node)
        if wait:
            node.eval("node()", timeout=TIMEOUT)
        return node

    def stop_all(self) -> None:
        for node in self.started:
            node.stop()


@pytest.fixture(name="make_lab")
def make_lab_fixture():
    """``make_lab(n)`` -> a netlab.Lab of n hosts, torn down after the test (even on failure)."""
    labs = []

    def make(n: int) -> netlab.Lab:
        lab = netlab.Lab(n)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.teardown()


@pytest.fixture(name="lab_nodes")
def lab_nodes_fixture(tmp_path):
    """``lab_nodes(lab)`` -> a LabNodes for that lab; its nodes are stopped after the test."""
    made = []

    def make(lab) -> LabNodes:
        ln = LabNodes(lab, tmp_path)
        made.append(ln)
        return ln

    yield make
    for ln in made:
        ln.stop_all()


# ------------------------------------------------------------------ ssh hosts

SSHD = "/usr/sbin/sshd"


def sshd_missing() -> str | None:
    """Why the ssh tests cannot run here, or None."""
    missing = [
        tool
        for tool, path in (
            ("openssh-server", SSHD),
            ("ssh", shutil.which("ssh")),
            ("rsync", shutil.which("rsync")),
            ("tmux", shutil.which("tmux")),
        )
        if not path or not os.path.exists(path)
    ]
    if missing:
        return f"needs {', '.join(missing)} (apt-get install -y openssh-server openssh-client rsync tmux)"
    return None


class SshLab:
    """A real sshd in every host of a lab, as a user's machines would have.

    Each host gets its own throwaway host key, its own HOME (``SetEnv`` in its
    sshd_config: cookies, pushed apps and tmux sockets stay per host although
    the namespaces share one file system) and ``pydist`` on its PATH. One
    throwaway client key logs in as root; ``ssh_config`` says so, and
    ``env()`` points the scripts at it through $PYDIST_SSH_OPTS, with a local
    HOME and tmux socket directory of the test's own.
    """

    def __init__(self, lab: netlab.Lab, tmp: Path):
        self.lab, self.tmp = lab, tmp
        keys = tmp / "keys"
        keys.mkdir()
        for key in ("host", "client"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / key)], check=True, timeout=30
            )
        (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        wrapper = bin_dir / "pydist"  # "pydist is installed on every host"
        wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m pydist "$@"\n')
        wrapper.chmod(0o755)
        self.ssh_config = tmp / "ssh_config"
        # The hosts' names resolve inside the lab only: here, ssh_config maps them
        # (as a user without DNS for their machines would, with HostName).
        self.ssh_config.write_text(
            "".join(f"Host {h.fqdn}\n  HostName {h.ip}\n" for h in lab.hosts)
            + f"Host {netlab.NET}.* *.{lab.domain}\n  User root\n  IdentityFile {keys / 'client'}\n"
            f"  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            f"  UserKnownHostsFile {tmp / 'known_hosts'}\n  LogLevel ERROR\n"
        )
        self.local_home = tmp / "local-home"
        self.local_tmux = tmp / "local-tmux"
        self.local_home.mkdir()
        self.local_tmux.mkdir()
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        self.homes = {}
        for host in lab.hosts:
            home = tmp / f"home-h{host.index}"
            tmux_dir = tmp / f"tmux-h{host.index}"
            home.mkdir()
            tmux_dir.mkdir()
            self.homes[host.index] = home
            cfg = tmp / f"sshd_config-h{host.index}"
            cfg.write_text(
                f"Port 22\nListenAddress {host.ip}\nHostKey {keys / 'host'}\n"
                f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
                f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                f"StrictModes no\nPidFile none\n"
                f"SetEnv HOME={home} TMUX_TMPDIR={tmux_dir} "
                f"PATH={bin_dir}:/usr/local/bin:/usr/bin:/bin\n"
            )
            with open(tmp / f"sshd-h{host.index}.log", "w") as log:  # sshd keeps its own copy of the fd
                lab.popen(host, [SSHD, "-D", "-e", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=log)
        for host in lab.hosts:
            wait_for(lambda host=host: _port_open(host.ip, 22), timeout=TIMEOUT, what=f"sshd on {host}")

    def env(self, **extra) -> dict:
        """The environment of a user's terminal on the machine running the scripts."""
        return base_env(
            HOME=str(self.local_home),
            TMUX_TMPDIR=str(self.local_tmux),
            PYDIST_SSH_OPTS=f"-F {self.ssh_config}",
            TMUX=None,
            **extra,
        )

    def ssh(self, host, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", self.lab.host(host).ip, command],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def close(self) -> None:
        """End the local tmux server of this test (by its own socket directory)."""
        subprocess.run(["tmux", "kill-server"], env=self.env(), capture_output=True, timeout=30)


def _port_open(ip: str, port: int) -> bool:
    try:
        socket.create_connection((ip, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(name="ssh_lab")
def ssh_lab_fixture(tmp_path):
    """``ssh_lab(lab)`` -> an SshLab (sshd running in every host of ``lab``)."""
    why = sshd_missing()
    if why:
        pytest.skip(f"push/start tests: {why}")
    made = []

    def make(lab) -> SshLab:
        sl = SshLab(lab, tmp_path)
        made.append(sl)
        return sl

    yield make
    for sl in made:
        sl.close()
