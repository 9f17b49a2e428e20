"""``relay workflow diff | apply | export`` against the local sandbox, and bulk ``-i @file`` / ``-i -``.

The in-process sandbox (``--profile local``) is the Relay API on a SQLite file; one test
kills a real ``relay workflow apply`` process talking to ``relay server`` over loopback.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from relay_cli.local.seed import DEMO_DEVICES, DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore

ALICE, BOB, CAROL = list(DEMO_DEVICES)[:3]
LOCAL = ("--profile", "local")

MANIFEST = f"""\
# the calling guide's three registrations, and one of each other kind
[workflow.my_auto_answer]
type = "call"
trigger = "inbound"
uri = "wss://myhost.mydomain.com/autoanswerpath"
install = ["{ALICE}"]

[workflow.my_auto_answer.args]
greeting = "hello"
volume = 2.5
loud = true

[workflow.outbound]
type = "call"
trigger = "outbound"
uri = "wss://myhost.mydomain.com/outboundpath"
install = ["{BOB}"]

[workflow.place-call]
type = "button"
trigger = "double"
uri = "wss://myhost.mydomain.com/placecallpath"
install_all = true

[workflow.hello]
type = "phrase"
trigger = ["hello world"]
uri = "wss://myhost.mydomain.com/hello"
install_group = "front-desk"

[workflow.sos]
type = "event"
uri = "wss://myhost.mydomain.com/sos"
install_all = true
transient = false

[workflow.low-battery]
type = "battery"
trigger = "discharge"
threshold = 20
uri = "wss://myhost.mydomain.com/battery"
install = ["{ALICE}", "{BOB}"]

[workflow.webhook]
type = "http"
uri = "wss://myhost.mydomain.com/hook"
install = ["{CAROL}"]
hidden = true

[workflow.room-check]
type = "nfc"
category = "tasks"
label = "Room 12"
uri = "wss://myhost.mydomain.com/nfc"
install_all = true

[workflow.left-site]
type = "geofence"
trigger = "exit"
geofence_id = "G1"
uri = "wss://myhost.mydomain.com/geo"
install_all = true

[workflow.at-desk]
type = "position"
venue_id = "V1"
position_id = "P1"
uri = "wss://myhost.mydomain.com/pos"
install_all = true

