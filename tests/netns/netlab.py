"""netlab: N "hosts" on one Linux machine, made of network namespaces.

Why: pydist's real-cluster behaviour (long names across hosts, one name
server per host, partitions, ssh push/start) can only be trusted when it runs
across separate network stacks. A network namespace is exactly that: its own
interfaces, addresses, routes, ports and firewall, so every "host" runs its
own name server on the same port, as real machines do.

Shape (all names carry the lab's number ``L``, so concurrent labs never meet)::

    root namespace:  bridge pdlLbr  198.18.L.254/24   (the "switch"; the test runner's address)
                       |-- veth pdlLv1 <-> eth0 in namespace pdlLh1  198.18.L.1/24  h1.netlab.test
                       |-- veth pdlLv2 <-> eth0 in namespace pdlLh2  198.18.L.2/24  h2.netlab.test
                       ...

Addresses come only from 198.18.0.0/15 (RFC 2544, benchmarking): one /24 per
lab. Each namespace gets ``lo`` up (name servers answer registrations on
127.0.0.1) and ``/etc/netns/<ns>/hosts`` naming every host, which
``ip netns exec`` bind-mounts over /etc/hosts: ``kv@h3.netlab.test`` is a
real fully qualified name inside the lab.

Partitions drop packets silently (no RST, no FIN: sockets stay open, as when
a cable or a switch dies): :meth:`Lab.partition` with nftables drop rules in
each namespace (``method="nft"``) or by moving veths to a second, unconnected
bridge (``method="bridge"``, needs only iproute2); :meth:`Lab.isolate` sets a
host's veth down. :meth:`Lab.firewall` admits only some TCP ports into a
host, as a host firewall would. :meth:`Lab.heal` undoes all of them.

Teardown kills every process in every namespace (``ip netns pids``), deletes
the namespaces (their veths go with them), the bridges and /etc/netns/<ns>.
A lab whose owner died without tearing down (SIGKILL) is removed by the next
:class:`Lab` that starts: its owner's pid is kept in ``/run/pydist-netlab``.

Usage::

    reason = netlab.unavailable()          # None, or why labs cannot be built here
    with netlab.Lab(3) as lab:
        h1 = lab.hosts[0]                  # .ns .ip .fqdn
        lab.run(h1, ["ip", "-4", "addr"])  # subprocess.run inside h1
        p = lab.popen(h1, ["sleep", "60"]) # subprocess.Popen inside h1
        lab.partition([lab.hosts[:2], lab.hosts[2:]]); lab.heal()

Also a command line, to keep a lab for hands-on use::

    sudo python3 tests/netns/netlab.py up 3     # prints the hosts; Ctrl-C tears down
    sudo ip netns exec pdl0h1 bash              # a shell on host 1
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

NET = "198.18"  # 198.18.0.0/15 is reserved for benchmarking (RFC 2544)
DOMAIN = "netlab.test"  # .test is reserved (RFC 6761): never a real name
PREFIX = "pdl"  # every interface / namespace name starts with it
STATE_DIR = Path("/run/pydist-netlab")
_UNAVAILABLE: list = []  # cache of unavailable()'s answer


@dataclass
class Host:
    index: int  # 1..N
    ns: str  # namespace name, e.g. pdl0h1
    ip: str  # e.g. 198.18.0.1
    fqdn: str  # e.g. h1.netlab.test
    veth: str  # the root-namespace end, on the bridge
    procs: list = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        return f"{self.fqdn} ({self.ip}, netns {self.ns})"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def unavailable() -> str | None:
    """None if network namespaces can be built here, else the precise reason why not.

    Probes for real (a namespace, a veth pair and a bridge, removed at once):
    root alone is not enough, e.g. in gVisor or an unprivileged container.
    """
    if _UNAVAILABLE:
        return _UNAVAILABLE[0]
    reason = None
    if os.geteuid() != 0:
        reason = "needs root: network namespaces and veth pairs need CAP_NET_ADMIN (run as root)"
    elif shutil.which("ip") is None:
        reason = "needs the `ip` command (Debian package iproute2)"
    else:
        probe = f"{PREFIX}probe{os.getpid() % 100000}"
        steps = [
            ("netns add", ["netns", "add", probe]),
            ("veth pair", ["link", "add", probe[:11] + "a", "type", "veth", "peer", "name", probe[:11] + "b"]),
            ("bridge", ["link", "add", probe[:11] + "c", "type", "bridge"]),
        ]
        for what, args in steps:
            res = _ip(*args, check=False)
            if res.returncode != 0:
                reason = (
                    f"`ip {' '.join(args)}` failed ({what} not supported here, e.g. gVisor "
                    f"or a container without CAP_NET_ADMIN): {res.stderr.strip()}"
                )
                break
        _ip("link", "del", probe[:11] + "a", check=False)
        _ip("link", "del", probe[:11] + "c", check=False)
        _ip("netns", "del", probe, check=False)
    _UNAVAILABLE.append(reason)
    return reason


def has_nft() -> bool:
    return shutil.which("nft") is not None


# ------------------------------------------------------------------ the lab


class Lab:
    """N hosts on a bridge; a context manager that always tears down."""

    def __init__(self, n: int, *, domain: str = DOMAIN):
        if not 1 <= n <= 200:
            raise ValueError("a lab has 1 to 200 hosts")
        why = unavailable()
        if why:
            raise RuntimeError(f"netlab: cannot build network namespaces: {why}")
        self.domain = domain
        self.hosts: list[Host] = []
        self._extra_bridges: list[str] = []
        self._isolated: set[str] = set()
        self._nft_hosts: set[str] = set()
        self._firewalled: set[str] = set()
        self.lab_id = self._claim_id()
        self.bridge = f"{PREFIX}{self.lab_id}br"
        self.gateway = f"{NET}.{self.lab_id}.254"
        try:
            self._build(n)
        except BaseException:
            self.teardown()
            raise

    # -- allocation: one /24 per lab, claimed under a lock --------------------
    def _claim_id(self) -> int:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        with open(STATE_DIR / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for stale in STATE_DIR.glob("*.owner"):
                try:
                    owner = int(stale.read_text())
                except ValueError:
                    owner = -1
                if not _alive(owner):
                    _remove_lab(int(stale.stem))
                    stale.unlink(missing_ok=True)
            used = {int(p.stem) for p in STATE_DIR.glob("*.owner")}
            in_use = _ip("-4", "-o", "addr").stdout
            for lab_id in range(254):
                if lab_id not in used and f" {NET}.{lab_id}." not in in_use:
                    (STATE_DIR / f"{lab_id}.owner").write_text(str(os.getpid()))
                    return lab_id
        raise RuntimeError("netlab: no free /24 left in 198.18.0.0/16")

    def _build(self, n: int) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(1, n + 1):
            host = Host(
                i,
                f"{PREFIX}{self.lab_id}h{i}",
                f"{NET}.{self.lab_id}.{i}",
                f"h{i}.{self.domain}",
                f"{PREFIX}{self.lab_id}v{i}",
            )
            self.hosts.append(host)
            _ip("netns", "add", host.ns)
            peer = f"{PREFIX}{self.lab_id}p{i}"
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", host.ns)
            _ip("link", "set", host.veth, "master", self.bridge)
            _ip("link", "set", host.veth, "up")
            inside = ["-n", host.ns]
            _ip(*inside, "link", "set", peer, "name", "eth0")
            _ip(*inside, "addr", "add", f"{host.ip}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
        lines = ["127.0.0.1 localhost", f"{self.gateway} gateway.{self.domain} gateway"]
        lines += [f"{h.ip} {h.fqdn} h{h.index}" for h in self.hosts]
        for host in self.hosts:
            etc = Path("/etc/netns") / host.ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text("\n".join(lines) + "\n")

    # -- running things -------------------------------------------------------
    def host(self, which) -> Host:
        """A host by index (1-based int), namespace name, address or FQDN, or a Host."""
        if isinstance(which, Host):
            return which
        for h in self.hosts:
            if which in (h.index, h.ns, h.ip, h.fqdn, f"h{h.index}"):
                return h
        raise KeyError(f"no host {which!r} in this lab")

    def prefix(self, host) -> list[str]:
        """The argv prefix that runs a command inside ``host``."""
        return ["ip", "netns", "exec", self.host(host).ns]

    def run(self, host, argv, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.prefix(host) + list(argv), **kw)

    def popen(self, host, argv, **kw) -> subprocess.Popen:
        """Start ``argv`` inside ``host`` in its own session; killed at teardown."""
        kw.setdefault("start_new_session", True)
        proc = subprocess.Popen(self.prefix(host) + list(argv), **kw)
        self.host(host).procs.append(proc)
        return proc

    # -- failures -------------------------------------------------------------
    def partition(self, groups, method: str | None = None) -> None:
        """Cut traffic between ``groups`` (lists of hosts); within a group it flows.

        Hosts in no group are left alone with the first group. Packets are
        dropped silently: no RST, no ICMP, open sockets stay open.
        """
        groups = [[self.host(h) for h in g] for g in groups]
        method = method or ("nft" if has_nft() else "bridge")
        if method == "nft":
            for gi, group in enumerate(groups):
                others = [h.ip for gj, g in enumerate(groups) if gj != gi for h in g]
                for host in group:
                    self._nft_drop(host, others)
        elif method == "bridge":
            for gi, group in enumerate(groups[1:], start=1):
                br = f"{PREFIX}{self.lab_id}b{gi}"
                _ip("link", "add", br, "type", "bridge")
                _ip("link", "set", br, "up")
                self._extra_bridges.append(br)
                for host in group:
                    _ip("link", "set", host.veth, "master", br)
        else:
            raise ValueError(f"partition method {method!r}: use 'nft' or 'bridge'")

    def _nft(self, host: Host, script: str) -> None:
        res = self.run(host, ["nft", "-f", "-"], input=script)
        if res.returncode != 0:
            raise RuntimeError(f"nft in {host.ns} failed: {res.stderr.strip()}")

    def _nft_drop(self, host: Host, addrs: list[str]) -> None:
        if not addrs:
            return
        targets = ", ".join(addrs)
        script = (
            f"table inet netlab {{\n"
            f"  chain in {{ type filter hook input priority 0; ip saddr {{ {targets} }} drop; }}\n"
            f"  chain out {{ type filter hook output priority 0; ip daddr {{ {targets} }} drop; }}\n"
            f"}}\n"
        )
        self._nft(host, script)
        self._nft_hosts.add(host.ns)

    def firewall(self, host, tcp_ports) -> None:
        """Let only new TCP connections to ``tcp_ports`` (ints or "lo-hi") into ``host``.

        Replies to connections the host opens itself still come in (conntrack),
        as behind a typical host firewall. :meth:`heal` removes it.
        """
        host = self.host(host)
        ports = ", ".join(str(p) for p in tcp_ports)
        script = (
            f"table inet netlab_fw {{\n"
            f"  chain in {{ type filter hook input priority 0; policy drop;\n"
            f"    iifname lo accept; ct state established,related accept;\n"
            f"    tcp dport {{ {ports} }} accept; }}\n}}\n"
        )
        self._nft(host, script)
        self._firewalled.add(host.ns)

    def isolate(self, host) -> None:
        """Unplug ``host``'s cable: its veth goes down on the bridge side."""
        host = self.host(host)
        _ip("link", "set", host.veth, "down")
        self._isolated.add(host.veth)

    def heal(self) -> None:
        """Undo every partition and isolation: all hosts see each other again."""
        for ns in list(self._nft_hosts):
            self.run(ns, ["nft", "delete", "table", "inet", "netlab"])
            self._nft_hosts.discard(ns)
        for ns in list(self._firewalled):
            self.run(ns, ["nft", "delete", "table", "inet", "netlab_fw"])
            self._firewalled.discard(ns)
        for host in self.hosts:
            _ip("link", "set", host.veth, "master", self.bridge)
        for br in self._extra_bridges:
            _ip("link", "del", br, check=False)
        self._extra_bridges.clear()
        for veth in list(self._isolated):
            _ip("link", "set", veth, "up")
            self._isolated.discard(veth)

    # -- teardown -------------------------------------------------------------
    def teardown(self) -> None:
        """Kill every process in the lab and delete everything it made. Idempotent."""
        for host in self.hosts:
            for proc in host.procs:
                if proc.poll() is None:
                    _kill_group(proc.pid)
        _remove_lab(self.lab_id)
        (STATE_DIR / f"{self.lab_id}.owner").unlink(missing_ok=True)
        for host in self.hosts:
            for proc in host.procs:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.hosts = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_lab(lab_id: int) -> None:
    """Delete lab ``lab_id``'s namespaces (after killing their processes) and bridges."""
    tag = f"{PREFIX}{lab_id}"
    namespaces = [
        line.split()[0]
        for line in _ip("netns", "list", check=False).stdout.splitlines()
        if line.split() and line.split()[0].startswith(tag + "h")
    ]
    for ns in namespaces:
        for _ in range(20):  # processes may fork while we kill: repeat until none
            pids = [int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        _ip("netns", "del", ns, check=False)
        shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
    links = _ip("-o", "link", "show", check=False).stdout
    for line in links.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if name.startswith((tag + "b", tag + "v")):
                _ip("link", "del", name, check=False)
    try:
        Path("/etc/netns").rmdir()  # only if empty: other users' namespaces stay
    except OSError:
        pass


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "up" or not argv[1].isdigit():
        print("usage: netlab.py up N   (builds N hosts; Ctrl-C tears them down)", file=sys.stderr)
        return 2
    why = unavailable()
    if why:
        print(f"netlab: {why}", file=sys.stderr)
        return 1
    with Lab(int(argv[1])) as lab:
        for h in lab.hosts:
            print(f"{h.fqdn:<22} {h.ip:<15} sudo ip netns exec {h.ns} bash")
        print(f"this machine is {lab.gateway} on bridge {lab.bridge}; Ctrl-C tears the lab down")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
