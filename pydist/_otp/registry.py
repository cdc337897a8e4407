"""``Registry``: a local key -> process registry (Elixir's ``Registry``).

One GenServer per registry, registered under the registry's name. A
process registers *itself* under a key with a value; the registry monitors
it and drops its keys when it exits. Keys are ``"unique"`` (one process
per key: names, as via-names for GenServers) or ``"duplicate"`` (many:
pub/sub, with ``dispatch``). Lookups are calls to the registry process
(Elixir reads an ETS table instead; the answers are the same).
"""

from __future__ import annotations

from .._api.processes import Process, send
from .._api.processes import self as self_pid
from .._base.errors import Exit
from .._base.terms import Pid, down_ref
from .genserver import GenServer

__all__ = ["Registry"]

KINDS = ("unique", "duplicate")


class _State:
    def __init__(self, keys: str):
        self.keys = keys
        self.entries: dict = {}  # key -> [(pid, value), ...] (one at most if unique)
        self.by_pid: dict = {}  # pid -> [key, ...]
        self.mrefs: dict = {}  # pid -> monitor ref
        self.meta: dict = {}

    def add(self, key, pid, value):
        if self.keys == "unique" and self.entries.get(key):
            return ("error", ("already_registered", self.entries[key][0][0]))
        self.entries.setdefault(key, []).append((pid, value))
        self.by_pid.setdefault(pid, []).append(key)
        if pid not in self.mrefs:
            self.mrefs[pid] = Process.monitor(pid)
        return ("ok", self_pid())

    def remove(self, key, pid) -> None:
        left = [e for e in self.entries.get(key, ()) if e[0] != pid]
        if left:
            self.entries[key] = left
        else:
            self.entries.pop(key, None)
        keys = [k for k in self.by_pid.get(pid, ()) if k != key]
        if keys:
            self.by_pid[pid] = keys
        else:
            self.forget(pid)

    def forget(self, pid) -> None:
        for key in self.by_pid.pop(pid, ()):
            left = [e for e in self.entries.get(key, ()) if e[0] != pid]
            if left:
                self.entries[key] = left
            else:
                self.entries.pop(key, None)
        mref = self.mrefs.pop(pid, None)
        if mref is not None:
            Process.demonitor(mref, flush=True)


class _RegistryServer(GenServer):
    def init(self, keys):
        return ("ok", _State(keys))

    def handle_call(self, request, from_, st):
        op = request[0]
        if op == "register":
            _, key, pid, value = request
            return ("reply", st.add(key, pid, value), st)
        if op == "unregister":
            st.remove(request[1], request[2])
            return ("reply", "ok", st)
        if op == "lookup":
            return ("reply", list(st.entries.get(request[1], ())), st)
        if op == "keys":
            return ("reply", list(st.by_pid.get(request[1], ())), st)
        if op == "count":
            return ("reply", sum(len(v) for v in st.entries.values()), st)
        if op == "update_value":
            _, key, pid, fn = request
            entries = st.entries.get(key, [])
            if st.keys != "unique" or not entries or entries[0][0] != pid:
                return ("reply", "error", st)
            old = entries[0][1]
            new = fn(old)
            entries[0] = (pid, new)
            return ("reply", (new, old), st)
        if op == "meta":
            key = request[1]
            return ("reply", ("ok", st.meta[key]) if key in st.meta else "error", st)
        if op == "put_meta":
            st.meta[request[1]] = request[2]
            return ("reply", "ok", st)
        if op == "kind":
            return ("reply", st.keys, st)
        return ("reply", ("error", ("unknown_call", request)), st)

    def handle_info(self, msg, st):
        ref = down_ref(msg)
        if ref is not None and st.mrefs.get(msg[3]) == ref:
            st.mrefs.pop(msg[3], None)
            st.forget(msg[3])
            return ("noreply", st)
        return super().handle_info(msg, st)


def _via_parts(name, what: str):
    if not (type(name) is tuple and len(name) == 2):
        raise TypeError(f"Registry.{what}: a via-name is (registry, key), as in ('via', Registry, ('Reg', key))")
    return name


