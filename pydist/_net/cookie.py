"""The cookie: where it comes from, and the CURVE keys derived from it.

All nodes that share a cookie derive the same CURVE key pair (HKDF-SHA256
of the cookie is a valid secret key), so a node can both prove it knows the
cookie and check that a peer does, without the cookie ever crossing the
wire. See docs/wire-protocol.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import string
from pathlib import Path

import zmq
from zmq.utils import z85

from .._base.errors import CookieError


def cookie_path() -> Path:
    return Path(os.path.expanduser("~")) / ".pydist.cookie"


def load_cookie(explicit: str | None = None) -> str:
    """``--cookie``, else ``$PYDIST_COOKIE``, else ``~/.pydist.cookie``.

    The file is created on first use (random, mode 0400), like
    ``~/.erlang.cookie``; a file that others can read is refused, because
    anyone who can read it can run code on every node of the cluster.
    """
    if explicit:
        return explicit
    env = os.environ.get("PYDIST_COOKIE")
    if env:
        return env
    path = cookie_path()
    if not path.exists():
        value = "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
        except FileExistsError:
            pass
        except OSError as err:
            raise CookieError(
                f"cannot create the cookie file {path}: {err.strerror}; pass --cookie COOKIE or set PYDIST_COOKIE"
            ) from None
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CookieError(
                f"the cookie file {path} must be accessible by its owner only; fix it with: chmod 400 {path}"
            )
        value = path.read_text().strip()
    except CookieError:
        raise
    except OSError as err:
        raise CookieError(
            f"cannot read the cookie file {path}: {err.strerror}; pass --cookie COOKIE or set PYDIST_COOKIE"
        ) from None
    if not value:
        raise CookieError(f"the cookie file {path} is empty; put a secret in it or remove it")
    return value


def _hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(b"pydist-cookie-salt-v1", secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def curve_keys(cookie: str) -> tuple[bytes, bytes]:
    """(public, secret) CURVE keys, z85-encoded, derived from the cookie."""
    secret = z85.encode(_hkdf(cookie.encode(), b"curve-keypair"))
    return zmq.curve_public(secret), secret
