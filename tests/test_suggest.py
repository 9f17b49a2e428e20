"""A "did you mean": a mistyped value of a fixed set (a template, a --trigger, --output, a scenario, a shell, a
profile key, ...) is refused in one line that names the closest choice, exit 2, nothing sent or written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relay_cli.core.suggest import closest, expected
from relay_cli.simulator.runner import builtin_names

U = ("-n", "x", "-u", "wss://h/x")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("workflow", "init", "auto-anwser"),
            "TEMPLATE: expected one of auto-answer, outbound, place-call, blank, got 'auto-anwser'; "
            "did you mean 'auto-answer'?",
        ),
        (
            ("workflow", "init", "place-call", "--lang", "pyhton"),
            "--lang: expected one of js, python, got 'pyhton'; did you mean 'python'?",
        ),
        (
            ("workflow", "create", "call", "--trigger", "inbond", *U),
            "--trigger: expected one of inbound, outbound, got 'inbond'; did you mean 'inbound'?",
        ),
        (
            ("workflow", "create", "button", "--trigger", "Double", *U),
            "--trigger: expected one of single, double, got 'Double'; did you mean 'double'?",
        ),
        (
            ("workflow", "create", "timer", "--trigger", "repeta", *U),
            "--trigger: expected one of immediately, schedule, repeat, got 'repeta'; did you mean 'repeat'?",
        ),
        (
            ("workflow", "create", "timer", "--trigger", "repeat", "-c", "2", "-d", "MON", *U),
            "--day: expected one of MO, TU, WE, TH, FR, SA, SU, got 'MON'; did you mean 'MO'?",
        ),
        (
            ("workflow", "list", "-o", "jsno"),
            "--output: expected one of table, wide, json, csv, yaml, got 'jsno'; did you mean 'json'?",
        ),
        (
            ("workflow", "simulate", "ws://localhost:9/x", "--scenario", "inbound"),
            "--scenario: unknown scenario 'inbound'; did you mean 'inbound-call'? "
            f"(built-in: {', '.join(builtin_names())}; or --scenario-file FILE)",
        ),
        (
            ("completion", "show", "bsh"),
            "SHELL: expected one of bash, zsh, fish, powershell, got 'bsh'; did you mean 'bash'?",
        ),
        (
            ("profile", "set", "hots", "example.com"),
            "KEY: expected one of env, host, subscriber_id, auth_method, auth_client_id, auth_sdk_client_id, "
            "auth_issuer, auth_redirect_uri, got 'hots'; did you mean 'host'?",
        ),
        (
            ("analytics", "--type", "sytem"),
            "--type: expected one of system, user, got 'sytem'; did you mean 'system'?",
        ),
        # nothing close: the choices alone
        (
            ("workflow", "create", "call", "--trigger", "xyz", *U),
            "--trigger: expected one of inbound, outbound, got 'xyz'",
        ),
    ],
    ids=lambda v: " ".join(v[:3]) if isinstance(v, tuple) else None,
)
def test_a_mistyped_value_names_the_closest_choice(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], line: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run("-P", "local", *args)
    assert (result.code, result.out, result.err) == (2, "", f"error: {line}\n")
    assert list(work.iterdir()) == []  # no project written
    assert not (tmp_path / "data").exists()  # the sandbox was never opened: nothing sent


def test_a_manifest_type_gets_the_same_suggestion(run: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text('[workflow.a]\ntype = "buton"\nuri = "wss://h/a"\n', encoding="utf-8")
    result = run("-P", "local", "workflow", "diff", "-f", str(manifest))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "got 'buton'; did you mean 'button'?" in result.err


@pytest.mark.parametrize(
    ("value", "choices", "best"),
    [
        ("inbond", ("inbound", "outbound"), "inbound"),
        ("OUTBOUND", ("inbound", "outbound"), "outbound"),  # case alone: always the one meant
        ("blnk", ("auto-answer", "outbound", "place-call", "blank"), "blank"),
        ("zzz", ("inbound", "outbound"), None),
        ("", ("json", "csv"), None),
    ],
)
def test_closest(value: str, choices: tuple[str, ...], best: str | None) -> None:
    assert closest(value, choices) == best


def test_expected_quotes_a_value_that_is_not_a_string_without_a_suggestion() -> None:
    assert expected(3, ("call", "button")) == "expected one of call, button, got 3"