class Registry:
    """Elixir's ``Registry`` (local to a node). ``registry`` is its name or pid."""

    @staticmethod
    def start_link(keys: str = "unique", name: str | None = None):
        """Start a registry linked to the caller; ``("ok", pid)``."""
        return Registry._start(keys, name, link=True)

    @staticmethod
    def start(keys: str = "unique", name: str | None = None):
        """As ``start_link`` without the link (use it at the prompt)."""
        return Registry._start(keys, name, link=False)

    @staticmethod
    def _start(keys, name, link):
        if keys not in KINDS:
            raise ValueError(f"Registry.start_link: keys must be 'unique' or 'duplicate', not {keys!r}")
        if not isinstance(name, str):
            raise TypeError(f"Registry.start_link: give the registry a name (name='MyRegistry'), not {name!r}")
        start = GenServer.start_link if link else GenServer.start
        return start(_RegistryServer, keys, name=name)

    @staticmethod
    def child_spec(opts) -> dict:
        """``(Registry, {"keys": "unique", "name": "MyRegistry"})`` in a Supervisor's children."""
        opts = dict(opts or {})
        return {
            "id": opts.get("name", "Registry"),
            "start": (Registry.start_link, (opts.get("keys", "unique"), opts.get("name"))),
            "type": "supervisor",
        }

    @staticmethod
    def register(registry, key, value=None):
        """Register the calling process under ``key``; ``("ok", registry_pid)`` or,
        for a unique key held by another, ``("error", ("already_registered", pid))``."""
        return GenServer.call(registry, ("register", key, self_pid(), value))

    @staticmethod
    def unregister(registry, key) -> str:
        """Remove the caller's entries under ``key``; ``"ok"``."""
        return GenServer.call(registry, ("unregister", key, self_pid()))

    @staticmethod
    def lookup(registry, key) -> list:
        """``[(pid, value), ...]`` registered under ``key``."""
        return GenServer.call(registry, ("lookup", key))

    @staticmethod
    def dispatch(registry, key, fn) -> str:
        """Call ``fn(entries)`` here, with ``[(pid, value), ...]``, if ``key`` has any; ``"ok"``."""
        entries = Registry.lookup(registry, key)
        if entries:
            fn(entries)
        return "ok"

    @staticmethod
    def keys(registry, pid: Pid) -> list:
        """The keys ``pid`` is registered under."""
        return GenServer.call(registry, ("keys", pid))

    @staticmethod
    def values(registry, key, pid: Pid) -> list:
        """The values ``pid`` registered under ``key``."""
        return [v for p, v in Registry.lookup(registry, key) if p == pid]

    @staticmethod
    def count(registry) -> int:
        return GenServer.call(registry, ("count",))

    @staticmethod
    def update_value(registry, key, fn):
        """For a unique key held by the caller: set its value to ``fn(old)``;
        ``(new, old)``, or ``"error"`` if the caller does not hold ``key``."""
        return GenServer.call(registry, ("update_value", key, self_pid(), fn))

    @staticmethod
    def meta(registry, key):
        """``("ok", value)`` put by ``put_meta``, or ``"error"``."""
        return GenServer.call(registry, ("meta", key))

    @staticmethod
    def put_meta(registry, key, value) -> str:
        return GenServer.call(registry, ("put_meta", key, value))

    # -- the via-name protocol: ("via", Registry, (registry, key)) ------------------
    @staticmethod
    def register_name(name, pid: Pid) -> str:
        registry, key = _via_parts(name, "register_name")
        if GenServer.call(registry, ("kind",)) != "unique":
            raise ValueError(f"Registry: via-names need a registry with unique keys; {registry!r} has duplicate keys")
        ok = GenServer.call(registry, ("register", key, pid, None))
        return "yes" if ok[0] == "ok" else "no"

    @staticmethod
    def unregister_name(name) -> str:
        registry, key = _via_parts(name, "unregister_name")
        for pid, _ in Registry.lookup(registry, key):
            GenServer.call(registry, ("unregister", key, pid))
        return "ok"

    @staticmethod
    def whereis_name(name) -> Pid | None:
        registry, key = _via_parts(name, "whereis_name")
        entries = Registry.lookup(registry, key)
        return entries[0][0] if entries else None

    @staticmethod
    def send(name, msg) -> Pid:
        """Send to the process registered under ``(registry, key)``; raises
        ``Exit(("badarg", (name, msg)))`` if there is none."""
        pid = Registry.whereis_name(name)
        if pid is None:
            raise Exit(("badarg", (name, msg)), f"Registry.send: nothing is registered as {name!r}")
        send(pid, msg)
        return pid


Registry.__module__ = "pydist"
