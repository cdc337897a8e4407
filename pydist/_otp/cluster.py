"""Cluster strategies (libcluster-style): nodes that find each other by themselves.

Each topology is one supervised GenServer that keeps a set of nodes
connected: its first round of ``Node.connect`` happens inside ``init``, so
children started after the cluster supervisor already see the cluster
(kv_store's MapServer resyncs from it); after that it polls every
``polling_interval`` seconds and tries every missing node again, so a node
that restarts, or a partition that heals, rejoins without anyone typing
``Node.connect``. ``Node.monitor_nodes`` feeds the one-line logs::

    [info] cluster local: connected to node1@localhost
    [info] cluster local: disconnected from node1@localhost (retrying every 5 s)

Strategies: ``Epmd`` (a fixed ``hosts`` list) and ``LocalEpmd`` (every
node this host's name server knows).
"""

from __future__ import annotations

import logging
import time

from .._api.node import Node
from .._api.processes import Process, make_ref, node, receive, send, spawn
from .._api.processes import self as self_pid
from .._base import names as _names
from .genserver import GenServer
from .supervisor import Supervisor

__all__ = ["Cluster"]

log = logging.getLogger("pydist")

DEFAULT_POLLING_INTERVAL = 5.0


def _connect_one(parent, tag, name) -> None:
    send(parent, ("$connected", tag, name, Node.connect(name)))


def _connect_all(names, timeout: float) -> None:
    """Connect to each of ``names`` at once (a dead host costs its own wait only).

    One process per node, each waiting in ``Node.connect`` (which never
    holds the node's loop); the strategy waits for their answers up to
    ``timeout``. A late answer is dropped by ``handle_info``.
    """
    me, tag = self_pid(), make_ref()
    for n in names:
        spawn(_connect_one, me, tag, n)
    deadline = time.monotonic() + timeout
    for _ in names:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            receive(left, lambda m: type(m) is tuple and len(m) == 4 and m[0] == "$connected" and m[1] == tag)
        except TimeoutError:
            return


class _Strategy(GenServer):
    """The common loop: connect what is missing, now and every interval; log changes."""

    kind = "strategy"

    def targets(self, st) -> list[str]:
        raise NotImplementedError

    def check_config(self, topology: str, config: dict) -> None:
        pass

    def init(self, arg):
        topology, config = arg
        self.check_config(topology, config)
        if not Node.alive():
            log.warning(
                "cluster %s: this node is not distributed, so it joins no cluster "
                "(start it with --sname NAME or --name NAME@HOST)",
                topology,
            )
            return "ignore"
        interval = float(config.get("polling_interval", DEFAULT_POLLING_INTERVAL))
        st = {
            "topology": topology,
            "config": config,
            "interval": interval,
            "longnames": _names.is_long_host(node().split("@", 1)[1]),
        }
        Node.monitor_nodes(True)
        self._poll(st)
        Process.send_after(self_pid(), "$poll", interval)
        return ("ok", st)

    def _usable(self, st, name: str) -> bool:
        try:
            _, host = _names.split(name)
        except ValueError:
            return False
        return _names.is_long_host(host) == st["longnames"]

    def _poll(self, st) -> None:
        up = set(Node.list())
        missing = [n for n in self.targets(st) if n != node() and n not in up]
        if missing:
            _connect_all(missing, timeout=10.0)

    def handle_info(self, msg, st):
        if type(msg) is tuple and len(msg) == 4 and msg[0] == "$connected":
            pass  # a connection attempt that answered after its round gave up waiting
        elif msg == "$poll":
            self._poll(st)
            Process.send_after(self_pid(), "$poll", st["interval"])
        elif type(msg) is tuple and len(msg) == 2 and msg[0] in ("nodeup", "nodedown") and self.watches(st, msg[1]):
            if msg[0] == "nodeup":
                log.info("cluster %s: connected to %s", st["topology"], msg[1])
            else:
                log.info(
                    "cluster %s: disconnected from %s (retrying every %g s)", st["topology"], msg[1], st["interval"]
                )
        return ("noreply", st)

    def watches(self, st, name: str) -> bool:
        return name in self.targets(st)

    def terminate(self, reason, st):
        if isinstance(st, dict):
            Node.monitor_nodes(False)


