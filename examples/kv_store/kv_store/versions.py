"""Step 7's versioned store: which copy of a key is newer, and how two
replicas find what they disagree about without sending everything.

Pure Python, no pydist: the Replica (``replica.py``) keeps one ``Store`` as
its state and runs every method below in its own process; the unit tests
drive a ``Store`` directly.

A version is a plain tuple ``(counter, node, life)``:

- ``counter`` is a Lamport clock. Every replica keeps one, raises it to
  every counter it sees, and a write takes the next one: a write made after
  a replica saw a value carries a bigger counter than that value.
- ``node`` is the node that coordinated the write. Two nodes writing one
  key at the same moment may pick the same counter; the greater node name
  wins, and it wins on every replica.
- ``life`` tells two lives of one node apart (milliseconds since the epoch
  when its Replica started): a restarted node forgets its clock and could
  otherwise give an old version number to a new value.

Tuples compare element by element, so ``>`` is the order: replicas that
have seen the same versions keep the same values, whatever the order in
which the versions reached them. They converge.

The digest: every key falls in one of ``BUCKETS`` buckets (a hash of its
``repr``, the same in every process); a bucket's digest is the XOR of a hash
of each ``(key, version)`` in it, updated on every write. Two replicas
compare the ``BUCKETS`` numbers, then send each other only the entries of
the buckets that differ (Dynamo's Merkle tree, one level deep). Keys should
be plain values (strings, numbers, tuples of them) so their ``repr`` is the
same on every node.
"""

from __future__ import annotations

import hashlib
import zlib

BUCKETS = 64
NO_VERSION = (0, "", 0)  # older than any write: what a missing key has


def bucket(key) -> int:
    """The bucket of ``key``: the same number on every node (unlike ``hash()``)."""
    return zlib.crc32(repr(key).encode()) % BUCKETS


def _entry_hash(key, version) -> int:
    return int.from_bytes(hashlib.blake2b(repr((key, version)).encode(), digest_size=8).digest(), "big")


class Store:
    """``key -> (version, value)`` in buckets, a digest per bucket, a Lamport clock."""

    def __init__(self):
        self.buckets: list[dict] = [{} for _ in range(BUCKETS)]
        self.digest: list[int] = [0] * BUCKETS
        self.clock = 0

    # -- one key ---------------------------------------------------------------
    def entry(self, key) -> tuple:
        """``(version, value)`` of ``key``; ``(NO_VERSION, None)`` if it was never written."""
        return self.buckets[bucket(key)].get(key, (NO_VERSION, None))

    def witness(self, version) -> None:
        """Lamport's rule: the clock is never behind a version this replica has seen."""
        if version[0] > self.clock:
            self.clock = version[0]

    def next_version(self, node: str, life: int) -> tuple:
        """The version of a new write coordinated here: newer than all this replica has seen."""
        self.clock += 1
        return (self.clock, node, life)

    def apply(self, key, version, value) -> bool:
        """Keep ``value`` if ``version`` is newer than our copy; True if it was kept."""
        self.witness(version)
        b = bucket(key)
        old = self.buckets[b].get(key)
        if old is not None and old[0] >= version:
            return False
        if old is not None:
            self.digest[b] ^= _entry_hash(key, old[0])
        self.digest[b] ^= _entry_hash(key, version)
        self.buckets[b][key] = (version, value)
        return True

    def holds(self, key, version, value) -> bool:
        """Whether this replica's copy of ``key`` is exactly that write (an acknowledgement)."""
        return self.entry(key) == (version, value)

    # -- many keys: anti-entropy -----------------------------------------------
    def merge(self, entries: dict) -> int:
        """Apply ``{key: (version, value)}``, keeping the newer copy of each; how many changed."""
        return sum(self.apply(k, version, value) for k, (version, value) in entries.items())

    def differing(self, digest) -> list[int]:
        """The buckets whose digest differs from ``digest`` (another replica's)."""
        return [b for b in range(BUCKETS) if self.digest[b] != digest[b]]

    def bucket_entries(self, buckets) -> dict:
        """Every entry of ``buckets``: what the other replica needs to compare them."""
        return {k: e for b in buckets for k, e in self.buckets[b].items()}

    def newer_than(self, entries: dict, buckets) -> dict:
        """Our entries of ``buckets`` that ``entries`` (the other side's) lacks or has older."""
        return {k: e for b in buckets for k, e in self.buckets[b].items() if k not in entries or entries[k][0] < e[0]}

    def values(self) -> dict:
        """``{key: value}``: the plain map, as step 5's MapServer holds it."""
        return {k: v for b in self.buckets for k, (_version, v) in b.items()}

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets)
