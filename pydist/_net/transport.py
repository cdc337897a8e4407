"""ZeroMQ sockets, served by the node's loop.

Shape (the zguide's peer pattern): each node binds one ROUTER for all
incoming traffic and opens one DEALER per peer for outgoing traffic, with
``routing_id`` = its own node name, so everything from A to B rides A's
DEALER and stays in order. Both ends use CURVE keys derived from the cookie
and a ZAP handler admits only that key: nothing reaches ``recv`` from a peer
that does not hold the cookie.

Threads: the transport has no thread of its own. The ROUTER and every
DEALER's monitor socket are readers of the node's scheduler (its loop
thread polls them, or the standby thread while a green process holds the
loop; ``io_lock`` keeps it to one at a time); creating and closing DEALERs
is socket work run where the sockets are served (``call_io``). Any thread
may *send* on a DEALER while holding that link's lock (nobody polls
DEALERs), which keeps a send free of thread hand-offs.

Batching: a frame sent on the loop thread (by a green process, or by the
loop itself) leaves at once when it is the latency case — no other process
is ready to run and it is the first frame of this slice to that peer (a
request, a reply). Otherwise it waits in its link's outbox until the loop
is about to poll, and everything a link gathered meanwhile leaves as one
BATCH frame (each part length-prefixed); the receiver splits it and
handles the parts in order. Under load that is one ZeroMQ message, one
encryption and one read for up to ``BATCH_FRAMES`` messages.
A green process that fills an outbox sends it at once (and waits there at
the high-water mark, as an unbatched send does); a process that holds the
loop has its outbox sent by the standby thread. Frames from other threads
(thread processes, the standby) go out at once, unless the link's outbox
holds frames: then they queue behind them, so the links and monitors a
thread fires for a green process it killed do not overtake that process's
last messages. Order is kept per sender, as Erlang promises.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from .._base.errors import PydistError
from . import wire as _wire

log = logging.getLogger("pydist.transport")

_LINK_EVENTS = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_DISCONNECTED
)
DISCONNECTED = zmq.EVENT_DISCONNECTED
HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


BATCH = _wire.BATCH
BATCH_FRAMES = 256  # frames an outbox gathers before it is sent at once
BATCH_BYTES = 64 * 1024  # ... or bytes
# ZeroMQ's high-water mark counts messages, and a batch is one: a DEALER queues at
# most SNDHWM of them for a peer that does not read, then senders wait. With batches
# of at most 64 KiB that bounds a stopped peer's backlog at 640 MB whatever the
# message size (200,000 single frames of up to 64 KiB could hold 12.8 GB), and
# unbatched senders still have room for any burst the receiver keeps up with.
SNDHWM = 10_000
BIG_FRAME = 64 * 1024  # a frame this big is never copied into a batch


class Link:
    """The outgoing DEALER to one peer, usable from any thread under ``lock``.

    ``outbox`` holds frames sent on the loop thread, not yet handed to the
    DEALER (see the module docstring); it changes only under ``lock``."""

    __slots__ = ("closed", "dealer", "endpoint", "lock", "mark", "monitor", "node", "outbox", "outbytes")

    def __init__(self, node: str, endpoint: str):
        self.node = node
        self.endpoint = endpoint
        self.dealer: Any = None  # a zmq DEALER once opened
        self.monitor: Any = None  # its monitor socket
        self.lock = threading.Lock()
        self.closed = False
        self.outbox: list[bytes] = []
        self.outbytes = 0
        self.mark = -1.0  # the scheduler slice that last sent a frame on here at once


def _queue(link: Link, frame: bytes, dirty: set) -> None:
    """Append ``frame`` to ``link``'s outbox (under ``link.lock``)."""
    link.outbox.append(frame)
    link.outbytes += len(frame)
    dirty.add(link)


def _pack(frames: list[bytes]) -> bytes:
    """One BATCH frame holding ``frames`` in order."""
    parts = [bytes((BATCH,))]
    for f in frames:
        parts.append(len(f).to_bytes(4, "big"))
        parts.append(f)
    return b"".join(parts)


class _CookieKeyOnly:
    """ZAP credentials provider: admit exactly the cookie's public key."""

    def __init__(self, public_z85: bytes):
        self._public = public_z85

    def callback(self, domain, key) -> bool:
        # pyzmq hands the client's key over z85-encoded
        return hmac.compare_digest(key, self._public)


