"""Node names: parsing ``--sname``/``--name``, and where a name lives.

Erlang's rules: a short name's host has no dots; a long name's host is a
fully qualified name or an IP address; the two kinds never talk to each
other. ``nonode@nohost`` is the name of a node that is not distributed.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket

from .errors import PydistError, UsageError

NONODE = "nonode@nohost"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# the name server's own words: a node called LOOKUP reads as a request in its logs and tools
_RESERVED = frozenset({"REGISTER", "LOOKUP", "NAMES", "NOTIFY", "KILL", "PING"})
_HOST = re.compile(r"[A-Za-z0-9_.\-:\[\]]{1,253}")


NAME_RULE = (
    "use 1-64 letters, digits, '_', '-' and '.', starting with a letter, a digit or '_' "
    "(and not a word of the name server: REGISTER, LOOKUP, NAMES, NOTIFY, KILL, PING)"
)


def is_valid_name(name) -> bool:
    """The one grammar of a node's name (the part before ``@``): 1-64 of ``A-Z a-z 0-9 _ . -``,
    starting with a letter, a digit or ``_`` (so not ``.``, ``..``, ``-`` or ``--help``),
    and not one of the name server's request words (``LOOKUP``, ``NAMES`` ...).

    The CLI flags, :func:`split` and the name server (which keys its registry
    by this part) all check it here, so a name one accepts the others accept.
    """
    return isinstance(name, str) and _NAME.fullmatch(name) is not None and name not in _RESERVED


def short_host() -> str:
    """This machine's short host name, as ``iex --sname`` uses it."""
    return socket.gethostname().split(".")[0] or "localhost"


def long_host() -> str:
    """This machine's fully qualified name, or its address when it has none."""
    fqdn = socket.getfqdn()
    if "." in fqdn and fqdn != "localhost.localdomain":
        return fqdn
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def is_long_host(host: str) -> bool:
    return "." in host or is_ip(host)


def split(node: str) -> tuple[str, str]:
    """``"foo@vm"`` -> ``("foo", "vm")``; raises ValueError for a bad name."""
    if not isinstance(node, str) or node.count("@") != 1:
        raise ValueError(f"bad node name {node!r}: expected NAME@HOST, like foo@{short_host()}")
    name, host = node.split("@")
    if not is_valid_name(name) or not _HOST.fullmatch(host):
        raise ValueError(f"bad node name {node!r}: {NAME_RULE}")
    return name, host


def make_own_name(sname: str | None, lname: str | None) -> tuple[str, bool]:
    """The node's full name and whether it uses long names, from the CLI flags."""
    if sname and lname:
        raise UsageError("give either --sname or --name, not both")
    raw = sname or lname or ""  # "": a name that is not valid, said so below
    longnames = bool(lname)
    if "@" in raw:
        try:
            name, host = split(raw)
        except ValueError as err:
            raise PydistError(str(err)) from None
    else:
        name, host = raw, (long_host() if longnames else short_host())
        if not is_valid_name(name):
            raise PydistError(f"bad node name {raw!r}: {NAME_RULE}")
        if longnames and is_ip(host) and ipaddress.ip_address(host.strip("[]")).is_loopback:
            logging.getLogger("pydist").warning(
                "this host has no fully qualified name, so this node is %s@%s, which other hosts "
                "cannot reach; give --name %s@ADDRESS with this host's FQDN or IP address",
                name,
                host,
                name,
            )
    if longnames and not is_long_host(host):
        raise PydistError(
            f"--name needs a fully qualified host name or an IP address, like {name}@198.18.0.2 "
            f"(got {host!r}); use --sname for a short name"
        )
    if not longnames and "." in host and not is_ip(host):
        raise PydistError(f"--sname needs a short host name without dots (got {host!r}); use --name {name}@{host}")
    return f"{name}@{host}", longnames


def qualify(target: str, own: str) -> str:
    """A bare name (``"bar"``) means bar on this node's host."""
    if isinstance(target, str) and "@" not in target:
        host = own.split("@", 1)[1] if "@" in own and own != NONODE else short_host()
        return f"{target}@{host}"
    return target


def resolve(host: str) -> str:
    """The IPv4 address to reach ``host`` at; raises OSError if unknown."""
    host = host.strip("[]")
    if is_ip(host):
        return host
    return socket.gethostbyname(host)
