"""The loop polls file descriptors, and a ZeroMQ socket's FD signals changes only.

So a reader drains its socket, or returns True to be called again before the
loop blocks; a reader added after messages arrived is called once at once.
Real sockets on loopback and the real loop thread: a reader that missed an
edge would leave messages waiting, and these tests would time out.
"""

import random
import threading
import time

import pytest
import zmq

from pydist._core.scheduler import Scheduler

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def loop_and_pair():
    sched, ctx = Scheduler(), zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    yield sched, router, dealer
    sched.call_io(sched.remove_reader, router)
    sched.stop()
    ctx.destroy(linger=0)


def _collector(router, got: list, want: int, done: threading.Event, one_at_a_time: bool):
    item = [(router, zmq.POLLIN)]

    def read():
        for n in range(1 if one_at_a_time else 1_000_000):
            if n and not zmq.zmq_poll(item, 0):
                return False
            try:
                router.recv(zmq.NOBLOCK)
            except zmq.Again:
                return False
            got.append(router.recv())
            if len(got) == want:
                done.set()
        return True  # cut short: more may be waiting

    return read


def test_a_reader_that_stops_after_each_message_is_called_again(loop_and_pair):
    sched, router, dealer = loop_and_pair
    got: list = []
    done = threading.Event()
    sched.call_io(sched.add_reader, router, _collector(router, got, 3000, done, one_at_a_time=True))
    for i in range(3000):
        dealer.send(b"%d" % i)
    assert done.wait(60), f"{len(got)} of 3000 messages read"
    assert got == [b"%d" % i for i in range(3000)]


def test_a_draining_reader_sees_every_burst_while_the_loop_sleeps(loop_and_pair):
    sched, router, dealer = loop_and_pair
    got: list = []
    done = threading.Event()
    sched.call_io(sched.add_reader, router, _collector(router, got, 2000, done, one_at_a_time=False))
    rng = random.Random(7)
    sent = 0
    while sent < 2000:  # bursts of 1-100 messages, the loop asleep in poll between them
        for _ in range(min(rng.randint(1, 100), 2000 - sent)):
            dealer.send(b"%d" % sent)
            sent += 1
        time.sleep(rng.choice((0, 0.001, 0.02)))
        assert len(got) <= sent
    assert done.wait(60), f"{len(got)} of 2000 messages read"
    assert got == [b"%d" % i for i in range(2000)]


def test_a_reader_added_after_messages_arrived_reads_them(loop_and_pair):
    sched, router, dealer = loop_and_pair
    for i in range(10):
        dealer.send(b"%d" % i)
    deadline = time.monotonic() + 30
    while not zmq.zmq_poll([(router, zmq.POLLIN)], 100) and time.monotonic() < deadline:
        pass  # they are in the socket before the reader exists
    got: list = []
    done = threading.Event()
    sched.call_io(sched.add_reader, router, _collector(router, got, 10, done, one_at_a_time=False))
    assert done.wait(30), f"{len(got)} of 10 messages read"


def test_a_reader_that_raises_is_read_again(loop_and_pair, caplog):
    # Its socket may hold more and will not signal again: the loop retries it soon.
    sched, router, dealer = loop_and_pair
    got: list = []
    done = threading.Event()
    read = _collector(router, got, 499, done, one_at_a_time=False)
    failed = []

    def flaky():
        if not failed:
            failed.append(True)
            router.recv(zmq.NOBLOCK)
            router.recv()  # the commands are taken, the FD is quiet, and then it fails
            raise RuntimeError("a reader's bug")
        return read()

    for i in range(500):
        dealer.send(b"%d" % i)
    time.sleep(0.2)
    sched.call_io(sched.add_reader, router, flaky)
    assert done.wait(30), f"{len(got)} of the 499 messages after the failure read"
    assert got == [b"%d" % i for i in range(1, 500)]


def _thread_cpu(thread: threading.Thread) -> float:
    """Seconds of CPU ``thread`` has used (Linux: its /proc stat's utime + stime)."""
    import os

    with open(f"/proc/self/task/{thread.native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_socket_closed_while_registered_is_dropped_not_spun_on(caplog):
    sched, ctx = Scheduler(), zmq.Context()
    try:
        sock = ctx.socket(zmq.PULL)
        sock.bind_to_random_port("tcp://127.0.0.1")
        sched.call_io(sched.add_reader, sock, lambda: False)
        time.sleep(0.1)
        sock.close(linger=0)  # without remove_reader: its fd now answers POLLNVAL at once, every time
        time.sleep(0.3)
        before = _thread_cpu(sched.thread)
        time.sleep(1.0)
        cpu = _thread_cpu(sched.thread) - before
        assert cpu < 0.5, f"the loop spun: {cpu:.2f} s of CPU in 1 s"
        assert "closed while the loop still read it" in caplog.text
        assert sched.call_io(lambda: 42) == 42  # and it still serves
    finally:
        sched.stop()
        ctx.destroy(linger=0)
