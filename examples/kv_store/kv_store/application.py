"""Steps 1 and 3 of the lecture: what ``pydist -S kv_store`` starts.

Elixir's ``KvStore.Application.start/2`` in plain Python: the cluster
topology (libcluster's Epmd strategy with a fixed host list) and the
children of the app's one_for_one supervisor. The cluster comes first, so
MapServer's resync (step 5) already sees the other nodes.

The host list is configuration, not code:
  KV_STORE_HOSTS="kv@bot00,kv@bot01"   names separated by commas or spaces
  KV_STORE_HOSTS_FILE=path             one name per line ('#' starts a comment)
  (default) node0@localhost, node1@localhost, node2@localhost
KV_STORE_POLL is the polling interval in seconds (default 5): how soon a
node that came back is connected again by the others.
"""

import os

from .map_server import MapServer

DEFAULT_HOSTS = ["node0@localhost", "node1@localhost", "node2@localhost"]


def hosts():
    text = os.environ.get("KV_STORE_HOSTS")
    if text is None and os.environ.get("KV_STORE_HOSTS_FILE"):
        with open(os.environ["KV_STORE_HOSTS_FILE"]) as f:
            text = " ".join(line.split("#", 1)[0] for line in f)
    if text is None:
        return DEFAULT_HOSTS
    return [h for h in text.replace(",", " ").split() if h]


def topologies():
    return {
        "local": {
            "strategy": "Epmd",
            "config": {"hosts": hosts(), "polling_interval": float(os.environ.get("KV_STORE_POLL", "5"))},
        }
    }


def children():
    return [MapServer]


supervisor = {"strategy": "one_for_one"}