class Epmd(_Strategy):
    """Connect to a fixed list of nodes: ``{"hosts": ["a@h1", "b@h2"], "polling_interval": 5}``."""

    kind = "Epmd"

    def check_config(self, topology, config):
        hosts = config.get("hosts")
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) for h in hosts):
            raise ValueError(
                f"cluster {topology}: the Epmd strategy needs config {{'hosts': ['name@host', ...]}}, got {config!r}"
            )

    def init(self, arg):
        ret = super().init(arg)
        if type(ret) is tuple:
            st = ret[1]
            wrong = [h for h in st["config"]["hosts"] if not self._usable(st, _names.qualify(h, node()))]
            if wrong:
                kind = "long (--name)" if st["longnames"] else "short (--sname)"
                log.warning("cluster %s: ignoring %s: this node uses %s names", st["topology"], ", ".join(wrong), kind)
        return ret

    def targets(self, st):
        names = [_names.qualify(h, node()) for h in st["config"]["hosts"]]
        return [n for n in names if self._usable(st, n)]


class LocalEpmd(_Strategy):
    """Connect to every node registered with this host's name server."""

    kind = "LocalEpmd"

    def targets(self, st):
        try:
            return Node.names()
        except Exception as err:  # the name server is restarting: try again next poll
            log.debug("cluster %s: name server: %s", st["topology"], err)
            return []

    def watches(self, st, name):
        return name.split("@", 1)[-1] == node().split("@", 1)[1]


STRATEGIES = {"Epmd": Epmd, "LocalEpmd": LocalEpmd}


def topologies_specs(topologies) -> list[dict]:
    """Child specs for each topology of ``{"name": {"strategy": ..., "config": {...}}}``."""
    items = topologies.items() if isinstance(topologies, dict) else list(topologies)
    specs = []
    for name, topo in items:
        if not isinstance(topo, dict):
            raise ValueError(
                f"cluster {name}: a topology is a dict like {{'strategy': Cluster.Epmd, 'config': {{'hosts': [...]}}}}"
            )
        strategy = topo.get("strategy")
        if isinstance(strategy, str):
            strategy = STRATEGIES.get(strategy.rsplit(".", 1)[-1])
        if not (isinstance(strategy, type) and issubclass(strategy, _Strategy)):
            raise ValueError(
                f"cluster {name}: unknown strategy {topo.get('strategy')!r} (use one of {', '.join(STRATEGIES)})"
            )
        config = dict(topo.get("config") or {})
        if "polling_interval" in topo:
            config.setdefault("polling_interval", topo["polling_interval"])
        strategy().check_config(name, config)
        specs.append(
            {
                "id": f"cluster:{name}",
                "start": (GenServer.start_link, (strategy, (name, config))),
                "restart": "permanent",
                "shutdown": 5.0,
                "type": "worker",
            }
        )
    return specs


class ClusterSupervisor:
    """``Cluster.Supervisor``: one strategy process per topology, one_for_one."""

    @staticmethod
    def start_link(topologies, name: str | None = None):
        return Supervisor.start_link(topologies_specs(topologies), strategy="one_for_one", name=name)

    @staticmethod
    def child_spec(topologies):
        return {
            "id": "Cluster.Supervisor",
            "start": (ClusterSupervisor.start_link, (topologies,)),
            "restart": "permanent",
            "type": "supervisor",
        }


class Cluster:
    """libcluster's names: ``Cluster.Epmd``, ``Cluster.LocalEpmd``, ``Cluster.Supervisor``."""

    Epmd = Epmd
    LocalEpmd = LocalEpmd
    Supervisor = ClusterSupervisor
    Strategy = type(
        "Strategy", (), {"Epmd": Epmd, "LocalEpmd": LocalEpmd, "__doc__": "libcluster's Cluster.Strategy.* spellings"}
    )


Cluster.__module__ = "pydist"