[workflow.standup]
type = "timer"
trigger = "repeat"
start = 2030-01-01T09:00:00
timezone = "America/Chicago"
count = 10
days = ["MO", "WE"]
uri = "wss://myhost.mydomain.com/standup"
install_all = true
"""
NAMES = sorted(tomllib.loads(MANIFEST)["workflow"])


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxStore:
    """The sandbox database the `local` profile uses (RELAY_DATA_DIR is a temporary directory)."""
    return SandboxStore(tmp_path / "data" / "sandbox.db")


def names(store: SandboxStore) -> list[str]:
    return sorted(w["name"] for w in store.list_workflows(DEMO_SUBSCRIBER))


def write(tmp_path: Path, text: str, name: str = "relay.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_apply_diff_change_one_arg_apply_in_sync(run: Any, tmp_path: Path, sandbox: SandboxStore) -> None:
    path = write(tmp_path, MANIFEST)
    first = run(*LOCAL, "workflow", "diff", "-f", path)
    assert first.code == 5, first.err
    assert first.out.count("+ create") == len(NAMES)

    applied = run(*LOCAL, "workflow", "apply", "-f", path)
    assert applied.code == 0, applied.err
    assert (
        f"Applied to account {DEMO_SUBSCRIBER}: {len(NAMES)} created, 0 updated, 0 deleted, 0 unchanged." in applied.err
    )
    assert names(sandbox) == NAMES
    ids = {w["name"]: w["workflow_id"] for w in sandbox.list_workflows(DEMO_SUBSCRIBER)}

    in_sync = run(*LOCAL, "workflow", "diff", "-f", path)
    assert in_sync.code == 0, in_sync.err
    assert in_sync.out == f"In sync: {len(NAMES)} workflows of {path} unchanged in account {DEMO_SUBSCRIBER}.\n"

    write(tmp_path, MANIFEST.replace('greeting = "hello"', 'greeting = "good morning"'))
    drift = run(*LOCAL, "workflow", "diff", "-f", path)
    assert drift.code == 5
    assert drift.out == (
        f"~ update  my_auto_answer ({ids['my_auto_answer']})\n"
        '    args.greeting: "hello" -> "good morning"\n'
        f"Plan for account {DEMO_SUBSCRIBER}: 0 to create, 1 to update, 0 to delete, {len(NAMES) - 1} unchanged.\n"
    )
    as_json = run(*LOCAL, "workflow", "diff", "-f", path, "--json")
    assert as_json.code == 5
    plan = as_json.json()
    assert plan["update"] == [{"name": "my_auto_answer", "workflow_id": ids["my_auto_answer"],
                               "changes": [{"field": "args.greeting", "old": "hello", "new": "good morning"}]}]  # fmt: skip
    assert (plan["create"], plan["delete"], plan["in_sync"]) == ([], [], False)

    updated = run(*LOCAL, "workflow", "apply", "-f", path, "--json")
    assert updated.code == 0, updated.err
    assert updated.json()["updated"] == [{"name": "my_auto_answer", "workflow_id": ids["my_auto_answer"]}]
    assert updated.json()["created"] == []
    after = {w["name"]: w for w in sandbox.list_workflows(DEMO_SUBSCRIBER)}
    assert {n: w["workflow_id"] for n, w in after.items()} == ids  # updated in place
    assert after["my_auto_answer"]["config"]["trigger"]["start"]["workflow"]["args"] == {
        "greeting": "good morning", "volume": 2.5, "loud": True,
    }  # fmt: skip
    assert run(*LOCAL, "workflow", "diff", "-f", path).code == 0

    again = run(*LOCAL, "workflow", "apply", "-f", path)  # re-running is a no-op
    assert again.code == 0
    assert "In sync" in again.out
    assert "note: this changed the local sandbox" not in again.err  # nothing was written


def test_prune_deletes_only_what_the_manifest_leaves_out(run: Any, tmp_path: Path, sandbox: SandboxStore) -> None:
    path = write(tmp_path, MANIFEST)
    assert run(*LOCAL, "workflow", "apply", "-f", path).code == 0
    extra = run(*LOCAL, "workflow", "create", "button", "--name", "handmade", "--uri", "wss://h/x", "-A")
    assert extra.code == 0, extra.err

    kept = run(*LOCAL, "workflow", "diff", "-f", path)
    assert kept.code == 0  # without --prune a workflow the manifest does not list is left alone
    assert "1 workflow of the account is not in" in kept.err

    pruned = run(*LOCAL, "workflow", "diff", "-f", path, "--prune")
    assert pruned.code == 5
    assert pruned.out.startswith("- delete  handmade (wf_")

    refused = run(*LOCAL, "workflow", "apply", "-f", path, "--prune")  # no terminal, no --yes
    assert refused.code == 2
    assert "pass --yes" in refused.err
    assert "handmade" in names(sandbox)

    applied = run(*LOCAL, "workflow", "apply", "-f", path, "--prune", "--yes")
    assert applied.code == 0, applied.err
    assert "0 created, 0 updated, 1 deleted" in applied.err
    assert names(sandbox) == NAMES
    assert run(*LOCAL, "workflow", "diff", "-f", path, "--prune").code == 0


def test_dry_run_prints_the_plan_and_sends_nothing(run: Any, tmp_path: Path, sandbox: SandboxStore) -> None:
    path = write(tmp_path, MANIFEST)
    result = run(*LOCAL, "workflow", "apply", "-f", path, "--dry-run")
    assert result.code == 0, result.err
    assert result.out.count("+ create") == len(NAMES)
    assert "Dry run, nothing sent." in result.err
    assert names(sandbox) == []


def test_export_apply_round_trip_is_a_no_op(
    run: Any, tmp_path: Path, sandbox: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an account built with plain `create` commands, not with apply
    commands = [
        ["call", "--trigger", "inbound", "-n", "auto", "-u", "wss://h/a", "-i", ALICE, "-a", "greeting=hi", "-r", "n=2", "-b", "on=false"],
        ["phrase", "--trigger", "Call  my Manager", "-n", "phrase", "-u", "wss://h/p", "-G", "front-desk", "--no-transient"],
        ["battery", "--trigger", "charge", "--threshold", "90", "-n", "full", "-u", "wss://h/b", "-A", "-e"],
        ["timer", "--trigger", "repeat", "--start", "2030-01-01T09:00:00", "-z", "UTC", "-l", "2030-02-01T09:00:00", "-n", "t", "-u", "wss://h/t"],
        ["nfc", "-l", "Room 1", "-n", "tag", "-u", "wss://h/n", "-i", BOB, "-i", CAROL],
    ]  # fmt: skip
    for argv in commands:
        made = run(*LOCAL, "workflow", "create", *argv)
        assert made.code == 0, made.err
    before = sandbox.list_workflows(DEMO_SUBSCRIBER)

    exported = run(*LOCAL, "workflow", "export")
    assert exported.code == 0, exported.err
    assert exported.err == ""
    data = tomllib.loads(exported.out)
    assert data["account"] == DEMO_SUBSCRIBER
    assert sorted(data["workflow"]) == ["auto", "full", "phrase", "t", "tag"]

    monkeypatch.setattr(sys, "stdin", io.StringIO(exported.out))
    applied = run(*LOCAL, "workflow", "apply", "-f", "-", "--prune", "--yes")
    assert applied.code == 0, applied.err
    assert "In sync: 5 workflows of <stdin> unchanged" in applied.out
    assert sandbox.list_workflows(DEMO_SUBSCRIBER) == before

    one = run(*LOCAL, "workflow", "export", "-w", "auto")
    assert list(tomllib.loads(one.out)["workflow"]) == ["auto"]
    assert tomllib.loads(one.out)["workflow"]["auto"]["args"] == {"greeting": "hi", "n": 2, "on": False}
    assert run(*LOCAL, "workflow", "export", "-w", "nope").code == 3


def test_apply_interrupted_half_way_converges_on_the_next_run(
    run: Any, tmp_path: Path, sandbox: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relay_cli.api.client import RelayClient

    tables = "".join(
        f'[workflow.w{i:03}]\ntype = "button"\nuri = "wss://h/{i}"\ninstall = ["{ALICE}"]\n\n' for i in range(60)
    )
    path = write(tmp_path, tables)
    real_save = RelayClient.save_workflow
    saves = Counter[str]()
    lock = threading.Lock()

    def save_then_die(self: Any, subscriber: str, body: dict[str, Any]) -> Any:
        with lock:
            saves["n"] += 1
            if saves["n"] > 25:
                raise KeyboardInterrupt  # as if Ctrl-C came, half-way
        return real_save(self, subscriber, body)

    monkeypatch.setattr(RelayClient, "save_workflow", save_then_die)
    cut = run(*LOCAL, "workflow", "apply", "-f", path, "--jobs", "4")
    assert cut.code == 130
    assert "apply interrupted: 25 created" in cut.err
    assert "run the same apply again" in cut.err
    assert len(names(sandbox)) == 25

    monkeypatch.setattr(RelayClient, "save_workflow", real_save)
    rest = run(*LOCAL, "workflow", "apply", "-f", path)
    assert rest.code == 0, rest.err
    assert "35 created, 0 updated, 0 deleted, 25 unchanged" in rest.err
    assert names(sandbox) == [f"w{i:03}" for i in range(60)]  # each exactly once
    assert run(*LOCAL, "workflow", "diff", "-f", path).code == 0


def test_apply_killed_half_way_converges_on_the_next_run(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `relay workflow apply` process against `relay server`, killed with SIGKILL mid-way."""
    from relay_cli.local.server import close_server, make_server_for

    db = tmp_path / "server.db"
    server = make_server_for(db, port=0, token="tok")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        count = 200  # the kill comes at 40: most of the apply is still to do
        tables = "".join(f'[workflow.k{i:03}]\ntype = "button"\nuri = "wss://h/{i}"\n\n' for i in range(count))
        path = write(tmp_path, tables)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(
            RELAY_HOST=server.base_url, RELAY_API_KEY="tok", RELAY_CONFIG_DIR=str(tmp_path / "cfg"), RELAY_NO_CHECK="1"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "relay_cli", "workflow", "apply", "-f", path, "--jobs", "1", "-s", DEMO_SUBSCRIBER],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        store = SandboxStore(db)
        deadline = time.monotonic() + 30
        while len(store.list_workflows(DEMO_SUBSCRIBER)) < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        previous, done = -1, len(store.list_workflows(DEMO_SUBSCRIBER))
        while done != previous:  # the request that was in flight may still land
            time.sleep(0.2)
            previous, done = done, len(store.list_workflows(DEMO_SUBSCRIBER))
        assert 40 <= done < count, f"the apply was not cut half-way ({done} of {count})"

        monkeypatch.setenv("RELAY_HOST", server.base_url)
        monkeypatch.setenv("RELAY_API_KEY", "tok")
        rest = run("workflow", "apply", "-f", path, "-s", DEMO_SUBSCRIBER)
        assert rest.code == 0, rest.err
        assert f"{count - done} created, 0 updated, 0 deleted, {done} unchanged" in rest.err
        stored = [w["name"] for w in store.list_workflows(DEMO_SUBSCRIBER)]
        assert sorted(stored) == [f"k{i:03}" for i in range(count)]  # no duplicates
        assert run("workflow", "diff", "-f", path, "-s", DEMO_SUBSCRIBER).code == 0
    finally:
        server.shutdown()
        close_server(server)
        thread.join(timeout=5)


