"""Fault injection: 30% of the requests to the sandbox fail, and apply still ends with exactly the manifest.

The failing transport sits between the client and the in-process sandbox (``httpx.WSGITransport`` over
``relay_cli.local.app.make_app``). A failing request, in equal parts:
- is answered 503 without reaching the sandbox,
- is refused at connect time (``httpx.ConnectError``) without reaching the sandbox,
- reaches the sandbox, which carries it out, and then the connection drops (``httpx.ReadError``): the
  answer is lost — the case where resending a create would make a duplicate.

Which attempt fails is decided by a hash of the request and how often that same request was seen, so the
run is the same whatever order the threads send in. Retries do not sleep (conftest).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay_cli.local.app import make_app
from relay_cli.local.seed import DEMO_DEVICES, DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore

RATE = 0.30
ALICE = next(iter(DEMO_DEVICES))


class Faulty(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, rate: float = RATE) -> None:
        self.inner = inner
        self.rate = rate
        self.lock = threading.Lock()
        self.seen = Counter[bytes]()
        self.outcomes = Counter[str]()
        self.creates_reaching_the_server = 0

    def _draw(self, request: httpx.Request) -> float:
        key = request.method.encode() + b" " + str(request.url).encode() + b"\n" + request.content
        with self.lock:
            self.seen[key] += 1
            n = self.seen[key]
        digest = hashlib.sha256(key + b"#%d" % n).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        draw = self._draw(request)
        is_create = request.method == "POST" and b'"workflow_id"' not in request.content
        if draw >= self.rate:
            kind = "ok"
        else:
            kind = ("503", "connect", "drop")[int(draw / self.rate * 3)]
        with self.lock:
            self.outcomes[kind] += 1
            if is_create and kind in ("ok", "drop"):
                self.creates_reaching_the_server += 1
        if kind == "503":
            return httpx.Response(503, json={"error": "unavailable", "message": "try again"})
        if kind == "connect":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        response = self.inner.handle_request(request)
        response.read()
        if kind == "drop":
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Faulty:
    """Every client the CLI makes for the `local` profile goes through one Faulty transport."""
    from relay_cli.state import LOCAL_TOKEN

    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    transport = Faulty(httpx.WSGITransport(app=make_app(store, token=LOCAL_TOKEN)))
    monkeypatch.setattr("relay_cli.state.State.transport", lambda self: transport)
    transport.store = store  # type: ignore[attr-defined]
    return transport


def test_apply_200_workflows_through_30_percent_failures(run: Any, tmp_path: Path, faulty: Faulty) -> None:
    count = 200
    path = tmp_path / "relay.toml"
    path.write_text(
        "".join(f'[workflow.f{i:03}]\ntype = "call"\ntrigger = "inbound"\nuri = "wss://h/{i}"\ninstall = ["{ALICE}"]\n\n'
                for i in range(count)),
        encoding="utf-8",
    )  # fmt: skip
    result = run("--profile", "local", "workflow", "apply", "-f", str(path), "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["ok"] is True
    assert len(report["created"]) == count and report["failed"] == [] and report["not_attempted"] == []

    stored = faulty.store.list_workflows(DEMO_SUBSCRIBER)  # type: ignore[attr-defined]
    assert sorted(w["name"] for w in stored) == [f"f{i:03}" for i in range(count)]  # exactly the 200, once each
    assert sorted(c["workflow_id"] for c in report["created"]) == sorted(w["workflow_id"] for w in stored)

    # the faults really happened, at about the rate asked for, all three kinds, including lost answers to creates
    total = sum(faulty.outcomes.values())
    failed = total - faulty.outcomes["ok"]
    assert 0.2 < failed / total < 0.4, faulty.outcomes
    assert min(faulty.outcomes["503"], faulty.outcomes["connect"], faulty.outcomes["drop"]) >= 10, faulty.outcomes
    assert faulty.creates_reaching_the_server == count  # no create was sent again once it had reached the server

    # and the account is in sync, through the same failures
    diff = run("--profile", "local", "workflow", "diff", "-f", str(path))
    assert diff.code == 0, diff.err


def test_a_dead_server_fails_cleanly_naming_what_was_done(run: Any, tmp_path: Path, faulty: Faulty) -> None:
    path = tmp_path / "relay.toml"
    path.write_text('[workflow.a]\ntype = "button"\nuri = "wss://h/a"\n', encoding="utf-8")
    faulty.rate = 1.0  # nothing gets through
    result = run("--profile", "local", "workflow", "apply", "-f", str(path))
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert "(tried 4 times" in result.err
    assert faulty.store.list_workflows(DEMO_SUBSCRIBER) == []  # type: ignore[attr-defined]


def test_an_auth_failure_stops_what_is_not_yet_sent(run: Any, tmp_path: Path, faulty: Faulty) -> None:
    sandbox = faulty.inner

    class Refusing(httpx.BaseTransport):
        def __init__(self) -> None:
            self.posts = 0
            self.lock = threading.Lock()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                with self.lock:
                    self.posts += 1
                return httpx.Response(401, json={"error": "invalid_token"})
            return sandbox.handle_request(request)

    refusing = Refusing()
    faulty.inner, faulty.rate = refusing, 0.0
    path = tmp_path / "relay.toml"
    path.write_text(
        "".join(f'[workflow.a{i}]\ntype = "button"\nuri = "wss://h/{i}"\n' for i in range(100)), encoding="utf-8"
    )
    result = run("--profile", "local", "workflow", "apply", "-f", str(path), "--jobs", "4")
    assert result.code == 4
    assert refusing.posts <= 4  # what was in flight; the rest was never sent
    assert (
        f"0 created, 0 updated, 0 deleted, 0 unchanged; {refusing.posts} failed, {100 - refusing.posts} not attempted"
        in result.err
    )
