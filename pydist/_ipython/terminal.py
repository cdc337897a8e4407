"""IPython in a terminal: what other processes print shows above its prompt.

IPython reads each input inside prompt_toolkit's ``patch_stdout``, which
swaps ``sys.stdout`` for a proxy that writes above the prompt. pydist owns
``sys.stdout`` (it follows the printing process's group leader), and text
from the node's loop or another node is written to ``TERMINAL``, not to
``sys.stdout``: without this it would land in the middle of the line being
typed. So while IPython's prompt is on screen, ``TERMINAL`` writes to that
proxy and ``sys.stdout`` is pydist's again (a process that prints while the
prompt waits still goes to its group leader, maybe on another node).

Runs on the main thread, around each ``pt_app.prompt`` call; the proxy has
a thread of its own, so writers never wait for the prompt.
"""

from __future__ import annotations

import sys

from .._core.iofwd import TERMINAL, ProcessStream

__all__ = ["print_above_prompt", "remember_streams"]

_ours: list = [None, None]  # pydist's sys.stdout and sys.stderr


def print_above_prompt(shell) -> bool:
    """Wrap ``shell``'s prompt (a TerminalInteractiveShell); False if it has none."""
    app = getattr(shell, "pt_app", None)
    if app is None or getattr(app.prompt, "_pydist", False):
        return app is not None
    prompt = app.prompt

    def pydist_prompt(*args, **kwargs):
        proxy_out, proxy_err = sys.stdout, sys.stderr
        out, err = _ours
        if isinstance(proxy_out, ProcessStream) or out is None or err is None:
            return prompt(*args, **kwargs)  # stdout is not patched, or pydist's streams are not installed
        old = TERMINAL.redirect(proxy_out, proxy_err)
        sys.stdout, sys.stderr = out, err
        try:
            return prompt(*args, **kwargs)
        finally:
            TERMINAL.redirect(*old)
            sys.stdout, sys.stderr = proxy_out, proxy_err

    pydist_prompt._pydist = True  # type: ignore[attr-defined]
    app.prompt = pydist_prompt
    return True


def remember_streams() -> None:
    """Note pydist's streams (installed before the first prompt), to put back inside it."""
    if isinstance(sys.stdout, ProcessStream) and isinstance(sys.stderr, ProcessStream):
        _ours[:] = [sys.stdout, sys.stderr]