# --- bad input: exit 2, one line naming the file, nothing sent -------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[workflow.a]\ntype = 'call'\nuri = 'wss://h/p'\nthreshold = 3\n",
            "{path}: workflow.a.threshold: applies to type battery, not call; expected one of type, uri, install, "
            "install_all, install_group, transient, hidden, args, absorb, trigger",
        ),
        (
            "[workflow.a]\ntype = 'call'\nuri = 'wss://h/p'\n[workflow.b]\ntype = 'battery'\nthreshold = 0\nuri = 'wss://h/p'\n",
            "{path}: workflow.b.threshold: expected a whole percentage from 1 to 100, got 0",
        ),
        ("[workflow.a]\ntype = call\n", "{path}: invalid TOML: Invalid value (at line 2, column 8)"),
        (
            "[workflow.a]\n[workflow.a]\n",
            "{path}: invalid TOML: Cannot declare ('workflow', 'a') twice (at line 2, column 12)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["diff", "apply", "check"])
def test_a_bad_manifest_is_exit_2_and_one_line(
    run: Any, tmp_path: Path, sandbox: SandboxStore, command: str, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    result = run(*LOCAL, "workflow", command, "-f", path)
    assert result.code == 2
    assert result.out == ""
    assert result.err == "error: " + message.format(path=path) + "\n"
    assert names(sandbox) == []


def test_a_missing_manifest_is_exit_2(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*LOCAL, "workflow", "diff")
    assert result.code == 2
    assert result.err == "error: relay.toml: no such file (name the manifest with -f FILE)\n"


def test_the_manifest_names_the_account_and_profile(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'account = "demo-account"\nprofile = "local"\n[workflow.a]\ntype = "button"\nuri = "wss://h/p"\n')
    result = run("workflow", "apply")  # no --profile, no -s: the manifest says where
    assert result.code == 0, result.err
    assert "Applied to account demo-account: 1 created" in result.err
    other = run("workflow", "diff", "-s", "nobody")  # the manifest's account and -s disagree: nothing is sent
    assert other.code == 2
    assert run("workflow", "diff", "-s", "nobody", "--account-from", "selected").code == 3  # no such account
    write(tmp_path, 'profile = "nope"\n[workflow.a]\ntype = "button"\nuri = "wss://h/p"\n')
    missing = run("workflow", "diff")
    assert missing.code == 2
    assert missing.err == "error: relay.toml: profile: no profile named 'nope' (`relay profile list` shows them)\n"


def test_a_rejected_workflow_fails_the_apply_but_not_the_others(
    run: Any, tmp_path: Path, sandbox: SandboxStore
) -> None:
    path = write(tmp_path, '[workflow.good]\ntype = "button"\nuri = "wss://h/p"\n'
                           '[workflow.bad]\ntype = "button"\nuri = "wss://h/p"\ninstall = ["not-a-device"]\n')  # fmt: skip
    result = run(*LOCAL, "workflow", "apply", "-f", path)
    assert result.code == 1
    assert (
        "failed: create bad: the Relay API refused POST /ibot/workflow: not a device or user of account" in result.err
    )
    assert "apply incomplete: 1 created, 0 updated, 0 deleted, 0 unchanged; 1 failed" in result.err
    assert names(sandbox) == ["good"]


# --- bulk targets: -i @file and -i - ------------------------------------------------------------------------


def test_install_ids_from_a_file_and_from_stdin(
    run: Any, tmp_path: Path, sandbox: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = list(DEMO_DEVICES)
    devices = write(tmp_path, f"# fleet A\n{ids[0]}\n\n  {ids[1]}  # Bob\n{ids[0]}\n", "devices.txt")
    made = run(*LOCAL, "workflow", "create", "button", "-n", "b", "-u", "wss://h/p", "-i", f"@{devices}", "-i", ids[2])
    assert made.code == 0, made.err
    assert sandbox.list_workflows(DEMO_SUBSCRIBER)[0]["install"] == ids[:3]

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(ids[3:]) + "\n"))
    more = run(*LOCAL, "workflow", "install", "-w", "b", "-i", "-")
    assert more.code == 0, more.err
    assert sandbox.list_workflows(DEMO_SUBSCRIBER)[0]["install"] == ids

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ids[0]}\n# done\n"))
    fewer = run(*LOCAL, "workflow", "uninstall", "-w", "b", "-i", "-", "-i", f"@{devices}")
    assert fewer.code == 0, fewer.err
    assert sandbox.list_workflows(DEMO_SUBSCRIBER)[0]["install"] == ids[2:]


@pytest.mark.parametrize(
    ("content", "value", "message"),
    [
        (None, "@missing.txt", "--install: cannot read @missing.txt: No such file or directory"),
        ("# nothing\n\n", "@ids.txt", "--install: @ids.txt lists no ids"),
        ("a b\n", "@ids.txt", "--install: @ids.txt line 1: expected one id per line, got 'a b'"),
        (None, "@", "--install: expected a file name after @, e.g. -i @devices.txt"),
    ],
)
@pytest.mark.parametrize(
    "command", [["create", "call", "-n", "x", "-u", "wss://h/p"], ["install", "-w", "x"], ["uninstall", "-w", "x"]]
)
def test_bad_bulk_targets_are_exit_2(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: SandboxStore,
                                     command: list[str], content: str | None, value: str, message: str) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    if content is not None:
        write(tmp_path, content, "ids.txt")
    result = run(*LOCAL, "workflow", *command, "-i", value)
    assert result.code == 2
    assert result.err == f"error: {message}\n"
    assert names(sandbox) == []
