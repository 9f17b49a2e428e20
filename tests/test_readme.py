"""The README's shell blocks run, in order, as a new user would run them.

Every ```sh block of README.md runs, command by command, with the installed ``relay``, in a fresh directory
with fresh RELAY_CONFIG_DIR, RELAY_DATA_DIR and HOME (so the in-process sandbox is the target), and each
command must exit 0. A block that cannot run offline is marked in the README, on the line before it, with
``<!-- readme-test: skip (the reason) -->``; nothing else is skipped. Two things differ from a user's machine,
both for want of a network: ``npm install`` links the SDK pinned in tests/conformance instead of downloading
it (a stand-in ``npm`` first on PATH; any other npm command fails), and RELAY_NO_CHECK=1 turns off the
preflight checks, whose WebSocket handshake would go to the README's example hosts.

Each command runs in its own ``bash -c`` from that directory, so a block that is run must not depend on a
``cd`` or an ``export`` of an earlier command (checked).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sdks import NODE_MODULES, ensure_sdk

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RELAY = Path(sys.executable).parent / "relay"
MARKER = re.compile(r"^<!-- readme-test: skip \((?P<reason>[^)]+)\) -->$")


@dataclass
class Block:
    line: int  # where the block starts in README.md (1-based)
    commands: list[str]
    skip: str | None  # the reason, when marked


def blocks(text: str) -> list[Block]:
    """The ```sh blocks, each as its commands (continuation lines joined; comment-only and blank lines left out)."""
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        previous = lines[i - 1].strip() if i else ""
        marked = MARKER.match(previous)
        assert marked or not previous.startswith("<!-- readme-test"), f"README.md:{i}: malformed marker {previous!r}"
        start, body = i + 1, []
        i += 1
        while lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        commands, pending = [], ""
        for raw in body:
            if pending:
                raw = pending + "\n" + raw
                pending = ""
            if raw.rstrip().endswith("\\"):
                pending = raw
                continue
            if raw.strip() and not raw.strip().startswith("#"):
                commands.append(raw)
        assert not pending, f"README.md:{start}: a block ends in a continuation line"
        out.append(Block(start, commands, marked.group("reason") if marked else None))
        i += 1
    return out


def set_up(found: list[Block]) -> Block:
    """The block of "Develop relay" that sets up a clone for development (the one .ci/run follows)."""
    return next(b for b in found if "python -m pip install -e '.[test]'" in b.commands)


def test_the_readme_blocks_are_read_as_written() -> None:
    """A control for the parser: the blocks it finds, and the marked ones."""
    text = README.read_text(encoding="utf-8")
    found = blocks(text)
    assert len(found) == text.count("```sh\n") and len(found) >= 10
    skipped = [b for b in found if b.skip]
    assert len(skipped) == text.count("<!-- readme-test: skip (")
    assert set_up(found).skip and set_up(found).commands[-1] == "python -m pytest"
    assert text.index("## Install") < text.index("## Quick start") < text.index("## Develop relay")
    assert "install -e" not in text[: text.index("## Develop relay")]  # a user's install is not a contributor's
    quick = next(b for b in found if any("relay workflow init auto-answer" in c for c in b.commands))
    assert quick.skip is None and [shlex.split(c, comments=True)[:3] for c in quick.commands] == [
        ["relay", "workflow", "init"], ["(cd", "auto-answer", "&&"], ["relay", "workflow", "dev"],
    ]  # fmt: skip
    continued = next(c for b in found for c in b.commands if "--name my_auto_answer" in c)
    assert continued.count("\n") == 1 and "--install 990007560011111" in continued


def test_ci_runs_the_set_up_lines_of_the_readme() -> None:
    """.ci/run follows the set-up lines of the README's "Develop relay" (its virtual environment is .ci-venv, not
    .venv)."""
    setup = set_up(blocks(README.read_text(encoding="utf-8")))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    position = 0
    for command in setup.commands:
        line = command.split("#", 1)[0].strip().replace(".venv", ".ci-venv")
        found = ci.find(f"\n{line}\n", position)
        assert found >= 0, f".ci/run does not run the README's set-up line {line!r} (after the ones before it)"
        position = found + len(line)


def fake_npm(bin_dir: Path) -> None:
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        "# the README test's npm: `npm install` links the SDK pinned in tests/conformance (the test has no network)\n"
        f'if [ "$*" = install ]; then ln -s {shlex.quote(str(NODE_MODULES))} node_modules; exit $?; fi\n'
        'echo "the README test has no network: npm $* is not available" >&2; exit 97\n',
        encoding="utf-8",
    )
    npm.chmod(0o755)


@pytest.mark.long
def test_every_readme_command_runs_in_order(tmp_path: Path) -> None:
    node = ensure_sdk("the README test")
    work, home, bin_dir = tmp_path / "work", tmp_path / "home", tmp_path / "bin"
    for d in (work, home, bin_dir):
        d.mkdir()
    fake_npm(bin_dir)
    env = {
        "PATH": os.pathsep.join([str(bin_dir), str(RELAY.parent), str(Path(node).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "RELAY_CONFIG_DIR": str(tmp_path / "config"),
        "RELAY_DATA_DIR": str(tmp_path / "data"),
        "RELAY_NO_CHECK": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "LANG": "C.UTF-8",
    }
    assert shutil.which("relay", path=env["PATH"]) == str(RELAY)
    ran = 0
    for block in blocks(README.read_text(encoding="utf-8")):
        if block.skip:
            continue
        for command in block.commands:
            first = shlex.split(command, comments=True)[0]
            assert first not in ("cd", "export"), (
                f"README.md:{block.line}: {command!r} would not carry over to the next command; mark the block or use a subshell"
            )
            proc = subprocess.run(
                ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False
            )
            assert proc.returncode == 0, (
                f"README.md:{block.line}: `{command}` exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n"
                f"--- stderr\n{proc.stderr[-3000:]}"
            )
            assert "Traceback" not in proc.stderr, command
            ran += 1
            print(f"README.md:{block.line}: {command.splitlines()[0]}")
    assert ran >= 15
    listed = subprocess.run(
        [str(RELAY), "workflow", "list", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    import json

    names = sorted(w["name"] for w in json.loads(listed.stdout))
    assert names == ["auto-answer", "my_auto_answer", "place-call"]  # every workflow once: no name clash


def test_the_manifest_example_applies_to_the_sandbox_as_written(run: Any, tmp_path: Path) -> None:
    """The first relay.toml of "Declarative deploys" names no profile and no account of its own, so a new user can
    apply it to the sandbox as it is: apply exits 0, and diff then finds nothing to do."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Declarative deploys") :]
    example = section[section.index("```toml\n") + len("```toml\n") : section.index("\n```", section.index("```toml"))]
    manifest = tmp_path / "relay.toml"
    manifest.write_text(example + "\n", encoding="utf-8")
    applied = run("-P", "local", "workflow", "apply", "-f", str(manifest), "--yes")
    assert applied.code == 0, applied.err
    listed = run("-P", "local", "workflow", "list", "--json").json()
    assert sorted(w["name"] for w in listed) == ["my_auto_answer", "standup"]
    diff = run("-P", "local", "workflow", "diff", "-f", str(manifest))
    assert diff.code == 0, diff.out + diff.err
