"""A real Jupyter kernel (ipykernel), driven as a notebook front end drives it.

``Kernel`` starts ``python -m ipykernel_launcher`` with jupyter_client and
reads every IOPub message on a thread of its own, filed by the request that
caused it (its parent's ``msg_id``): that is how a notebook decides which
cell shows an output, so ``Cell.stdout`` is what that cell shows on screen.
Every wait has a deadline and fails saying what each cell showed.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest
from conftest import TIMEOUT, base_env
from jupyter_client.manager import KernelManager  # a test dependency (pip install -e '.[test]')


class Cell:
    """What one executed cell shows: its streams, its result, its error."""

    def __init__(self, kernel: Kernel, msg_id: str, code: str):
        self.kernel, self.msg_id, self.code = kernel, msg_id, code

    def _msgs(self) -> list:
        with self.kernel.cond:
            return list(self.kernel.by_parent.get(self.msg_id, []))

    def _text(self, name: str) -> str:
        return "".join(c["text"] for t, c in self._msgs() if t == "stream" and c["name"] == name)

    @property
    def stdout(self) -> str:
        return self._text("stdout")

    @property
    def stderr(self) -> str:
        return self._text("stderr")

    @property
    def result(self) -> str | None:
        for t, c in self._msgs():
            if t == "execute_result":
                return c["data"]["text/plain"]
        return None

    @property
    def error(self) -> dict | None:
        for t, c in self._msgs():
            if t == "error":
                return c
        return None

    @property
    def done(self) -> bool:
        return any(t == "status" and c["execution_state"] == "idle" for t, c in self._msgs())

    def shown(self) -> str:
        err = self.error
        tb = "\n".join(err["traceback"]) if err else ""
        return f"[{self.code!r}] stdout={self.stdout!r} stderr={self.stderr!r} result={self.result!r} error={tb!r}"

    def wait(self, timeout: float = TIMEOUT) -> Cell:
        """Until the cell has finished running."""
        self.kernel.wait(lambda: self.done, timeout, f"cell {self.code!r} to finish")
        return self

    def wait_for(self, text: str, stream: str = "stdout", timeout: float = TIMEOUT) -> Cell:
        """Until ``text`` shows in this cell's ``stream`` (also after the cell finished)."""
        self.kernel.wait(lambda: text in self._text(stream), timeout, f"{text!r} in {self.code!r}'s {stream}")
        return self


class Kernel:
    def __init__(self, cwd, env: dict | None = None):
        kernel_env = base_env(**(env or {}))
        kernel_env.pop("PYTEST_CURRENT_TEST", None)  # ipykernel behaves differently under pytest
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=kernel_env, cwd=str(cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.cond = threading.Condition()
        self.by_parent: dict[str, list] = {}
        self.cells: list[Cell] = []
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            except Exception:  # the channel closed under us at shutdown
                return
            parent = msg["parent_header"].get("msg_id")
            with self.cond:
                self.by_parent.setdefault(parent, []).append((msg["msg_type"], msg["content"]))
                self.cond.notify_all()

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    shown = "\n".join(c.shown() for c in self.cells)
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; the cells show:\n{shown}")
                self.cond.wait(min(left, 0.2))

    def submit(self, code: str) -> Cell:
        """Send a cell to run, without waiting."""
        cell = Cell(self, self.kc.execute(code), code)
        self.cells.append(cell)
        return cell

    def run(self, code: str, timeout: float = TIMEOUT) -> Cell:
        """Run a cell and wait until it finished; fails if it raised."""
        cell = self.submit(code).wait(timeout)
        assert cell.error is None, cell.shown()
        return cell

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def close(self) -> None:
        self._stop = True
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


@pytest.fixture(name="kernel")
def kernel_fixture(tmp_path):
    """``kernel()`` starts a Jupyter kernel; every one is shut down at the end."""
    started: list[Kernel] = []

    def start(env: dict | None = None) -> Kernel:
        k = Kernel(tmp_path, env)
        started.append(k)
        return k

    yield start
    for k in started:
        k.close()
