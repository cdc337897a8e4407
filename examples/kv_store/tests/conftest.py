"""Reuse the repository's test fixtures (tests/conftest.py) without copying them.

pytest imports every conftest.py outside a package under the module name
``conftest``, so ``from conftest import *`` here would import this file
itself. The root one is loaded by path under its own name instead. When the
whole suite runs, it has already set this run's HOME, name-server port and
cookie: those are kept, so every node of the run shares one name server.
"""

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_NAME = "pydist_tests_conftest"

if _NAME not in sys.modules:
    _kept = {
        k: os.environ[k]
        for k in ("HOME", "PYDIST_EPMD_PORT", "PYDIST_COOKIE")
        if "pydist-home-" in os.environ.get("HOME", "") and k in os.environ
    }
    _spec = importlib.util.spec_from_file_location(_NAME, ROOT / "tests" / "conftest.py")
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _mod
    _spec.loader.exec_module(_mod)
    os.environ.update(_kept)

# After the load above, and whole: pytest finds the fixtures among this module's names.
from pydist_tests_conftest import *  # noqa: E402, F403
