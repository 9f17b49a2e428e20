"""The prune guard: an empty manifest, or one that declares no workflows, never empties an account by accident.

``relay -P nope workflow export | relay workflow apply -f - --prune --yes`` used to read the failed export's
empty output as "the account should have no workflows" and delete them all, exiting 0. Now:

- an empty document (no bytes, only whitespace or comments, ``/dev/null``, an empty stdin) is exit 2 before
  any request, with or without ``--prune``, even with ``--allow-empty``;
- a manifest that declares no workflows is exit 2 unless ``--allow-empty``: without ``--prune`` before any
  request; with ``--prune`` after one read (``GET /ibot/workflow``) that counts what would be deleted;
- ``--allow-empty --prune --yes`` is the one way to delete everything.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relay_cli.local.seed import DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore

from conftest import API, SUB, sent, stored_workflow

RELAY = Path(sys.executable).parent / "relay"
ACCOUNT_ONLY = f'account = "{SUB}"\n'
THREE = [stored_workflow(f"wf_{i}", f"w{i}") for i in range(3)]


def blank_source(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(the -f argument, how the error names it) for each way a manifest can be empty."""
    if kind == "dev-null":
        return os.devnull, os.devnull
    if kind == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
        return "-", "<stdin>"
    text = {
        "zero-bytes": "",
        "whitespace": "\n  \n\t\n",
        "comments": "# relay.toml\n\n# [workflow.a]\n",
        "bom": "\ufeff",
    }[kind]
    path = tmp_path / "relay.toml"
    path.write_text(text, encoding="utf-8")
    return str(path), str(path)


@pytest.mark.parametrize("kind", ["zero-bytes", "whitespace", "comments", "bom", "dev-null", "stdin"])
@pytest.mark.parametrize(
    "flags",
    [
        ("diff",),
        ("diff", "--prune"),
        ("apply",),
        ("apply", "--prune", "--yes"),
        ("apply", "--prune", "--yes", "--allow-empty"),
        ("check",),
    ],
    ids=lambda f: " ".join(f),
)
def test_an_empty_manifest_is_refused_before_any_request(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, flags: tuple[str, ...]
) -> None:
    source, named = blank_source(kind, tmp_path, monkeypatch)
    with respx.mock(assert_all_called=False) as api:
        api.route().mock(return_value=httpx.Response(200, json=THREE))
        result = run("workflow", flags[0], "-f", source, *flags[1:])
        assert api.calls.call_count == 0
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert lines[0] == f"error: {named} is empty: it declares no workflows and no account, so nothing was sent"
    assert lines[1].startswith("hint: ")
    assert ("set -o pipefail" in lines[1]) == (kind == "stdin")
    assert 'account = "ID" with --prune --allow-empty' in lines[1]
    assert len(lines) == 2


@pytest.mark.parametrize("command", ["diff", "apply", "check"])
def test_no_workflows_without_prune_is_refused_before_any_request(run: Any, tmp_path: Path, command: str) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(ACCOUNT_ONLY, encoding="utf-8")
    with respx.mock(assert_all_called=False) as api:
        api.route().mock(return_value=httpx.Response(200, json=THREE))
        result = run("workflow", command, "-f", str(path))
        assert api.calls.call_count == 0
    assert result.code == 2
    assert (
        result.err.splitlines()[0]
        == f"error: {path} declares no workflows (no [workflow.NAME] tables), so nothing was sent"
    )


@pytest.mark.parametrize(
    "command", [("diff", "--prune"), ("apply", "--prune", "--yes"), ("apply", "--prune", "--yes", "--dry-run")]
)
def test_no_workflows_with_prune_counts_what_would_go_and_changes_nothing(
    run: Any, tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(ACCOUNT_ONLY, encoding="utf-8")
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": THREE}))
        result = run("workflow", command[0], "-f", str(path), *command[1:])
        assert sent(api) == [("GET", "/ibot/workflow", {"subscriber_id": SUB})]  # one read, no write
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        f"error: {path} declares no workflows, so --prune would delete all 3 workflows of account {SUB}; nothing was changed",
        "hint: pass --allow-empty if that is what you want; if the manifest came from a pipe, the command writing it may have failed",
    ]


