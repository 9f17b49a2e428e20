"""The SDKs the tests run workflow apps with.

The pinned ``@relaypro/sdk`` every test that runs a JavaScript workflow app uses: tests/conformance's
package.json and package-lock.json, installed there by ``npm ci`` (.ci/run does it).

``ensure_sdk()`` gives the node executable once the SDK is installed: when node_modules is missing it runs
``npm ci --offline`` (npm's cache only: no test uses the network). Without node or the SDK the caller is
skipped with the reason, shown as a warning too (pytest prints warnings without -rs); with
RELAY_REQUIRE_NODE=1 (.ci/run sets it) it fails instead. Used by tests/test_conformance.py, test_dev.py and
test_readme.py.

relay-py is not on PyPI, so CI has none: ``relay_py_python()`` finds a Python that can import it
(``RELAY_PY_PYTHON``, else the one running the tests) and the tests that need it skip, with the reason, without.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "conformance"
NODE_MODULES = HERE / "node_modules"
SDK_DIR = NODE_MODULES / "@relaypro" / "sdk"
SDK_VERSION = "2.4.0"
#: read at import: the autouse fixture of conftest.py clears RELAY_* variables before each test
REQUIRE_NODE = os.environ.get("RELAY_REQUIRE_NODE") == "1"
RELAY_PY_PYTHON = os.environ.get("RELAY_PY_PYTHON")


def unavailable(reason: str, what: str = "the conformance suite") -> None:
    """Skip with the reason (also as a warning, which pytest shows without -rs), or fail when the run requires
    node (RELAY_REQUIRE_NODE=1, as in .ci/run)."""
    if REQUIRE_NODE:
        pytest.fail(f"RELAY_REQUIRE_NODE=1 but {reason}", pytrace=False)
    warnings.warn(f"{what} is skipped: {reason}", stacklevel=2)
    pytest.skip(reason)


@contextlib.contextmanager
def _one_worker_at_a_time() -> Iterator[None]:
    """Held while a test looks for the SDK and installs it: the workers of a parallel run (pytest-xdist) share
    tests/conformance/node_modules, and a second ``npm ci`` there would delete what the first one is installing."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        yield
        return
    name = hashlib.sha256(str(HERE).encode()).hexdigest()[:16]
    with (Path(tempfile.gettempdir()) / f"relay-tests-sdk-{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_sdk(what: str = "the conformance suite") -> str:
    """The node executable, with the pinned SDK installed (``npm ci`` from npm's cache when it is missing)."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed: these tests run apps written with @relaypro/sdk", what)
    with _one_worker_at_a_time():
        _install_sdk(what)
    return str(node)


def _install_sdk(what: str) -> None:
    if not SDK_DIR.is_dir():
        npm = shutil.which("npm")
        if npm is None:
            unavailable(f"{SDK_DIR} is missing and npm is not installed (run npm ci in {HERE})", what)
        try:  # offline: a test never uses the network; npm's cache has the SDK once `npm ci` has run anywhere here
            proc = subprocess.run(
                [npm, "ci", "--offline", "--no-audit", "--no-fund"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            proc = None
        if proc is None or proc.returncode != 0 or not SDK_DIR.is_dir():
            said = [line for line in (proc.stderr if proc else "").splitlines() if "complete log" not in line]
            why = "timed out" if proc is None else (said or ["?"])[0].removeprefix("npm error ")
            unavailable(
                f"@relaypro/sdk is not installed and `npm ci --offline` in {HERE} failed ({why}): run npm ci there",
                what,
            )
    version = json.loads((SDK_DIR / "package.json").read_text(encoding="utf-8"))["version"]
    if version != SDK_VERSION:
        pytest.fail(f"{SDK_DIR} is @relaypro/sdk {version}, not the pinned {SDK_VERSION}: run npm ci in {HERE}")


def relay_py_python() -> str:
    """A Python that can import relay-py: RELAY_PY_PYTHON, else this one; skips (with a warning) when there is none."""
    import sys

    for python in (RELAY_PY_PYTHON, sys.executable):
        if (
            python
            and subprocess.run(
                [python, "-c", "import relay.workflow"], capture_output=True, timeout=60, check=False
            ).returncode
            == 0
        ):
            return python
    reason = "relay-py is not installed (it is not on PyPI): set RELAY_PY_PYTHON to a Python that has it"
    warnings.warn(f"a relay-py test is skipped: {reason}", stacklevel=2)
    pytest.skip(reason)
