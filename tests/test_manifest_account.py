"""The account is the manifest's: a manifest saying ``account = "A"`` is never applied to another account by accident.

A stray ``RELAY_SUBSCRIBER_ID=B`` once made ``apply --prune`` delete B's workflows without a word. Now, when the
account -s, RELAY_SUBSCRIBER_ID or the profile selects differs from the manifest's, diff, apply and check stop with
exit 2 before any request, naming both accounts and where each came from; ``--account-from manifest|selected`` says
which one wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from conftest import API, stored_workflow

MANIFEST = (
    'account = "A"\n[workflow.keep]\ntype = "call"\ntrigger = "inbound"\nuri = "wss://example.com/keep"\n'
    'install = ["990007560045678"]\n'
)


@pytest.fixture
def api() -> Any:
    """Both accounts hold `keep` and `extra`; any write is answered with 500 (and recorded)."""
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(
            return_value=httpx.Response(
                200, json={"results": [stored_workflow("wf_1", "keep"), stored_workflow("wf_2", "extra")]}
            )
        )
        mock.route(method__in=["POST", "DELETE"]).mock(return_value=httpx.Response(204))
        yield mock


def accounts(api: Any) -> list[tuple[str, str | None]]:
    return [(c.request.method, c.request.url.params.get("subscriber_id")) for c in api.calls]


@pytest.fixture
def manifest(tmp_path: Path) -> str:
    path = tmp_path / "relay.toml"
    path.write_text(MANIFEST, encoding="utf-8")
    return str(path)


def select_b(source: str, run: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str]:
    """Select account B through ``source``: (the extra command-line arguments, how the error names the source)."""
    if source == "flag":
        return ["-s", "B"], "-s/--subscriber-id"
    if source == "env":
        monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "B")
        return [], "RELAY_SUBSCRIBER_ID"
    assert run("profile", "add", "ci", "-s", "B", "--use").code == 0
    return [], "profile 'ci' (its subscriber_id)"


COMMANDS = [("diff",), ("diff", "--prune"), ("apply", "--prune", "--yes"), ("check",)]


@pytest.mark.parametrize("source", ["flag", "env", "profile"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_manifest_for_account_a_is_not_applied_to_account_b(
    run: Any, api: Any, manifest: str, monkeypatch: pytest.MonkeyPatch, source: str, command: tuple[str, ...]
) -> None:
    extra, named = select_b(source, run, monkeypatch)
    result = run("workflow", command[0], "-f", manifest, *command[1:], *extra)
    assert api.calls.call_count == 0
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: {manifest} is for account A (its account key), but {named} selects account B; nothing was sent\n"
        "hint: make them agree, or say which wins: --account-from manifest (account A) or --account-from selected "
        "(account B)\n"
    )


@pytest.mark.parametrize("source", ["flag", "env", "profile"])
@pytest.mark.parametrize(("winner", "account"), [("manifest", "A"), ("selected", "B")])
def test_account_from_says_which_account_wins(
    run: Any, api: Any, manifest: str, monkeypatch: pytest.MonkeyPatch, source: str, winner: str, account: str
) -> None:
    extra, _ = select_b(source, run, monkeypatch)
    result = run("workflow", "apply", "-f", manifest, "--prune", "--yes", "--account-from", winner, *extra)
    assert result.code == 0, result.err
    assert accounts(api) == [("GET", account), ("DELETE", account)]  # `extra` pruned, from that account only
    assert f"Applied to account {account}: 0 created, 0 updated, 1 deleted, 1 unchanged." in result.err


def test_no_other_account_selected_or_the_same_one_needs_no_flag(
    run: Any, api: Any, manifest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("workflow", "diff", "-f", manifest).code == 0  # nothing selects an account: the manifest's
    assert run("workflow", "diff", "-f", manifest, "-s", "A").code == 0
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "A")
    assert run("workflow", "diff", "-f", manifest).code == 0
    assert accounts(api) == [("GET", "A")] * 3


def test_a_manifest_without_an_account_takes_the_selected_one(
    run: Any, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(MANIFEST.replace('account = "A"\n', ""), encoding="utf-8")
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "B")
    assert run("workflow", "diff", "-f", str(path)).code == 0
    assert accounts(api) == [("GET", "B")]


def test_account_from_takes_manifest_or_selected(run: Any, api: Any, manifest: str) -> None:
    result = run("workflow", "diff", "-f", manifest, "-s", "B", "--account-from", "flag")
    assert (result.code, result.err) == (2, "error: --account-from: expected one of manifest, selected, got 'flag'\n")
    assert api.calls.call_count == 0
