"""Distribution: the connections of this node to the other nodes.

Connecting to ``b@host`` means: resolve ``host``, ask that host's name
server for b's port, open a DEALER to it (CURVE, cookie keys), send HELLO
and wait for HELLO_ACK. The peer opens its own DEALER back to us on HELLO;
each side then sends everything to the other over its own DEALER. A peer is
*up* once the handshake is done; it goes *down* on BYE, on a closed socket
(kill -9: milliseconds), on missing heartbeats (a hung host or a partition:
within the ticktime), or when a frame arrives from a new incarnation.

Every wait here has a deadline, and every waiter for a node is woken when
that node goes down, so nothing blocks for long on a dead peer.
"""

from __future__ import annotations

import ipaddress
import logging
import pickle as _pickle
import threading
import time
from collections import deque
from typing import Any

from .._base import names as _names
from .._base.errors import NameInUse, NameServerUnreachable, SystemLimit
from .._base.terms import Pid, Ref
from .._net import nameserver as _nameserver
from .._net import shapes as _shapes
from .._net import wire as _wire
from .._net.cookie import curve_keys
from .._net.epmd.protocol import is_loopback
from .._net.pickling import TOO_DEEP, too_deep
from .._net.transport import DISCONNECTED, HANDSHAKE_FAILED, Transport
from .state import begin_batch, end_batch

log = logging.getLogger("pydist")

_SEND, _SEND_PID, _SEND_PID_SIZE, _MAX_ID = _wire.SEND, _wire.SEND_PID, _wire.SEND_PID_HEAD_SIZE, _wire.MAX_ID
_loads = _pickle.loads
_KIND = {
    name: getattr(_wire, name) for name in ("LINK", "UNLINK", "EXIT", "MONITOR", "DEMONITOR", "DOWN", "MONITOR_SEND")
}


def listen_address(name: str) -> str:
    """Where a node listens: all interfaces (other hosts dial it by its host name), except
    a node named after this host's loopback (``foo@localhost``, ``foo@127.0.0.1``), which
    no other host can reach by that name: it listens on 127.0.0.1 only (docs/deployment.md)."""
    host = name.split("@", 1)[1].strip("[]") if "@" in name else ""
    if host == "localhost" or (_names.is_ip(host) and ipaddress.ip_address(host).is_loopback):
        return "127.0.0.1"
    return "0.0.0.0"


class Peer:
    __slots__ = (
        "asked",
        "creation",
        "error",
        "granted",
        "hidden",
        "link",
        "node",
        "ready",
        "seq",
        "spawn_ids",
        "state",
    )

    def __init__(self, node: str):
        self.spawn_ids: deque = deque()  # [next, end) ranges of pid ids the peer set aside for us
        self.granted: deque = deque(maxlen=4)  # ranges we set aside for the peer
        self.asked = False
        self.node = node
        self.link: Any = None  # the Link once the handshake opened it
        self.creation: int | None = None
        self.state = "pending"
        self.ready = threading.Event()
        self.error: str | None = None
        self.seq = 0
        self.hidden = False  # a hidden connection: either end is a hidden node (Erlang's -hidden)


class _Waiter:
    __slots__ = ("event", "node", "on_reply", "result")

    def __init__(self, node, on_reply=None):
        self.node = node
        self.event = threading.Event()
        self.result = None
        self.on_reply = on_reply


