"""``relay workflow doctor``: each check failing on its own, with its message and fix (exit 6), all of them passing
(exit 0), the device's "<name> is not available" explained, --json, and the plain ASCII marks.

The workflows are registered in the in-process sandbox and point at the test's own servers on loopback: a
WebSocket server (websockets) that accepts the handshake at /x only, the same over TLS with a certificate the
test makes (trusted through SSL_CERT_FILE, or not), and a closed port. Relay's own rules (wss:// only, no
address of this machine) are checked against Relay's API mocked with respx."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relay_cli.output import Output

from conftest import API, SUB, free_port, stored_workflow

CAROL, ALICE = "990007560011111", "990007560045678"


class App:
    """A WebSocket server on loopback that accepts the handshake at /x (404 elsewhere), over TLS when given a
    context."""

    def __init__(self, port: int = 0, context: ssl.SSLContext | None = None) -> None:
        from websockets.sync.server import serve

        def only_x(connection: Any, request: Any) -> Any:
            if request.path != "/x":
                return connection.respond(404, "no workflow here\n")
            return None

        def handler(ws: Any) -> None:
            for _ in ws:
                pass

        self.server = serve(handler, "127.0.0.1", port, ssl=context, process_request=only_x)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_API_KEY")  # nothing configured: the in-process sandbox


@pytest.fixture
def apps(certificate: tuple[Path, Path]) -> Iterator[dict[str, Any]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    plain, secure = App(), App(context=context)
    yield {"ws": plain.port, "wss": secure.port, "closed": free_port()}
    plain.close()
    secure.close()


def register(run: Any, uri: str, *install: str) -> None:
    result = run("workflow", "create", "button", "--trigger", "double", "--name", "tapper", "--uri", uri, *install)
    assert result.code == 0, result.err


#: case → (its URI, where it is installed, --device, the one check that fails and what it says)
CASES = {
    "not registered": (None, (), None, "registered", "no workflow with id or name 'tapper' in account demo-account; fix: `relay workflow list`"),
    "not installed on the device": ("ws://127.0.0.1:{ws}/x", ("-i", ALICE), "Carol", "installed", f"not on Carol ({CAROL}) (it is installed on {ALICE}): a trigger there starts nothing; fix: `relay workflow install -w tapper -i {CAROL}`"),
    "placeholder host": ("wss://YOUR-HOST/x", ("-i", CAROL), "Carol", "URI", "wss://YOUR-HOST/x: YOUR-HOST is a placeholder, not your app's host; fix: `relay workflow update -w tapper --uri wss://HOST/PATH`"),
    "refused": ("ws://127.0.0.1:{closed}/x", ("-i", CAROL), "Carol", "server reachable", "connection refused; fix: start the app"),
    "no WebSocket at the path": ("ws://127.0.0.1:{ws}/nope", ("-i", CAROL), "Carol", "WebSocket", "the server answered HTTP 404 instead of switching to WebSocket; fix: the app must serve the workflow at /nope"),
    "TLS failure": ("wss://127.0.0.1:{wss}/x", ("-i", CAROL), "Carol", "TLS", "TLS failed: self-signed certificate; fix: serve a certificate a public CA signed"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_each_check_fails_on_its_own_with_its_fix(
    run: Any, sandbox: None, apps: dict[str, Any], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, install, device, failing, message = CASES[case]
    if uri is not None:
        register(run, uri.format(**apps), *install)
    result = run("workflow", "doctor", "tapper", *(["--device", device] if device else []))
    assert result.code == 6, result.err
    failed = [line for line in result.out.splitlines() if line.startswith("✗")]
    assert len(failed) == 1 and failed[0].split(None, 1)[1].startswith(f"{failing}  ".ljust(17)), result.out
    assert message in failed[0], failed[0]
    assert result.err.splitlines()[0] == f"error: 1 of 9 checks failed for tapper: {failing}"
    if failing in ("URI", "server reachable", "TLS", "WebSocket"):
        assert result.err.splitlines()[1].startswith(
            f'hint: Carol ({CAROL}) says "tapper is not available" when the trigger fires: Relay cannot open the '
            f"WebSocket at the workflow's URI ({failing}: "
        )
    if failing == "installed":
        assert (
            result.err.splitlines()[1]
            == f"hint: the trigger on Carol ({CAROL}) starts nothing: tapper is not installed there"
        )


def test_doctor_finds_a_workflow_by_the_short_id_a_table_shows(run: Any, sandbox: None, apps: dict[str, Any]) -> None:
    register(run, f"ws://127.0.0.1:{apps['ws']}/x", "-i", CAROL)
    listed = run("workflow", "list", "--json")
    ident = next(w["workflow_id"] for w in json.loads(listed.out) if w["name"] == "tapper")
    result = run("workflow", "doctor", ident[:10], "--device", "Carol")
    assert result.out.splitlines()[0] == f"✔ registered        tapper ({ident})", result.out


def test_every_check_passes_over_tls_through_a_group(
    run: Any, sandbox: None, apps: dict[str, Any], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the app's certificate, trusted
    register(run, f"wss://127.0.0.1:{apps['wss']}/x", "--install-group", "front-desk")
    result = run("workflow", "doctor", "tapper", "--device", "Alice")
    assert (result.code, result.err) == (0, ""), result.out
    lines = result.out.splitlines()
    assert [line.split()[0] for line in lines] == ["✔"] * 9
    assert lines[1] == f"✔ installed         on Alice ({ALICE}), through group Front desk"
    assert lines[2] == "✔ trigger           button:double"
    assert lines[4] == f"✔ server reachable  127.0.0.1:{apps['wss']} accepts connections"
    assert lines[5] == "✔ TLS               the certificate is valid for 127.0.0.1"
    assert lines[6] == "✔ WebSocket         the handshake at /x was accepted"


def test_errors_in_the_log_fail_the_log_check(run: Any, sandbox: None) -> None:
    port = free_port()
    register(run, f"ws://127.0.0.1:{port}/x", "-i", CAROL)
    assert run("sandbox", "press", "Carol", "--taps", "double").code == 1  # the app is not up yet: an error logged
    app = App(port)
    try:
        result = run("workflow", "doctor", "tapper", "--json")
    finally:
        app.close()
    assert result.code == 6
    report = result.json()
    assert [c["check"] for c in report["checks"] if c["status"] == "failed"] == ["log"]
    [log] = [c for c in report["checks"] if c["check"] == "log"]
    assert (
        log["detail"].startswith("1 error (")
        and "tapper is not available: cannot reach the workflow app" in log["detail"]
    )
    assert log["fix"] == "`relay workflow logs -w NAME` shows the log as it comes"
    assert report["explanation"] is None and report["ok"] is False and report["device"] is None


RELAY_WF = stored_workflow(
    "wf_1", "tapper", {"on_button": "action_button_double_tap"}, install_rule="urn:relay-resource:all:device"
)


@pytest.mark.parametrize(
    ("uri", "detail"),
    [
        ("ws://dev.relay-test.net/x", "ws://dev.relay-test.net/x: Relay connects to workflows over wss:// only"),
        ("wss://127.0.0.1:8443/x", "wss://127.0.0.1:8443/x: 127.0.0.1 is an address of this machine or a private network, which Relay cannot reach"),
        ("wss://10.1.2.3/x", "wss://10.1.2.3/x: 10.1.2.3 is an address of this machine or a private network"),
    ],
)  # fmt: skip
def test_on_relay_the_uri_must_be_public_wss(run: Any, uri: str, detail: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", SUB)
    workflow = json.loads(json.dumps(RELAY_WF))
    workflow["config"]["trigger"]["start"]["workflow"]["uri"] = uri
    log = b'{"level": "info", "message": "started", "timestamp": "t"}\n'
    with respx.mock(base_url=API, assert_all_called=True) as api:
        api.get("/ibot/subscriber/SUB/device_ids").respond(json={"devices": [CAROL]})
        api.get("/ibot/workflow").respond(json={"results": [workflow]})
        api.get("/ibot/workflow_instances").respond(
            json=[{"instance_id": "i1", "workflow_id": "wf_1", "triggering_user_id": CAROL}]
        )
        api.get("/ibot/workflowdebug").respond(content=log)
        result = run("workflow", "doctor", "tapper", "--device", CAROL, out=Output(encoding="ascii"))
    assert result.code == 6
    assert result.out.splitlines() == [
        "[ok]   registered        tapper (wf_1)",
        f"[ok]   installed         on {CAROL}, on all devices",
        "[ok]   trigger           button:double",
        f"[FAIL] URI               {detail}" + result.out.splitlines()[3].split(detail, 1)[1],
        "[skip] server reachable  fix the URI first",
        "[skip] TLS               fix the URI first",
        "[skip] WebSocket         fix the URI first",
        f"[ok]   instances         1 running now (on {CAROL})",
        "[ok]   log               no errors (1 line in 2 s)",
    ]  # fmt: skip
    assert "; fix: `relay workflow update -w tapper --uri wss://HOST/PATH`" in result.out or "private network" in detail
    assert all(call.request.url.host == httpx.URL(API).host for call in api.calls)
