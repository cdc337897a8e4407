"""Shipping functions to other nodes, with errors that name the culprit.

cloudpickle sends functions typed at the prompt (or in ``__main__``) by
value. When something cannot travel (a closure over a lock, a socket, an
open file) the user must learn *which variable* it was, at the call site,
instead of a hang or a bare ``TypeError`` from deep inside pickle.
"""

from __future__ import annotations

import cloudpickle


def _fn_name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _refs(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or (), strict=False):
        try:
            yield name, cell.cell_contents
        except ValueError:
            continue
    glb = getattr(fn, "__globals__", {})
    for name in code.co_names:
        if name in glb:
            yield name, glb[name]


TOO_DEEP = (
    "nested too deeply to be pickled (more than about 1,000 lists, tuples or dicts inside each "
    "other: pickle recurses once per level); send a flatter structure, e.g. a list of items "
    "instead of a chain of nested ones"
)


def too_deep(err: BaseException) -> bool:
    """Whether pickling failed for the depth of the data, not for what is in it."""
    return isinstance(err, RecursionError) or "recursion" in str(err)


def _culprit(fn, args) -> str:
    for name, value in list(_refs(fn)) + [(f"argument {i + 1}", a) for i, a in enumerate(args)]:
        if callable(value) and getattr(value, "__code__", None) is not None and value is not fn:
            continue
        try:
            cloudpickle.dumps(value)
        except Exception as err:
            if too_deep(err):
                return f"{name!r}, a {type(value).__name__}, is {TOO_DEEP}"
            return f"it uses {name!r}, a {type(value).__name__}, which cannot be pickled"
    return "it cannot be pickled"


def dumps_call(fn, args, node: str, what: str = "Node.spawn") -> bytes:
    if not callable(fn):
        raise TypeError(f"{what}: expected a function to run on {node}, got {fn!r}")
    try:
        return cloudpickle.dumps((fn, tuple(args)))
    except Exception as err:
        if getattr(fn, "_pydist_carries", False):  # rpc's carrier: blame the user's function, not pydist's
            user_args = tuple(args[1]) + tuple((args[4] or {}).values() if len(args) > 4 else ())
            fn, args = args[0], user_args
        if too_deep(err):
            raise TypeError(f"{what}: cannot send {_fn_name(fn)} to {node}: {_culprit(fn, args)}") from None
        raise TypeError(
            f"{what}: cannot send {_fn_name(fn)} to {node}: {_culprit(fn, args)} ({err}). "
            "A function travels with everything it uses: create locks, sockets and files "
            "inside the function instead."
        ) from None