class Distribution:
    def __init__(
        self, runtime, name: str, longnames: bool, cookie: str, ticktime: float, port_spec=None, hidden: bool = False
    ):
        self.rt = runtime
        self.name = name
        self.longnames = longnames
        self.hidden = hidden  # its connections are hidden: left out of Node.list(), never made transitive
        self.ticktime = ticktime
        self.connect_timeout = min(max(ticktime, 2.0), 7.0)
        self.peers: dict[str, Peer] = {}
        self.lock = threading.RLock()
        self._seq = 0
        self._waiters: dict[Ref, _Waiter] = {}
        self.node_watchers: list[tuple[str, Pid]] = []
        self.all_watchers: list[tuple[Pid, str, bool]] = []  # (pid, node_type, tagged) of monitor_nodes
        self._last_addr: dict[str, tuple[str, int]] = {}
        self._resolved: dict[str, tuple[str, float]] = {}  # peer host -> (address, when looked up)
        self._stale_sent: dict[str, float] = {}
        self._cookie_told: dict[str, float] = {}
        self.failures: dict[str, str] = {}  # node -> why the last connection attempt failed (for errors)
        self._noticed: dict[str, float] = {}  # who -> when its last notice was said
        self.sched = runtime.scheduler()
        self.transport = Transport(
            name,
            curve_keys(cookie),
            ticktime,
            port_spec,
            self._on_frame,
            self._on_link_event,
            self.sched,
            batch_hooks=(begin_batch, end_batch),
            listen=listen_address(name),
        )
        self.port = self.transport.port
        try:
            _nameserver.ensure_running()
            self.registration = _nameserver.register(
                _nameserver.split_name(name), self.port, node=name, on_notice=self._on_notice
            )
        except NameInUse:
            self.transport.close()
            raise NameInUse(
                f"the name {name} is already in use on this host (another node is "
                f"running as {name}; `pydist epmd --names` lists them); "
                "pick another --sname/--name"
            ) from None
        except BaseException:
            self.transport.close()
            raise

    # -- connecting -------------------------------------------------------------
    def in_io_thread(self) -> bool:
        """Whether the caller serves the sockets now (it must never wait on the network)."""
        return self.sched.polling_here()

    def connect(self, node: str, timeout: float | None = None) -> bool:
        """True once ``node`` is up (connecting if needed); never raises.

        A green process waits on a helper thread (the loop goes on meanwhile).
        """
        if node == self.name:
            return True
        peer = self.peers.get(node)
        if peer is not None and peer.state == "up":
            return True
        if self.sched.green_self() is not None:
            return self.sched.blocking(self._connect, node, timeout)
        return self._connect(node, timeout)

    def _connect(self, node: str, timeout: float | None) -> bool:
        timeout = self.connect_timeout if timeout is None else timeout
        try:
            name, host = _names.split(node)
        except ValueError:
            return False
        if self.longnames != _names.is_long_host(host):
            mine, theirs = ("long", "short") if self.longnames else ("short", "long")
            log.warning(
                "cannot connect to %s: this node uses %s names and %s is a %s name; "
                "nodes started with --name and --sname cannot talk to each other",
                node,
                mine,
                node,
                theirs,
            )
            return False
        with self.lock:
            peer = self.peers.get(node)
            if peer is not None:
                if peer.state == "up":
                    return True
                creator = False
            else:
                peer = self.peers[node] = Peer(node)
                peer.hidden = self.hidden
                creator = True
        if not creator or self.in_io_thread():
            if not self.in_io_thread():
                peer.ready.wait(timeout)
            return peer.state == "up"
        try:
            ip = _names.resolve(host)
            found = _nameserver.lookup_node(ip, name, timeout=min(timeout, 2.0))
        except (OSError, NameServerUnreachable) as err:
            log.debug("connect %s: %s", node, err)
            found = None
        if found is not None and found[1] is not None and found[1] != node:
            # foo@localhost for foo@vm: never dial it (a second DEALER with our routing id
            # would take over the live connection's place at the peer's ROUTER)
            self._wrong_name(node, found[1])
            found = None
        if found is None:
            self._forget(peer)
            return False
        port = found[0]
        self.transport.sched.call_io(self._ensure_link, peer, ip, port)
        hello = _wire.encode(
            _wire.HELLO,
            (
                self.name,
                self.rt.creation,
                self.port,
                self.longnames,
                [] if self.hidden else self.up_nodes(),
                _wire.PROTOCOL_VERSION,
                node,
                self.hidden,
            ),
        )
        if peer.link is not None:
            self.transport.send(peer.link, hello)
        peer.ready.wait(timeout)
        if peer.state != "up":
            self._forget(peer)
            return False
        return True

    def failure(self, node: str) -> str | None:
        """Why the last attempt to connect to ``node`` failed, when it is known (else None)."""
        return self.failures.get(node)

    def _wrong_name(self, dialled: str, real: str) -> None:
        self.failures[dialled] = f"the node there is called {real} (use that name)"
        log.warning(
            "could not connect to %s: the node there is called %s (use that name, e.g. Node.ping(%r))",
            dialled,
            real,
            real,
        )

    def _ensure_link(self, peer: Peer, ip: str, port: int) -> None:
        """On the I/O thread, so a crossing HELLO cannot open a second link."""
        if peer.link is None and peer.state != "down":
            peer.link = self.transport.open_link(peer.node, ip, port)
            self._last_addr[peer.node] = (ip, port)

    def _forget(self, peer: Peer) -> None:
        """Drop a connection attempt that never came up (no nodedown)."""
        with self.lock:
            if self.peers.get(peer.node) is peer and peer.state != "up":
                del self.peers[peer.node]
                peer.state = "down"
        peer.ready.set()
        if peer.link is not None and peer.state == "down":
            self.transport.close_link(peer.link)

    def _connect_many(self, nodes) -> None:
        todo = [n for n in nodes if n != self.name and n not in self.peers]
        if todo:
            threading.Thread(target=lambda: [self.connect(n) for n in todo], name="pydist-connect", daemon=True).start()

    def _mark_up(self, peer: Peer) -> None:
        with self.lock:
            if peer.state == "up":
                return
            peer.state = "up"
            self.failures.pop(peer.node, None)
            self._seq += 1
            peer.seq = self._seq
            watchers = list(self.all_watchers)
        peer.ready.set()
        self._tell_watchers(watchers, "nodeup", peer)

    def _tell_watchers(self, watchers, what: str, peer: Peer) -> None:
        kind = "hidden" if peer.hidden else "visible"
        for pid, node_type, tagged in watchers:
            if node_type == "all" or node_type == kind:
                self.rt.send(pid, (what, peer.node, {"node_type": kind}) if tagged else (what, peer.node))

    def up_nodes(self, kind: str = "visible") -> list[str]:
        """Connected nodes in connection order: ``visible`` ones (Node.list()),
        ``hidden`` ones, or all (``connected``)."""
        with self.lock:
            ups = [
                p
                for p in self.peers.values()
                if p.state == "up" and (kind == "connected" or p.hidden == (kind == "hidden"))
            ]
        return [p.node for p in sorted(ups, key=lambda p: p.seq)]

    def node_down(self, node: str, reason: str = "disconnected") -> None:
        with self.lock:
            peer = self.peers.pop(node, None)
            if peer is None:
                return
            was_up = peer.state == "up"
            peer.state = "down"
            waiters = [w for w in self._waiters.values() if w.node == node]
            watchers = [pid for n, pid in self.node_watchers if n == node]
            self.node_watchers = [(n, pid) for n, pid in self.node_watchers if n != node]
            all_watchers = list(self.all_watchers)
        peer.ready.set()
        if peer.link is not None:
            self.transport.close_link(peer.link)
        for w in waiters:
            w.event.set()
        if not was_up:
            return
        log.debug("node %s is down (%s)", node, reason)
        self.rt.node_down(node)
        for pid in watchers:
            self.rt.send(pid, ("nodedown", node))
        self._tell_watchers(all_watchers, "nodedown", peer)

    def disconnect(self, node: str) -> bool:
        with self.lock:
            peer = self.peers.get(node)
        if peer is None or peer.state != "up":
            return False
        self.transport.send(peer.link, _wire.encode(_wire.BYE, ("disconnect",)))
        self.node_down(node, "disconnect")
        return True

    def shutdown(self) -> None:
        """Leave the cluster: tell every peer at once, so they see us go now."""
        bye = _wire.encode(_wire.BYE, ("shutdown",))
        with self.lock:
            peers = list(self.peers.values())
        for peer in peers:
            if peer.link is not None and peer.state == "up":
                self.transport.send(peer.link, bye)
        try:
            self.registration.close()
        except Exception:
            pass
        time.sleep(0.05)  # let the BYE frames leave before the sockets close
        self.transport.close()

    # -- monitors of nodes -----------------------------------------------------
    def monitor_node(self, node: str, pid: Pid, flag: bool) -> bool:
        if not flag:
            with self.lock:
                for i, (n, p) in enumerate(self.node_watchers):
                    if n == node and p == pid:
                        del self.node_watchers[i]
                        break
            return True
        with self.lock:
            self.node_watchers.append((node, pid))
        if not self.connect(node):
            with self.lock:
                if (node, pid) in self.node_watchers:
                    self.node_watchers.remove((node, pid))
                    gone = True
                else:
                    gone = False
            if gone:
                self.rt.send(pid, ("nodedown", node))
        return True

    def forget_watcher(self, pid: Pid) -> None:
        """A process exited: its Node.monitor / monitor_nodes subscriptions go too."""
        if not (self.all_watchers or self.node_watchers):
            return
        with self.lock:
            self.all_watchers = [w for w in self.all_watchers if w[0] != pid]
            self.node_watchers = [(n, p) for n, p in self.node_watchers if p != pid]

    def monitor_nodes(self, pid: Pid, flag: bool, node_type: str = "visible", tagged: bool = False) -> None:
        """``("nodeup", n)``/``("nodedown", n)`` to ``pid`` for nodes of ``node_type``
        (``visible``, ``hidden`` or ``all``); ``tagged``: with ``{"node_type": …}`` as
        a third element (Erlang's form when options are given)."""
        with self.lock:
            entry = (pid, node_type, tagged)
            if flag:
                self.all_watchers.append(entry)
            elif entry in self.all_watchers:
                self.all_watchers.remove(entry)

    # -- sending ----------------------------------------------------------------
    def _link_for(self, node: str, connect: bool):
        peer = self.peers.get(node)
        if peer is not None and peer.state == "up":
            return peer.link
        if not connect or self.in_io_thread() or not self.connect(node):
            return None
        peer = self.peers.get(node)
        return peer.link if peer is not None else None

    def send_message(self, node: str, dest, msg) -> bool:
        try:
            if type(dest) is Pid and 0 <= dest.id <= _MAX_ID and 0 <= dest.creation <= _MAX_ID:
                frame = _wire.encode_send_pid(dest.id, dest.creation, msg)
            else:
                frame = _wire.encode(_wire.SEND, (dest, msg))
        except Exception as err:
            if too_deep(err):  # the depth, not a lock or a socket inside it
                raise TypeError(f"send: cannot send this message to {node}: it is {TOO_DEEP}") from None
            raise TypeError(
                f"send: cannot send this message to {node}: {err} (a message travels "
                "pickled: locks, sockets and open files cannot)"
            ) from None
        peer = self.peers.get(node)
        if peer is not None and peer.state == "up":  # the hot path: already connected
            return self.transport.send(peer.link, frame)
        link = self._link_for(node, connect=True)
        return link is not None and self.transport.send(link, frame)

    def send_signal(self, node: str, kind: str, payload: tuple) -> bool:
        link = self._link_for(node, connect=True)
        return link is not None and self.transport.send(link, _wire.encode(_KIND[kind], payload))

    def request(self, node: str, kind: int, payload_fn, timeout: float, on_reply=None):
        """Send a request tagged with a fresh ref and wait for its reply.

        Returns the reply, or None if the node is unreachable, went down or
        did not answer within ``timeout``. A green process waits on a helper
        thread, so the loop that will read the reply goes on meanwhile.
        """
        if self.sched.green_self() is not None:
            return self.sched.blocking(self._request, node, kind, payload_fn, timeout, on_reply)
        return self._request(node, kind, payload_fn, timeout, on_reply)

    def _request(self, node: str, kind: int, payload_fn, timeout: float, on_reply=None):
        link = self._link_for(node, connect=True)
        if link is None:
            return None
        ref = self.rt.make_ref()
        w = _Waiter(node, on_reply)
        with self.lock:
            self._waiters[ref] = w
        try:
            if not self.transport.send(link, _wire.encode(kind, payload_fn(ref))):
                return None
            w.event.wait(timeout)
            return w.result
        finally:
            with self.lock:
                self._waiters.pop(ref, None)

    def ping(self, node: str) -> str:
        if node == self.name:
            return "pong"
        ok = self.request(node, _wire.PING, lambda ref: (ref,), self.connect_timeout)
        return "pong" if ok else "pang"

    # -- receiving (I/O thread) -------------------------------------------------
    def _on_frame(self, sender: str, frame: bytes) -> None:
        # The hot paths, one frame a message from a peer that is up: a SEND_PID (to a
        # pid: every reply), or a SEND to a name or a pid. Checked as shapes.valid would;
        # anything else takes the general path below.
        if frame and frame[0] == _SEND_PID and len(frame) > _SEND_PID_SIZE:
            peer = self.peers.get(sender)
            if peer is not None and peer.state == "up":
                try:
                    kind, (id_, creation, msg) = _wire.decode(frame)
                except Exception:  # a truncated pickle ...
                    self._malformed(sender, _SEND_PID)
                    return
                self.rt.deliver_id(id_, creation, msg)
                return
        elif frame and frame[0] == _SEND:
            peer = self.peers.get(sender)
            if peer is not None and peer.state == "up":  # (else the general path tells it so)
                try:
                    payload = _loads(memoryview(frame)[1:])
                except Exception:
                    payload = None
                if type(payload) is tuple and len(payload) == 2:
                    dest = payload[0]
                    if type(dest) is Pid:
                        self.rt.deliver_id(dest.id, dest.creation, payload[1])
                        return
                    if type(dest) is str and 0 < len(dest) <= _shapes.MAX_NAME:
                        self.rt.deliver_local(dest, payload[1])
                        return
        try:
            kind, payload = _wire.decode(frame)
        except Exception:  # a pid or ref with fields of the wrong type, a truncated pickle ...
            self._malformed(sender, frame[0] if frame else -1)
            return
        if not _shapes.valid(kind, payload):  # before any field is used (a hash could crash us)
            self._malformed(sender, kind)
            return
        if kind == _wire.HELLO:
            self._on_hello(sender, payload)
            return
        if kind == _wire.HELLO_ACK:
            name, creation, others = payload[:3]
            peer = self.peers.get(sender)
            if peer is not None and name == sender and peer.state == "pending":
                peer.creation = creation
                peer.hidden = self.hidden or (len(payload) > 3 and payload[3] is True)
                self._mark_up(peer)
                self._grant_pid_block(peer)
                if not peer.hidden:  # hidden connections are never made transitive
                    self._connect_many(others)
            return
        peer = self.peers.get(sender)
        if kind == _wire.BYE and len(payload) == 3 and payload[0] == "wrong name":
            alias = self.peers.get(payload[2])  # we dialled it by another name: never a nodedown of sender
            if alias is not None and alias.state == "pending":
                self._wrong_name(payload[2], sender)
                self._forget(alias)
            return
        if peer is None or peer.state != "up":
            if kind == _wire.BYE and peer is not None:
                peer.error = payload[0]
                self._forget(peer)
            elif kind != _wire.BYE:
                self._tell_stale(sender)
            return
        rt = self.rt
        if kind == _wire.SEND:
            rt.deliver_local(payload[0], payload[1])
        elif kind == _wire.SEND_PID:
            rt.deliver_id(*payload)
        elif kind == _wire.SPAWN_AT:
            self._on_spawn_at(peer, payload)
        elif kind == _wire.SPAWN:
            self._on_spawn(sender, payload)
        elif kind == _wire.PID_BLOCK:
            with self.lock:
                peer.spawn_ids.append([payload[0], payload[0] + payload[1]])
                peer.asked = False
        elif kind == _wire.PID_BLOCK_REQ:
            self._grant_pid_block(peer)
        elif kind in (_wire.SPAWN_REPLY, _wire.PONG):
            w = self._waiters.get(payload[0])
            if w is not None:
                w.result = payload[1] if kind == _wire.SPAWN_REPLY else True
                if w.on_reply is not None:
                    w.on_reply(w.result)
                w.event.set()
        elif kind == _wire.PING:
            self.transport.send(peer.link, _wire.encode(_wire.PONG, (payload[0],)))
        elif kind == _wire.LINK:
            rt.remote_link(*payload)
        elif kind == _wire.UNLINK:
            p = rt.local_proc(payload[1])
            if p is not None:
                p.drop_link(payload[0])
        elif kind == _wire.EXIT:
            rt.exit_signal(payload[1], payload[0], payload[2], payload[3])
        elif kind == _wire.MONITOR:
            rt.remote_monitor(*payload)
        elif kind == _wire.MONITOR_SEND:  # a call: the monitor and the request in one frame
            watcher, target, ref, msg = payload
            rt.remote_monitor(watcher, target, ref)
            rt.deliver_local(target, msg)
        elif kind == _wire.DEMONITOR:
            rt.remote_demonitor(*payload)
        elif kind == _wire.DOWN:
            ref, watcher, as_target, reason = payload
            rt.deliver_down(watcher, ref, as_target, reason)
        elif kind == _wire.BYE:
            self.node_down(sender, payload[0])

    def _malformed(self, sender: str, kind: int) -> None:
        now = time.monotonic()
        key = f"{sender}/{kind}"
        if now - self._noticed.get(key, -1e9) >= 60.0:
            self._noticed[key] = now
            log.warning(
                "dropped a malformed %s frame from %s (a peer with the cookie sent fields of the wrong "
                "shape or nested too deep; is it a pydist node of this version?)",
                _wire.NAMES.get(kind, f"kind-{kind}"),
                sender[:300].encode("ascii", "backslashreplace").decode(),
            )

    RESOLVED_FOR = 60.0  # seconds a peer host's address is reused before it is looked up again

    def _on_hello(self, sender: str, payload) -> None:
        """A node dials us (on the loop). Its host is looked up on a pooled
        thread the first time: a DNS server that does not answer would hold
        the loop, and every process of this node with it, for seconds."""
        if len(payload) not in (7, 8) or payload[5] != _wire.PROTOCOL_VERSION or payload[0] != sender:
            log.warning("ignored a connection from %s: it speaks another pydist protocol", sender)
            return
        _, host = _names.split(payload[0])
        known = self._resolved.get(host)
        if _names.is_ip(host.strip("[]")):
            self._hello(payload, _names.resolve(host))  # an address: nothing to look up
        elif known is not None and time.monotonic() - known[1] < self.RESOLVED_FOR:
            self._hello(payload, known[0])
        else:
            try:
                self.rt.pool.submit(lambda: self._resolve_for_hello(payload, host))
            except RuntimeError:  # no thread to spare: look it up here after all
                self._resolve_for_hello(payload, host)

    def _resolve_for_hello(self, payload, host: str) -> None:
        """On a pooled thread: look ``host`` up, then finish the HELLO on the loop."""
        try:
            ip, err = _names.resolve(host), None
        except OSError as e:
            ip, err = None, e
        # where the sockets are served: the loop, or the standby while a process holds it
        self.sched.post_io(self._hello_resolved, payload, host, ip, err)

    def _hello_resolved(self, payload, host: str, ip, err) -> None:
        if ip is None:  # we cannot answer a node we cannot find: say why, here
            log.warning(
                "refused a connection from %s: its host %s does not resolve on this host "
                "(%s); fix DNS or /etc/hosts here, or name that node by its IP address",
                payload[0],
                host,
                getattr(err, "strerror", None) or err,
            )
            return
        self._resolved[host] = (ip, time.monotonic())
        self._hello(payload, ip)

    def _hello(self, payload, ip: str) -> None:
        name, creation, port, longnames, others, _version, target = payload[:7]
        hidden = self.hidden or (len(payload) > 7 and payload[7] is True)
        self._last_addr[name] = (ip, port)
        if target != self.name:
            # dialled as another name that reaches us (foo@localhost for foo@vm): no half
            # connection; tell the caller our real name so it can say so at once
            bye = _wire.encode(_wire.BYE, ("wrong name", self.name, target))
            known = self.peers.get(name)
            if known is not None and known.state == "up":
                self.transport.send(known.link, bye)  # a second link would take the live one's place
            else:
                self._send_once(name, bye)
            return
        if longnames != self.longnames:
            mine = "long (--name)" if self.longnames else "short (--sname)"
            log.warning(
                "refused a connection from %s: this node uses %s names; "
                "nodes started with --name and --sname cannot talk to each other",
                name,
                mine,
            )
            self._send_once(name, _wire.encode(_wire.BYE, ("refused: long and short names",)))
            return
        with self.lock:
            peer = self.peers.get(name)
            if peer is not None and peer.state == "up" and peer.creation != creation:
                restarted = True
            else:
                restarted = False
        if restarted:
            self.node_down(name, "restarted")
            peer = None
        with self.lock:
            peer = self.peers.get(name)
            if peer is None:
                peer = self.peers[name] = Peer(name)
        self._ensure_link(peer, ip, port)
        peer.creation = creation
        peer.hidden = hidden
        ack = (self.name, self.rt.creation, [] if hidden else self.up_nodes(), self.hidden)
        self.transport.send(peer.link, _wire.encode(_wire.HELLO_ACK, ack))
        self._mark_up(peer)
        self._grant_pid_block(peer)
        if not hidden:  # hidden connections are never made transitive
            self._connect_many(others)

    def _send_once(self, node: str, frame: bytes) -> None:
        addr = self._last_addr.get(node)
        if addr is None:
            return
        link = self.transport.open_link(node, addr[0], addr[1])
        self.transport.send(link, frame)
        self.transport.close_link(link)

    def _tell_stale(self, node: str) -> None:
        """A peer we consider down still talks to us: tell it, so it drops us too."""
        now = time.monotonic()
        if now - self._stale_sent.get(node, 0.0) < 1.0:
            return
        self._stale_sent[node] = now
        self._send_once(node, _wire.encode(_wire.BYE, ("not connected",)))

    # -- spawning without a round trip -----------------------------------------
    # Each node sets aside blocks of its pid ids for each peer. A peer that
    # holds ids of ours spawns here by naming the id: Node.spawn returns the
    # pid at once, and the SPAWN_AT frame travels ahead of anything sent to it.
    PID_BLOCK_SIZE = 1024

    def _grant_pid_block(self, peer: Peer) -> None:
        start = self.rt.reserve_ids(self.PID_BLOCK_SIZE)
        peer.granted.append((start, start + self.PID_BLOCK_SIZE))
        self.transport.send(peer.link, _wire.encode(_wire.PID_BLOCK, (start, self.PID_BLOCK_SIZE)))

    def take_spawn_id(self, node: str):
        """(pid id, peer) to spawn on ``node`` without asking, or (None, None)."""
        peer = self.peers.get(node)
        if peer is None or peer.state != "up" or not peer.spawn_ids:
            return None, None
        with self.lock:
            if not peer.spawn_ids:
                return None, None
            r = peer.spawn_ids[0]
            pid_id = r[0]
            r[0] += 1
            if r[0] >= r[1]:
                peer.spawn_ids.popleft()
            ask = not peer.asked and sum(e - n for n, e in peer.spawn_ids) < self.PID_BLOCK_SIZE // 2
            if ask:
                peer.asked = True
        if ask:
            self.transport.send(peer.link, _wire.encode(_wire.PID_BLOCK_REQ, ()))
        return pid_id, peer

    def spawn_at(self, peer: Peer, payload: tuple) -> bool:
        return self.transport.send(peer.link, _wire.encode_envelope(_wire.SPAWN_AT, payload))

    def _on_spawn_at(self, peer: Peer, payload) -> None:
        caller, gl, body, link, mref, pid_id = payload[:6]
        thread = len(payload) > 6 and payload[6] is True
        if not any(lo <= pid_id < hi for lo, hi in peer.granted):
            log.warning("ignored a spawn from %s with a pid id this node did not set aside", peer.node)
            return
        self._spawn_here(
            peer.node,
            group_leader=gl,
            link=caller if link else None,
            monitor=(mref, caller) if mref is not None else None,
            payload=body,
            pid_id=pid_id,
            thread=thread,
        )

    def _on_spawn(self, sender: str, payload) -> None:
        ref, caller, gl, body, link, mref = payload[:6]
        thread = len(payload) > 6 and payload[6] is True

        def reply(pid):
            self.transport.send(self.peers[sender].link, _wire.encode(_wire.SPAWN_REPLY, (ref, pid)))

        self._spawn_here(
            sender,
            group_leader=gl,
            link=caller if link else None,
            monitor=(mref, caller) if mref is not None else None,
            payload=body,
            before_start=reply,
            thread=thread,
        )

    def _spawn_here(self, sender: str, **how) -> None:
        try:
            self.rt.spawn(None, (), **how)
        except SystemLimit as err:  # its link/monitor never fire: the caller's timeout or DOWN says so
            log.warning("could not start a process for %s: %s", sender, err)

    def _on_link_event(self, link, event: int) -> None:
        peer = self.peers.get(link.node)
        if peer is None or peer.link is not link:
            return
        if event & HANDSHAKE_FAILED:
            if peer.state == "pending":
                peer.error = "cookie"
                self.failures[link.node] = (
                    "the cookies differ (use the same --cookie, $PYDIST_COOKIE or ~/.pydist.cookie on both)"
                )
                self._forget(peer)
                # a cluster strategy retries every few seconds: say it once a minute, not each time
                now = time.monotonic()
                if now - self._cookie_told.get(link.node, -1e9) >= 60.0:
                    self._cookie_told[link.node] = now
                    log.warning(
                        "could not connect to %s: the cookies differ (this node's cookie is "
                        "not %s's; use the same --cookie, $PYDIST_COOKIE or ~/.pydist.cookie "
                        "on both)",
                        link.node,
                        link.node,
                    )
                    self._notify_mismatch(link.node)
            else:
                self.node_down(link.node, "handshake failed")
        elif event == DISCONNECTED and peer.state == "up":
            self.node_down(link.node, "connection closed")

    def _notify_mismatch(self, node: str) -> None:
        addr = self._last_addr.get(node)
        if addr is None or not is_loopback(addr):
            return  # a name server takes NOTIFY from its own host only: a peer elsewhere is not told
        name = _nameserver.split_name(node)
        threading.Thread(
            target=_nameserver.notify, args=(addr[0], name, f"cookie-mismatch {self.name}"), daemon=True
        ).start()

    def _on_notice(self, text: str) -> None:
        # any process of this host can send a notice through the name server: believe only a
        # well-formed node name (no forged text or terminal escape reaches the screen), and
        # say each one at most once a minute (a flood of notices is one line)
        kind, _, who = text.partition(" ")
        try:
            _names.split(who)
        except ValueError:
            return
        now = time.monotonic()
        if now - self._noticed.get(who, -1e9) < 60.0:
            return
        if len(self._noticed) > 1000:
            self._noticed.clear()
        self._noticed[who] = now
        if kind == "cookie-mismatch":
            log.warning(
                "connection attempt from node %s rejected: its cookie differs from this "
                "node's (use the same --cookie, $PYDIST_COOKIE or ~/.pydist.cookie on both)",
                who[:300],
            )