def test_no_workflows_with_prune_when_the_count_fails_still_refuses(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(ACCOUNT_ONLY, encoding="utf-8")
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(403, json={"error": "forbidden"}))
        result = run("workflow", "apply", "-f", str(path), "--prune", "--yes")
        assert [m for m, _, _ in sent(api)] == ["GET"]
    assert result.code == 2
    first = result.err.splitlines()[0]
    assert first.startswith(
        f"error: {path} declares no workflows, so --prune would delete every workflow of account {SUB}; "
    )
    assert "nothing was changed (counting them failed: " in first


def test_allow_empty_with_prune_deletes_everything_on_purpose(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(ACCOUNT_ONLY, encoding="utf-8")
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": THREE}))
        api.delete(path__regex=r"^/ibot/workflow/wf_\d$").mock(return_value=httpx.Response(200, json={}))
        result = run("workflow", "apply", "-f", str(path), "--prune", "--yes", "--allow-empty")
        requests = sent(api)
    assert result.code == 0, result.err
    assert requests[0] == ("GET", "/ibot/workflow", {"subscriber_id": SUB})
    assert sorted(p for m, p, _ in requests[1:] if m == "DELETE") == [
        "/ibot/workflow/wf_0",
        "/ibot/workflow/wf_1",
        "/ibot/workflow/wf_2",
    ]
    assert "0 created, 0 updated, 3 deleted" in result.err


def test_allow_empty_without_prune_is_a_no_op(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(ACCOUNT_ONLY, encoding="utf-8")
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": THREE}))
        result = run("workflow", "diff", "-f", str(path), "--allow-empty")
        assert sent(api) == [("GET", "/ibot/workflow", {"subscriber_id": SUB})]
    assert result.code == 0, result.err
    assert "3 workflows of the account are not in" in result.err


# --- the pipeline of the issue, end to end: real processes, a real shell, the in-process sandbox -----------


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
    env.update(
        RELAY_CONFIG_DIR=str(tmp_path / "config"),
        RELAY_DATA_DIR=str(tmp_path / "data"),
        NO_COLOR="1",
        RELAY_NO_CHECK="1",
    )
    return env


def _shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _two_workflows(run: Any, tmp_path: Path) -> tuple[SandboxStore, list[dict[str, Any]]]:
    """keep-a and keep-b in the in-process sandbox the pipelines use (made in this process): its store, and them."""
    for name in ("keep-a", "keep-b"):
        made = run("-P", "local", "workflow", "create", "button", "--name", name, "--uri", f"wss://h/{name}", "-A")
        assert made.code == 0, made.err
    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    before = store.list_workflows(DEMO_SUBSCRIBER)
    assert sorted(w["name"] for w in before) == ["keep-a", "keep-b"]
    return store, before


needs_relay_and_bash = pytest.mark.skipif(
    not RELAY.exists() or os.name != "posix", reason="needs the installed relay script and bash"
)


@needs_relay_and_bash
@pytest.mark.parametrize("pipefail", [False, True])
def test_a_failed_export_piped_into_apply_prune_deletes_nothing(run: Any, tmp_path: Path, pipefail: bool) -> None:
    env = _env(tmp_path)  # nothing configured: commands go to the in-process sandbox
    store, before = _two_workflows(run, tmp_path)

    script = f"'{RELAY}' -P nope workflow export | '{RELAY}' workflow apply -f - --prune --yes"
    result = _shell(("set -o pipefail; " if pipefail else "") + script, env)

    assert result.returncode == 2  # the export's exit 2 with pipefail; without it the apply's own refusal, also 2
    assert result.stdout == ""
    assert "error: --profile: no profile named 'nope'" in result.stderr
    assert "error: <stdin> is empty: it declares no workflows and no account, so nothing was sent" in result.stderr
    assert "Traceback" not in result.stderr
    assert store.list_workflows(DEMO_SUBSCRIBER) == before


@needs_relay_and_bash
def test_a_working_export_piped_into_apply_prune_changes_nothing(run: Any, tmp_path: Path) -> None:
    env = _env(tmp_path)
    store, before = _two_workflows(run, tmp_path)
    ok = _shell(f"set -o pipefail; '{RELAY}' workflow export | '{RELAY}' workflow apply -f - --prune --yes", env)
    assert ok.returncode == 0, ok.stderr
    assert "In sync: 2 workflows of <stdin> unchanged" in ok.stdout
    assert store.list_workflows(DEMO_SUBSCRIBER) == before