_send: Any = zmq.backend.Socket.send  # the Cython method: bytes in, no sugar on the hot path
_NOBLOCK = zmq.NOBLOCK


def _name(names: dict, ident: bytes) -> str:
    if len(names) > 10_000:
        names.clear()
    name = names[ident] = ident.decode("utf-8", "replace")
    return name


class Transport:
    """Owns the ZeroMQ context; calls ``on_frame(node, frame)`` and
    ``on_link_event(link, event)`` where the scheduler serves the sockets."""

    def __init__(
        self,
        own_name: str,
        keys: tuple[bytes, bytes],
        ticktime: float,
        port_spec: tuple[int, int] | None,
        on_frame,
        on_link_event,
        sched,
        batch_hooks=(lambda: None, lambda: None),
        listen: str = "0.0.0.0",
    ):
        self.own_name = own_name
        self.listen = listen  # the address the ROUTER binds: all interfaces, or loopback only
        # called around each burst of incoming frames (the runtime defers wake-ups)
        self.begin_batch, self.end_batch = batch_hooks
        self._pub, self._sec = keys
        self.ticktime = ticktime
        self._on_frame = on_frame
        self._on_link_event = on_link_event
        self.sched = sched
        self.ctx = zmq.Context()
        self._auth = ThreadAuthenticator(self.ctx, log=logging.getLogger("pydist.zap"))
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=_CookieKeyOnly(self._pub))
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.curve_server = True
        self.router.curve_publickey = self._pub
        self.router.curve_secretkey = self._sec
        self.router.router_handover = 1
        self.router.rcvhwm = 200_000
        self.router.linger = 0
        try:
            self.port = self._bind(port_spec)
        except BaseException:  # no node after all: leave no ZAP thread or context behind
            self._auth.stop()
            self.ctx.destroy(linger=0)
            raise
        self._names: dict = {}  # routing id -> node name, decoded once
        self._running = True
        self._dirty: set[Link] = set()  # links with frames in their outbox (changed under link.lock)
        self._loop_ident = sched.ident
        self._runq = sched._runq  # ready processes: when there are none, a lone frame goes at once
        self._router_item = [(self.router, zmq.POLLIN)]  # "is there more?" without pyzmq's enums
        sched.flush = self.flush
        sched.call_io(sched.add_reader, self.router, self._read_router)

    def _bind(self, port_spec) -> int:
        if port_spec is None:
            return self.router.bind_to_random_port(f"tcp://{self.listen}")
        low, high = port_spec
        last_err = None
        for port in range(low, high + 1):
            try:
                self.router.bind(f"tcp://{self.listen}:{port}")
                return port
            except zmq.ZMQError as err:
                last_err = err
        raise PydistError(
            f"no free port for this node in {low}-{high} "
            f"({last_err.strerror if last_err else 'empty range'}); "
            f"give --port another port or range, or stop what uses it"
        )

    # -- called from any thread -------------------------------------------
    def open_link(self, node: str, ip: str, port: int) -> Link:
        """A DEALER to ``node`` (made where the sockets are served)."""
        return self.sched.call_io(self._open_link, node, f"tcp://{ip}:{port}")

    def close_link(self, link: Link) -> None:
        with link.lock:
            if link.closed:
                return
            link.closed = True
        if self._running:
            self.sched.post_io(self._close_link, link)

    def send(self, link: Link, frame: bytes) -> bool:
        """Queue ``frame`` for the peer; False if the link is closed."""
        if _get_ident() == self._loop_ident:
            if len(frame) < BIG_FRAME:
                with link.lock:
                    if link.closed:
                        return False
                    box = link.outbox
                    if not box and not self._runq and link.mark != self.sched.slice_start:
                        # the latency case (a request, a reply): nothing else is ready to run
                        # and this is the slice's first frame to the peer, so it leaves now
                        link.mark = self.sched.slice_start
                        try:
                            _send(link.dealer, frame, _NOBLOCK, len(frame) < 4096)
                            return True
                        except zmq.ZMQError:
                            pass  # a full queue (or a closing socket): the outbox handles it
                    _queue(link, frame, self._dirty)
                    if len(box) < BATCH_FRAMES and link.outbytes < BATCH_BYTES:
                        return True
                # a full outbox leaves now; at the high-water mark it stays, in order, for
                # the next poll (the loop itself never waits; a green process does, here)
                self._flush_link(link, wait=True)
                return not link.closed
            # a big frame goes alone, after what the outbox holds
            if not self._flush_link(link, wait=True):
                with link.lock:
                    if link.closed:
                        return False
                    if link.outbox:  # still full: it queues behind them
                        _queue(link, frame, self._dirty)
                        return True
        return self._send_now(link, frame)

    def _send_now(self, link: Link, frame: bytes) -> bool:
        while True:
            with link.lock:
                if link.closed:
                    return False
                box = link.outbox
                if box and (len(box) < BATCH_FRAMES or self.sched.polling_here()):
                    # the loop's frames go first: what another thread sends for a green
                    # process (the links and monitors of one it killed) must not overtake
                    # what that process sent; the outbox leaves before the loop next polls
                    _queue(link, frame, self._dirty)
                    return True
                if not box:  # (a full outbox: wait below for the loop to send it)
                    try:
                        _send(link.dealer, frame, _NOBLOCK, len(frame) < 4096)
                        return True
                    except zmq.Again:
                        # high-water mark: a process waits for the peer to drain (outside the
                        # lock); the loop itself must never wait, or nodedown could not be seen
                        if self.sched.polling_here():
                            log.warning("pydist: dropped a frame to %s: its queue is full", link.node)
                            return False
                    except zmq.ZMQError:
                        return False
            p = self.sched.green_self()
            if p is not None:
                self.sched.yield_now(p)  # others run (and the loop polls) meanwhile
            else:
                time.sleep(0.001)

    def flush(self) -> bool:
        """Send every outbox (the loop, before it polls; the standby, while a
        process holds the loop); True if some frames had to stay (a full queue)."""
        if not self._dirty:
            return False
        left = False
        for link in list(self._dirty):
            if not self._flush_link(link, wait=False):
                left = left or bool(link.outbox)
        return left

    def _flush_link(self, link: Link, wait: bool) -> bool:
        """Hand ``link``'s outbox to its DEALER; False if frames stayed (a full
        queue and ``wait`` false, or only the loop itself could wait) or the
        link is gone. ``wait``: a green process yields until the peer drains."""
        while True:
            with link.lock:
                frames = link.outbox
                if not frames:
                    self._dirty.discard(link)
                    return not link.closed
                frame = frames[0] if len(frames) == 1 else _pack(frames)
                try:
                    _send(link.dealer, frame, _NOBLOCK, len(frame) < 4096)
                except zmq.Again:
                    pass  # high-water mark: the frames stay, in order
                except zmq.ZMQError:
                    link.outbox, link.outbytes = [], 0  # the socket is gone: so are they
                    self._dirty.discard(link)
                    return False
                else:
                    link.outbox, link.outbytes = [], 0
                    self._dirty.discard(link)
                    return True
            p = self.sched.green_self()
            if not wait or p is None:
                return False  # the loop and the standby never wait: the next poll tries again
            self.sched.yield_now(p)  # others run (and the loop polls) meanwhile

    def close(self) -> None:
        if not self._running:
            return
        self._running = False
        try:
            self.sched.call_io(self._unregister, timeout=3.0)
        except TimeoutError:
            pass
        try:
            self._auth.stop()
        except Exception:
            pass
        self.ctx.destroy(linger=0)

    # -- where the sockets are served -------------------------------------------
    def _unregister(self) -> None:
        self.flush()  # what the loop gathered last (the node is leaving: BYE frames)
        self.sched.remove_reader(self.router)
        for mon in [s for s, cb in list(self.sched._readers.items()) if getattr(cb, "_pydist_link", None)]:
            self.sched.remove_reader(mon)

    def _open_link(self, node: str, endpoint: str) -> Link:
        link = Link(node, endpoint)
        if not self._running:  # the transport is closing: a closed link, never a socket left open
            link.closed = True
            return link
        d = self.ctx.socket(zmq.DEALER)
        d.routing_id = self.own_name.encode()
        d.curve_serverkey = self._pub
        d.curve_publickey = self._pub
        d.curve_secretkey = self._sec
        # libzmq starts the timeout at the first PING after the last frame
        # received, up to one interval later: timeout = ticktime - ivl keeps
        # detection of a silent peer within [3/4, 1] x ticktime, as promised.
        ivl = max(50, int(self.ticktime * 1000 / 4))
        d.heartbeat_ivl = ivl
        d.heartbeat_timeout = max(ivl, int(self.ticktime * 1000) - ivl)
        d.heartbeat_ttl = int(self.ticktime * 1000)
        d.sndhwm = SNDHWM
        d.linger = 500
        d.reconnect_ivl = 100
        link.monitor = d.get_monitor_socket(_LINK_EVENTS)

        def on_event(link=link):
            return self._read_monitor(link)

        on_event._pydist_link = True  # type: ignore[attr-defined]
        self.sched.add_reader(link.monitor, on_event)
        d.connect(endpoint)
        link.dealer = d
        return link

    def _close_link(self, link: Link) -> None:
        with link.lock:  # what was sent before the close leaves first (a BYE, a _send_once)
            frames, link.outbox, link.outbytes = link.outbox, [], 0
            self._dirty.discard(link)
            if frames and link.dealer is not None:
                try:
                    _send(link.dealer, frames[0] if len(frames) == 1 else _pack(frames), _NOBLOCK, False)
                except zmq.ZMQError:
                    pass
        mon = link.monitor
        if mon is not None and mon in self.sched._readers:
            self.sched.remove_reader(mon)
            try:
                link.dealer.disable_monitor()
            except zmq.ZMQError:
                pass
            mon.close(linger=0)
        if link.dealer is not None:
            link.dealer.close(linger=200)

    def _read_router(self) -> bool:
        # Drain what arrived; the router's FD signals changes only, so this reads until
        # the socket says it is empty (or returns True: call again, a burst was cut short).
        # Cheap questions only: a payload received as a Frame carries ``more`` (pyzmq's
        # getsockopt goes through Python enums, several µs on a cold cache), and "is there
        # more?" is a zero-timeout zmq_poll of the router (zmq.Again builds an exception).
        router = self.router
        recv = router.recv
        item = self._router_item
        on_frame = self._on_frame
        names = self._names
        self.begin_batch()
        try:
            for n in range(1000):
                if n and not _zmq_poll(item, 0):
                    return False
                try:
                    ident = recv(_NOBLOCK)
                except zmq.Again:
                    return False
                part = recv(0, False)  # the parts of one message arrive together
                if part.more:
                    while recv(0, False).more:
                        pass  # an authenticated peer sent a shape we never send
                    continue
                frame = part.bytes
                sender = names.get(ident) or _name(names, ident)
                if frame and frame[0] == BATCH:
                    self._unpack(sender, frame, on_frame)
                    continue
                try:
                    on_frame(sender, frame)
                except BaseException:  # SystemExit included: one bad frame never stops the loop
                    log.exception("pydist: dropped a message that could not be handled")
            return True
        finally:
            self.end_batch()

    @staticmethod
    def _unpack(sender: str, frame: bytes, on_frame) -> None:
        """Handle the parts of a BATCH frame in order. A length that runs past
        the end, or a batch inside a batch, hands the rest over as one frame:
        it fails to decode and is reported and dropped like any malformed frame."""
        view = memoryview(frame)
        pos, end = 1, len(frame)
        while pos < end:
            start = pos + 4
            n = int.from_bytes(view[pos:start], "big")
            pos = start + n
            part = view[start:pos]
            if pos > end or n == 0 or part[0] == BATCH:
                part, pos = view[pos - n - 4 : end], end
            try:
                on_frame(sender, part)
            except BaseException:  # SystemExit included: one bad frame never stops the loop
                log.exception("pydist: dropped a message that could not be handled")

    def _read_monitor(self, link: Link) -> bool:
        """Every event the monitor holds (its FD signals changes only); True: more may wait."""
        for _ in range(100):
            mon = link.monitor
            if mon is None or mon.closed:  # the event closed the link
                return False
            try:
                event = recv_monitor_message(mon, zmq.NOBLOCK)
            except zmq.ZMQError:  # zmq.Again included: read to the end
                return False
            try:
                self._on_link_event(link, event["event"])
            except BaseException:  # SystemExit included: the next events must still be read
                log.exception("pydist: error while handling a connection event")
        return True


_get_ident = threading.get_ident
_zmq_poll = zmq.zmq_poll
