"""docs/json.md: its jq lines work on what `relay workflow list --json` prints, for a workflow installed on devices,
on all devices and on a group alike, and print what the page shows."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"


def jq_lines() -> list[tuple[str, str | None]]:
    """Each jq program of the page's ```sh blocks, and the output block that follows it (None when none does)."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"```sh\n(?P<command>.*?)\n```\n(?:\n```\n(?P<shown>.*?)```\n)?", text, re.S):
        program = re.search(r"\| jq -r '(.*)'$", match.group("command"))
        assert program, match.group("command")
        found.append((program.group(1), match.group("shown")))
    return found


def test_the_jq_lines_work_for_every_kind_of_install(run: Any) -> None:
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed")
    for args in (
        ["call", "--trigger", "inbound", "--name", "my_auto_answer", "--uri", "wss://h/a", "-i", "990007560011111"],
        ["call", "--trigger", "outbound", "--name", "outbound", "--uri", "wss://h/o", "-i", "990007560023456",
         "-i", "990007560045678"],
        ["button", "--trigger", "double", "--name", "place-call", "--uri", "wss://h/p", "--install-all"],
        ["button", "--name", "front", "--uri", "wss://h/f", "-G", "front-desk"],
    ):  # fmt: skip
        assert run("-P", "local", "workflow", "create", *args).code == 0
    listed = run("-P", "local", "workflow", "list", "--json").out
    lines = jq_lines()
    assert len(lines) == 2 and lines[0][1] is not None
    for program, shown in lines:
        done = subprocess.run(
            [jq, "-r", program], input=listed, capture_output=True, text=True, timeout=30, check=False
        )
        assert (done.returncode, done.stderr) == (0, ""), program
        assert len(done.stdout.splitlines()) == 4
        if shown is not None:
            assert done.stdout == shown
    broken = subprocess.run(
        [jq, '.[] | .install | join(",")'], input=listed, capture_output=True, text=True, timeout=30, check=False
    )
    assert broken.returncode != 0  # the line the page warns about does fail on an install rule
