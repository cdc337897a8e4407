"""Step 7's versions and anti-entropy (kv_store/versions.py), on plain Stores: no node needed."""

import itertools
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kv_store.versions import BUCKETS, NO_VERSION, Store, bucket

pytestmark = pytest.mark.timeout(30)


def reconcile(a: Store, b: Store) -> None:
    """One anti-entropy exchange, the three messages the Replicas send (replica.py)."""
    differ = b.differing(a.digest)  # a -> b: a's digest
    theirs = b.bucket_entries(differ)  # b -> a: b's entries of the buckets that differ
    a.merge(theirs)
    b.merge(a.newer_than(theirs, differ))  # a -> b: what b lacks or has older


def test_a_newer_version_replaces_an_older_one_and_never_the_reverse():
    s = Store()
    assert s.entry("k") == (NO_VERSION, None)
    assert s.apply("k", (1, "a@h", 5), "one")
    assert s.apply("k", (2, "a@h", 5), "two")
    assert not s.apply("k", (1, "b@h", 9), "late")  # older counter: kept out
    assert not s.apply("k", (2, "a@h", 5), "two")  # the same write again: nothing new
    assert s.entry("k") == ((2, "a@h", 5), "two")
    assert s.holds("k", (2, "a@h", 5), "two") and not s.holds("k", (1, "b@h", 9), "late")


def test_equal_counters_are_ordered_by_node_name_then_life():
    s = Store()
    s.apply("k", (3, "b@h", 1), "from b")
    assert s.apply("k", (3, "c@h", 1), "from c")  # same counter, greater name wins
    assert not s.apply("k", (3, "a@h", 99), "from a")
    # a restarted node (a later life) reusing an old counter is still another version
    assert s.apply("k", (3, "c@h", 2), "c again")
    assert s.entry("k") == ((3, "c@h", 2), "c again")


def test_the_clock_follows_every_version_seen():
    s = Store()
    assert s.next_version("a@h", 7) == (1, "a@h", 7)
    s.apply("x", (41, "b@h", 1), "v")
    assert s.next_version("a@h", 7) == (42, "a@h", 7)  # a new write is newer than all it saw
    s.witness((100, "c@h", 1))
    assert s.next_version("a@h", 7)[0] == 101


def test_replicas_converge_whatever_order_the_writes_arrive_in():
    writes = [(f"k{i % 5}", (i // 3 + 1, f"n{i % 3}@h", 1), i) for i in range(30)]
    stores = []
    for seed in range(6):
        order = writes[:]
        random.Random(seed).shuffle(order)
        s = Store()
        for k, version, v in order:
            s.apply(k, version, v)
        stores.append(s)
    first = stores[0]
    for s in stores[1:]:
        assert s.values() == first.values() and s.digest == first.digest
    for k in {w[0] for w in writes}:  # each key holds its newest write
        assert first.entry(k)[0] == max(v for kk, v, _ in writes if kk == k)


def test_the_digest_tells_which_buckets_differ():
    a, b = Store(), Store()
    for i in range(200):
        a.apply(f"k{i}", (i + 1, "a@h", 1), i)
        b.apply(f"k{i}", (i + 1, "a@h", 1), i)
    assert a.differing(b.digest) == [] and a.digest == b.digest
    b.apply("k7", (500, "b@h", 1), "newer")
    b.apply("only-b", (501, "b@h", 1), "new key")
    assert sorted(a.differing(b.digest)) == sorted({bucket("k7"), bucket("only-b")})
    assert len(a.differing(b.digest)) <= 2 < BUCKETS  # only those buckets travel


def test_one_exchange_reconciles_two_replicas_that_took_different_writes():
    a, b = Store(), Store()
    for i in range(100):  # both had these
        for s in (a, b):
            s.apply(f"k{i}", (i + 1, "a@h", 1), i)
    for i in range(100, 150):  # a's side of a partition
        a.apply(f"k{i}", (i + 1, "a@h", 1), i)
    for i in range(150, 170):  # b's side, and a newer copy of a key both had
        b.apply(f"k{i}", (i + 1, "b@h", 1), i)
    b.apply("k3", (999, "b@h", 1), "b's k3")
    a.apply("k4", (998, "a@h", 1), "a's k4")
    reconcile(a, b)
    assert a.values() == b.values() and a.digest == b.digest
    assert len(a) == 170
    assert a.entry("k3")[1] == "b's k3" and b.entry("k4")[1] == "a's k4"
    assert a.clock >= 999 and b.clock >= 999  # and the clocks learnt the newest counters


def test_three_replicas_converge_after_pairwise_exchanges():
    stores = [Store() for _ in range(3)]
    rng = random.Random(1)
    for i in range(300):  # each write reached a random subset of replicas
        version = (i + 1, f"n{i % 3}@h", 1)
        for s in rng.sample(stores, rng.randint(1, 3)):
            s.apply(f"k{i % 40}", version, i)
    for a, b in itertools.permutations(stores, 2):
        reconcile(a, b)
    assert stores[0].values() == stores[1].values() == stores[2].values()
    assert stores[0].values() == {f"k{j}": max(i for i in range(300) if i % 40 == j) for j in range(40)}
