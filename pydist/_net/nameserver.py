"""Compatibility name for the name server's client, kept for ``_core.dist`` only.

The name server now lives in :mod:`pydist._net.epmd` (protocol, server,
client, ``pydist epmd``). The distribution layer still imports this module;
the core will import ``_net.epmd.client`` (and ``split_name`` from
``_net.epmd.protocol``) directly after its redesign, and this file goes.
Nothing else should import it.
"""

from .epmd.client import ensure_running, lookup, lookup_node, notify, register
from .epmd.protocol import split_name

__all__ = ["ensure_running", "lookup", "lookup_node", "notify", "register", "split_name"]
