"""Application environment: an application's settings on this node (Elixir's application env).

Three layers, each overriding the one before:

1. the defaults the application declares -- ``env = {"port": 4000}`` in its
   module (or ``APP/application.py``), read when it starts;
2. the config file -- ``pydist --config FILE`` (or ``$PYDIST_CONFIG``), TOML
   with one table per application::

       [kv_store]
       port = 4100
       replicas = ["node1@vm", "node2@vm"]

3. ``Application.put_env`` at run time.

Each node has its own (as in Erlang): a value put on one node is not seen
on another. Reads are plain dict look-ups, safe from any process.
"""

from __future__ import annotations

import os

from .._base.errors import PydistError

__all__ = ["declare", "delete_env", "fetch_env", "get_all_env", "get_env", "load_config", "put_env"]

_DEFAULTS: dict[str, dict] = {}  # app -> what it declares
_SET: dict[str, dict] = {}  # app -> the config file's values, then put_env's


class ConfigError(PydistError):
    """The config file is missing or not valid (the CLI prints it, exit 1)."""


def _app(app) -> str:
    name = app if isinstance(app, str) else getattr(app, "__name__", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"Application env: an application is its module name (a string), not {app!r}")
    return name


def load_config(path: str) -> dict:
    """Read ``path`` (TOML: a table per application) over the declared defaults; the tables read."""
    import tomllib  # only a node given a config file pays for it

    try:
        with open(os.path.expanduser(path), "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config: no such file: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"--config {path}: not valid TOML: {err}") from None
    for app, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"--config {path}: {app!r} is not a table; put each setting under its application, "
                f"e.g. [my_app] then {app} = ..."
            )
    for app, table in data.items():
        _SET.setdefault(app, {}).update(table)
    return data


def declare(app, env) -> None:
    """An application's declared defaults (``env`` in its module), set when it starts."""
    if env is None:
        return
    if not isinstance(env, dict):
        raise TypeError(f"application {_app(app)}: env must be a dict of defaults, not {env!r}")
    _DEFAULTS[_app(app)] = dict(env)


def get_all_env(app) -> dict:
    app = _app(app)
    return {**_DEFAULTS.get(app, {}), **_SET.get(app, {})}


def get_env(app, key, default=None):
    """The value of ``key`` for ``app``, or ``default``."""
    app = _app(app)
    for layer in (_SET, _DEFAULTS):
        values = layer.get(app)
        if values is not None and key in values:
            return values[key]
    return default


def fetch_env(app, key):
    """``("ok", value)``, or ``"error"`` if ``key`` is not set for ``app``."""
    sentinel = object()
    value = get_env(app, key, sentinel)
    return "error" if value is sentinel else ("ok", value)


def put_env(app, key, value) -> str:
    """Set ``key`` for ``app`` on this node; ``"ok"``."""
    _SET.setdefault(_app(app), {})[key] = value
    return "ok"


def delete_env(app, key) -> str:
    """Remove ``key`` for ``app`` (its declared default too); ``"ok"``."""
    app = _app(app)
    for layer in (_SET, _DEFAULTS):
        layer.get(app, {}).pop(key, None)
    return "ok"
