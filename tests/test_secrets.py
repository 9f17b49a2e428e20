"""No command prints or writes the token (stdout, stderr, config files), on success or failure, with --verbose."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from relay_cli.core.triggers import TRIGGERS

from conftest import API, SUB, stored_workflow

SECRET = "SECRET-abc123-TOKEN"
WF = stored_workflow("wf-1", "my_wf", {"on_http": "POST"})
WF["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": "hi", "x": "1"}
MANIFEST = 'account = "SUB"\n[workflow.my_wf]\ntype = "http"\ntrigger = "POST"\nuri = "wss://h/p"\ninstall_all = true\n'
COMMANDS = [
    ["devices", "-s", SUB], ["group", "list", "-s", SUB], ["whoami"], ["env", "--process"], ["env", "--json"],
    ["subscriber", "get"], ["subscriber", "list"], ["subscriber", "set", SUB], ["profile", "show"], ["profile", "list"],
    ["workflow", "list", "-s", SUB], ["workflow", "list", "-s", SUB, "--json"], ["workflow", "export", "-s", SUB],
    ["workflow", "args", "list", "-w", "wf-1", "-s", SUB], ["workflow", "instance", "list", "-s", SUB],
    ["workflow", "create", "http", "--trigger", "POST", "-n", "n", "-u", "wss://h/p", "-s", SUB, "-A"],
    ["workflow", "install", "-w", "wf-1", "-i", "d9", "-s", SUB, "--yes"], ["workflow", "delete", "-w", "wf-1", "-s", SUB, "--yes"],
    ["workflow", "trigger", "-w", "wf-1", "-u", "d1", "-s", SUB], ["workflow", "uninstall", "-w", "wf-1", "-i", "d1", "-s", SUB],
    ["workflow", "args", "get", "-w", "wf-1", "-s", SUB, "greeting"], ["workflow", "args", "set", "-w", "wf-1", "-s", SUB, "-a", "x=1"],
    ["workflow", "args", "unset", "-w", "wf-1", "-s", SUB, "x"], ["workflow", "instance", "stop", "-s", SUB, "-i", "i-1", "--yes", "--no-wait"],
    ["workflow", "logs", "-s", SUB], ["workflow", "diff", "-f", "relay.toml"], ["workflow", "apply", "-f", "relay.toml"],
    ["workflow", "create", "call", "--trigger", "inbound", "-n", "c", "-u", "wss://h/p", "-s", SUB, "-i", "d1"],
    ["profile", "add", "p2"], ["profile", "set", "subscriber_id", SUB], ["profile", "unset", "subscriber_id"],
    ["profile", "use", "default"], ["profile", "remove", "p2"],
    ["geofence", "list", "-s", SUB], ["geofence", "create", "-n", "g", "-a", "addr", "-r", "5", "-s", SUB],
    ["geofence", "delete", "gf-1", "--yes", "-s", SUB], ["venues", "-s", SUB], ["positions", "-v", "v-1", "-s", SUB],
    ["tag", "list", "-s", SUB], ["tag", "create", "-c", "c", "-l", "l", "-s", SUB],
    ["tag", "update", "t-1", "-c", "c", "-l", "l", "-s", SUB], ["tag", "delete", "t-1", "--yes", "-s", SUB],
    ["analytics", "-s", SUB], ["analytics", "workflow", "-w", "wf-1", "--all", "--json", "-s", SUB],
    ["audio", "list", "-s", SUB], ["audio", "delete", "au-1", "--yes", "-s", SUB],
    ["audio", "create", "-n", "welcome", "-f", "welcome.wav", "-s", SUB],
    ["user", "list", "-s", SUB], ["user", "assignments", "-s", SUB, "--all"],
    ["login"], ["token", "generate", "--no-browser"], ["whoami", "--json"], ["logout"],
]
#: not run here, and why
SKIPPED = {
    "server": "serves until interrupted (its token is its own)",
    "workflow simulate": "talks WebSocket to a workflow app, not to the Relay API",
    "workflow check": "talks WebSocket to a workflow app",
    "workflow init": "writes a project from templates, sends nothing",
    "workflow dev": "runs a local app against the simulator; the app's environment has no RELAY_API_KEY (test_dev.py)",
    "help": "prints help text, sends nothing", "version": "prints the version, sends nothing",
    "update": "names the upgrade command, sends nothing",
    "completion show": "prints a static script", "completion install": "writes a shell's rc file",
    # every trigger of core/triggers/table.py but the two run above: the same path as `create http`
    **{f"workflow create {t.name}": "same path as create http" for t in TRIGGERS if t.name not in ("http", "call")},
}


def test_every_command_is_covered() -> None:
    import typer

    from relay_cli.app import build_app

    def leaves(cmd: Any, path: list[str]) -> Any:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from leaves(sub, [*path, name])
        else:
            yield " ".join(path)

    run_paths = set()
    for args in COMMANDS:
        words = [a for a in args if not a.startswith("-")]
        for n in range(len(words), 0, -1):
            run_paths.add(" ".join(words[:n]))
    missing = [c for c in leaves(typer.main.get_command(build_app()), []) if c not in run_paths and c not in SKIPPED]
    assert missing == []


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", ["api_key", "stored"])
@pytest.mark.parametrize("status", [200, 401, 500])
def test_token_never_leaks(run: Any, monkeypatch: pytest.MonkeyPatch, isolated_env: Any, mode: str, status: int) -> None:
    if mode == "api_key":
        monkeypatch.setenv("RELAY_API_KEY", SECRET)
    else:
        monkeypatch.delenv("RELAY_API_KEY")
        monkeypatch.setenv("RELAY_ENV", "pro")  # a Relay target, so the sandbox is not picked implicitly
        from relay_cli.auth.tokens import TokenStore

        TokenStore(isolated_env).save("default", API, {"access_token": SECRET, "refresh_token": SECRET + "-r"})
        monkeypatch.setenv("RELAY_AUTH_ISSUER", "http://127.0.0.1:9/realms/none")  # refresh fails: nothing listens
    monkeypatch.setenv("RELAY_HEADERS", '{"X-Api-Key": "%s"}' % SECRET)
    monkeypatch.setenv("RELAY_AUTH_REDIRECT_URI", f"http://127.0.0.1:{_free_port()}/authorization-code/callback")
    monkeypatch.setattr("relay_cli.auth.oauth.LOGIN_TIMEOUT", 0.2)  # login/token generate: the timeout path
    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", lambda url: False)
    monkeypatch.chdir(isolated_env.parent)
    (isolated_env.parent / "relay.toml").write_text(MANIFEST)
    frames = b"\x00\x01" * 100  # a tiny WAV for `audio create`
    fmt = b"fmt " + (16).to_bytes(4, "little") + bytes.fromhex("01000100401f0000803e000002001000")
    riff = b"WAVE" + fmt + b"data" + len(frames).to_bytes(4, "little") + frames
    (isolated_env.parent / "welcome.wav").write_bytes(b"RIFF" + len(riff).to_bytes(4, "little") + riff)

    def answer(request: httpx.Request) -> httpx.Response:
        if status != 200:
            return httpx.Response(status, json={"error": "nope"})
        path = request.url.path
        if path == "/ibot/workflow":
            return httpx.Response(200, json={"results": [WF]} if request.method == "GET" else [WF])
        if path.endswith("device_ids"):
            return httpx.Response(200, json={"devices": ["d1"]})
        if path == "/ibot/workflow_instances" and request.method == "GET":
            return httpx.Response(200, json=[{"instance_id": "i-1", "workflow_id": "wf-1", "subscriber_id": SUB,
                                              "triggering_user_id": "d1", "workflow_uri": "wss://h/p"}])
        if path == "/ibot/authz_context":
            return httpx.Response(200, json=[{"subscriber_id": SUB}])
        if path.startswith("/ibot/subscriber_info"):
            return httpx.Response(200, json={"capabilities": {"calling": True}})
        if path == "/ibot/custom_audio" and request.method == "POST":
            return httpx.Response(200, json={"result": {"id": "au-1"}, "s3_upload_url": f"{API}/upload?X-Amz-Signature=s"})
        if path == "/ibot/custom_audio":
            return httpx.Response(200, json=[{"id": "au-1", "short_name": "welcome", "audio_format": "wave"}])
        if path == "/ibot/geofence" and request.method == "GET":  # a delete looks its item up first
            return httpx.Response(200, json=[{"geofence_id": "gf-1", "label": "g"}])
        if path == "/ibot/relay_nfc_tag/t-1" and request.method == "GET":
            return httpx.Response(200, json={"tag_id": "t-1", "content": {"type": "custom", "category": "c", "label": "l"}})
        return httpx.Response(200, json=[])

    codes: list[tuple[str, int]] = []
    for args in COMMANDS:
        with respx.mock(assert_all_called=False) as mock:
            mock.route(host="127.0.0.1").pass_through()
            mock.route(host=httpx.URL(API).host).mock(side_effect=answer)
            result = run("--verbose", *args)
        assert SECRET not in result.out + result.err, args
        assert "Traceback" not in result.err, args
        codes.append((" ".join(args[:3]), result.code))
    if status == 200:  # the success paths really succeed (diff may say 5: changes pending; login/token generate time out: no browser here)
        assert [c for c in codes if c[1] not in (0, 5) and c[0].split()[0] not in ("login", "token")] == [], codes
    for path in isolated_env.rglob("*"):
        if path.is_file() and path.name != "credentials.json":
            assert SECRET not in path.read_text(errors="replace"), path
