"""The name server's text protocol: its port, its limits and its name check.

Why it exists: a node listens on a port the kernel picks (so many nodes can
share a host), so a peer that knows only ``foo@vm`` needs something at a
*fixed* port on ``vm`` to say which port ``foo`` got. As in Erlang, that is
one small process per host (:mod:`.server`), started by the first node that
finds none (:func:`.client.ensure_running`) and outliving every node.

Registration is a connection, not a record: an entry lives exactly as long
as the registering node's TCP connection, so a node killed with ``kill -9``
vanishes the moment its kernel closes the socket -- no leases, no stale
names. Only processes on this host may register (or kill the server); any
host may look names up, which is why it listens on all IPv4 interfaces.

Protocol: UTF-8 text lines ending in ``\\n``, at most :data:`MAX_LINE` bytes
(a trailing ``\\r`` is tolerated, so ``nc`` works for debugging)::

    REGISTER <name> <port> [<node>]
                            -> OK | TAKEN | ERR registration only from this host
                               (connection stays open; may receive NOTICE <text>)
    LOOKUP <name>           -> PORT <n> [<node>] | NONE
    NAMES                   -> NAME <name> <port> ... END
    NOTIFY <name> <text>    -> OK | NONE   (registrant gets NOTICE <text>)
    KILL                    -> OK, then the server exits (this host only)
    PING                    -> PONG

``<node>`` is the registrant's full node name (``foo@vm``): a lookup under
another host name that reaches this host (``foo@localhost``) learns at once
that the node there is called otherwise, without dialling it.

Anything else (unknown command, bad arguments, an over-long line, invalid
UTF-8, EOF mid-line, :data:`IDLE_TIMEOUT` without a complete line from an
unregistered connection) closes that connection and nothing more.

This module is what the server (:mod:`.server`), the client nodes use
(:mod:`.client`) and ``pydist epmd`` (:mod:`.cli`) agree on; it runs no
thread of its own.
"""

from __future__ import annotations

import ipaddress
import os

from ..._base.errors import PydistError
from ..._base.names import NAME_RULE, is_valid_name, split

DEFAULT_PORT = 4370  # not Erlang's 4369, so epmd and pydist can run side by side
MAX_LINE = 512  # bytes, newline included
MAX_NOTICE = 300  # characters of NOTIFY text forwarded
IDLE_TIMEOUT = 10.0  # seconds an unregistered connection may wait between lines


def epmd_port() -> int:
    """``$PYDIST_EPMD_PORT`` if set (tests and side-by-side setups), else DEFAULT_PORT."""
    value = os.environ.get("PYDIST_EPMD_PORT", "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise PydistError(f"PYDIST_EPMD_PORT={value!r} is not a port number (1-65535)")
    return int(value)


def split_name(node: str) -> str:
    """The name server's key for ``node``: the part before ``@`` ("foo@vm" -> "foo").

    Raises ValueError if that part is not a node name
    (:func:`~pydist._base.names.is_valid_name`) or the host part is present
    but empty.
    """
    name, at, host = node.partition("@")
    if not is_valid_name(name) or (at and (not host or "@" in host)):
        raise ValueError(f"invalid node name {node!r}: use NAME or NAME@HOST ({NAME_RULE} for NAME)")
    return name


def is_node_of(node: str, name: str) -> bool:
    """Whether ``node`` is a well-formed full node name for ``name`` (``foo@vm`` for ``foo``).

    The name server stores and the client shows nothing else a peer says.
    """
    try:
        return split(node)[0] == name
    except ValueError:
        return False


def check_name(name: str) -> str:
    """``name`` itself if it may be registered; ValueError (saying what may) if not."""
    if not is_valid_name(name):
        raise ValueError(f"invalid name {name!r}: {NAME_RULE}")
    return name


def is_loopback(peer) -> bool:
    """True if the socket address ``peer`` is on this host (IPv4, IPv6 or v4-mapped)."""
    try:
        addr = ipaddress.ip_address(peer[0].split("%")[0])
    except (TypeError, ValueError, IndexError):
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback
