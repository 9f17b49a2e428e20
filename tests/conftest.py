"""Shared fixtures: an isolated environment for every test, and ``run`` to call the CLI in-process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relay_cli import app as relay_app
from relay_cli.__main__ import main
from relay_cli.output import Output

API = "https://all-main-pro-ibot.relaysvr.com"
TOKEN = "test-token-7f3a9c"
SUB = "SUB"


def pytest_configure(config: pytest.Config) -> None:
    """The bytecode of the package and of the test modules, written once per run, before any worker starts.

    Where PYTHONDONTWRITEBYTECODE is set (CI images often set it) nothing writes bytecode: each of the some 150
    ``relay`` processes the tests start compiled the whole package from source again, and each xdist worker
    rewrote the asserts of every test module again, the larger part of what collecting the suite costs.
    ``compileall`` writes the package's regardless of that setting and skips what is up to date; pytest keeps a
    test module's rewritten bytecode in tests/__pycache__ unless ``sys.dont_write_bytecode`` says not to (its
    documented switch), so that is turned back on here, in every process, and the modules the workers will
    collect are imported once here, which rewrites and writes those that changed; each worker then reads them.
    """
    sys.dont_write_bytecode = False
    _take_interrupts()
    config.addinivalue_line(
        "markers",
        "long: waits seconds (processes, servers, quiet periods): started first (pytest_collection_modifyitems)",
    )
    if hasattr(config, "workerinput"):
        return
    import compileall

    import relay_cli

    compileall.compile_dir(Path(relay_cli.__file__).parent, quiet=1)
    if len(config.getoption("tx", None) or []) > 1 and not config.getoption("collectonly"):
        _import_test_modules(config)


def _take_interrupts() -> None:
    """SIGINT handled as Python does by default, in this process and so in the processes the tests start.

    A shell running a command in the background (``cmd &`` without job control, as CI runners and ``nohup`` do)
    starts it with SIGINT ignored, and every process started from it inherits that: the ``relay`` processes that
    the tests interrupt with SIGINT, as Ctrl-C would, then ignore it, and those tests fail on a signal that never
    arrives. A handler, unlike an ignored signal, is not inherited: a child starts with SIGINT's default action."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _import_test_modules(config: pytest.Config) -> None:
    """Import the test modules of tests/ the run names (its arguments, or testpaths), as collecting them would."""
    import importlib

    tests = Path(__file__).parent
    names: set[str] = set()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0])
        if not path.exists():
            path = Path(config.rootpath, arg.split("::", 1)[0])
        files = path.glob("test_*.py") if path.is_dir() else [path]
        names.update(f.stem for f in files if f.parent.resolve() == tests and f.name.startswith("test_"))
    if not names:
        return
    # On a fresh clone every module is rewritten here, on the path of the whole run (no worker starts before it
    # ends): the modules are shared between this process and collections in other processes, one per further core.
    import os

    ordered = sorted(names)
    shares = max(1, min(os.cpu_count() or 1, len(ordered) // 20 + 1))
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider"]
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    helpers = [
        subprocess.Popen(
            [*collect, *(str(tests / f"{n}.py") for n in ordered[k::shares])], cwd=config.rootpath, **quiet
        )
        for k in range(1, shares)
    ]
    sys.path.insert(0, str(tests))
    try:
        for name in ordered[0::shares]:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a module that does not import is reported by the workers that collect it
                pass
    finally:
        sys.path.remove(str(tests))
        for helper in helpers:
            try:
                helper.wait(timeout=120)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject.toml): two workers per core, at most eight (PYTEST_XDIST_AUTO_NUM_WORKERS, when set,
    decides instead). Half of the suite's time is waiting, on the ``relay`` processes it starts, on sockets and on
    the simulator's timeouts, so one worker per core would leave the cores idle; each worker also imports and
    collects the whole suite, hence the cap."""
    import os

    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own answer reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(8, 2 * cores)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first, dealt out one at a time to the heads of the workers' shares.

    ``--dist worksteal`` gives each worker a consecutive share of the list at the start, runs it in order, and
    lets a worker that runs out take the second half of another's rest: a long test near the end of a share ran
    last, alone, and the run waited for it; several at the head of one share ran one after the other. At the
    head of each share they run first, beside each other, while the rest is spread. Every worker orders its
    collection this way, so all agree (xdist requires it)."""
    import itertools
    import os

    marked = [item for item in items if item.get_closest_marker("long")]
    if not marked:
        return
    rest = iter([item for item in items if not item.get_closest_marker("long")])
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    ordered: list[pytest.Item] = []
    left = len(items)
    for k in range(workers):
        share = left // (workers - k)  # worksteal's first split: what is left, shared among the workers left
        heads = marked[k::workers]
        ordered += heads + list(itertools.islice(rest, max(0, share - len(heads))))
        left -= max(share, len(heads))
    ordered += list(rest)
    assert len(ordered) == len(items)
    items[:] = ordered


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """No test sees the developer's config, keyring or RELAY_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("RELAY_") or name in ("NO_COLOR", "CI"):
            monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    monkeypatch.setenv("RELAY_CONFIG_DIR", str(config))
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RELAY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RELAY_API_KEY", TOKEN)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    # preflight checks of call workflows (a WebSocket handshake, a GET of the account's workflows) are off,
    # except in the tests that turn them on (tests/test_preflight.py, tests/test_preflight_default.py); retries
    # never sleep
    monkeypatch.setenv("RELAY_NO_CHECK", "1")
    monkeypatch.setattr("relay_cli.api.client.wait", lambda seconds: None)
    return config


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    """``run("workflow", "list", "--json")`` → Result(code, out, err); stdin is not a terminal.

    Each call runs ``main`` as the console script does; with ``out=Output(...)``, the command line runs with that
    Output (``answering``: a terminal on stdin; ``Output(stdout_isatty=True)``: stdout is a terminal), its streams
    the process's unless it names others.
    """

    def _run(*args: str, out: Output | None = None) -> Result:
        capsys.readouterr()
        code = main(list(args)) if out is None else relay_app.run(list(args), out)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (for a test that starts something there, or connects to
    find nothing)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files), made once per test process."""
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    made = tmp_path_factory.mktemp("tls")
    cert, key = made / "cert.pem", made / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def answering(text: str, **settings: Any) -> Output:
    """An Output whose stdin is a terminal that answers ``text`` to the questions asked; the other streams are the
    process's (as captured), with ``settings`` as given."""
    return Output(stdin=io.StringIO(text), stdin_isatty=True, **settings)


def stored_workflow(workflow_id: str, name: str, trigger: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A workflow as the server returns it from GET /ibot/workflow."""
    wf = {
        "workflow_id": workflow_id,
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {
            "trigger": {
                "start": {"workflow": {"uri": f"wss://example.com/{name}", "args": {}}},
                **(trigger or {"on_incoming_call": ".*"}),
            }
        },
        "install": ["990007560045678"],
    }
    wf.update(extra)
    return wf


def sent(api: Any) -> list[tuple[str, str, dict[str, str]]]:
    """Every request a respx router saw, as (method, path, query); each carried the test token."""
    out = []
    for call in api.calls:
        request = call.request
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        out.append((request.method, request.url.path, dict(request.url.params)))
    return out


def sandbox_note(data_dir: Path) -> str:
    """The line a listing of the in-process sandbox ends with on stderr (its database in ``data_dir``)."""
    return (
        f"note: this is the local sandbox's data ({data_dir / 'sandbox.db'}), not Relay's. To use Relay: set "
        "RELAY_API_KEY, or `relay login`; `relay profile show` tells the target.\n"
    )


def clean(result: Result) -> None:
    """No token, no ANSI escape codes and no traceback in what a command printed."""
    assert TOKEN not in result.out + result.err
    assert "\x1b" not in result.out + result.err
    assert "Traceback" not in result.err


#: for a child process that races others (``release_together``): sys.argv[1] is the signals directory, sys.argv[2]
#: the process's name; once its imports are done it says it is ready, then waits for the word to go
READY_SET_GO = """
import sys, time
from pathlib import Path
_signals, _name = Path(sys.argv[1]), sys.argv[2]
(_signals / f"ready-{_name}").touch()
_deadline = time.monotonic() + 60
while not (_signals / "go").exists():
    if time.monotonic() > _deadline:
        sys.exit("no word to go within 60 s")
    time.sleep(0.005)
"""


def release_together(procs: list[subprocess.Popen[Any]], signals: Path, timeout: float = 60) -> None:
    """Once every process of ``procs`` is ready (each runs ``READY_SET_GO`` after its imports), let them all go at
    once: the race starts with every interpreter up, however loaded the machine, and no sooner than that."""
    deadline = time.monotonic() + timeout
    while len(list(signals.glob("ready-*"))) < len(procs):
        ended = [proc for proc in procs if proc.poll() is not None]
        assert not ended, [proc.communicate() for proc in ended]
        assert time.monotonic() < deadline, f"the processes were not ready within {timeout} s"
        time.sleep(0.005)
    (signals / "go").touch()
