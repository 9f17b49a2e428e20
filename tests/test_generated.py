"""completions/ and docs/commands.md are generated from the command tree (``python scripts/generate.py``);
these tests regenerate them in memory and fail when the files in the repository are stale."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relay_generate", ROOT / "scripts" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
FIX = "run `python scripts/generate.py` and commit the result"


@pytest.mark.parametrize("rel", sorted(GEN.completions()))
def test_completions_are_current(rel: str) -> None:
    path = ROOT / rel
    assert path.exists(), f"{rel} is missing: {FIX}"
    assert path.read_text(encoding="utf-8") == GEN.completions()[rel], f"{rel} is stale: {FIX}"


def test_command_reference_is_current() -> None:
    path = ROOT / "docs" / "commands.md"
    assert path.exists(), f"docs/commands.md is missing: {FIX}"
    assert path.read_text(encoding="utf-8") == GEN.commands_md(), f"docs/commands.md is stale: {FIX}"


def test_command_reference_does_not_depend_on_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = GEN.commands_md()
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RELAY_WORKFLOW_ID", "wf-from-env")
    monkeypatch.setenv("RELAY_PROFILE", "qa")
    assert GEN.commands_md() == first


def _sections(text: str) -> dict[str, str]:
    """docs/commands.md cut at its command headings: ``relay workflow list`` -> that command's section."""
    parts = re.split(r"^#{2,4} `(relay[^`]*)`\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _documented_flags(section: str) -> set[str]:
    """The flags in the first column of a section's option table (``| `--install, -i` | ...``)."""
    flags: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `-"):
            flags.update(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", line.split("|")[1]))
    return flags


def test_command_reference_covers_every_command_and_flag() -> None:
    """Command by command: each command has its own section, and that section lists every visible option of
    THAT command, long and short (a flag documented on another command does not count)."""
    import typer

    from relay_cli.app import root_command

    sections = _sections(GEN.commands_md())
    root = root_command()
    seen: list[str] = []

    def walk(cmd: Any, ctx: typer.Context, path: str) -> None:
        assert path in sections, f"{path} has no section in docs/commands.md"
        documented = _documented_flags(sections[path])
        for param in cmd.get_params(ctx):
            if param.param_type_name == "option" and not param.hidden:
                flags = {*param.opts, *param.secondary_opts}
                assert flags <= documented, f"{path}: {sorted(flags - documented)} not in its section"
        seen.append(path)
        for name in getattr(cmd, "list_commands", lambda _ctx: [])(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                walk(
                    sub,
                    typer.Context(sub, info_name=name, parent=ctx, **(sub.context_settings or {})),
                    f"{path} {name}",
                )

    walk(root, typer.Context(root, info_name="relay", **(root.context_settings or {})), "relay")
    assert len(seen) > 50 and "relay workflow create timer" in seen
    assert "`RELAY_WORKFLOW_ID`" in sections["relay workflow delete"] and "`RELAY_PROFILE`" in sections["relay"]


def test_the_coverage_check_sees_a_flag_missing_from_one_section() -> None:
    """The control: a flag dropped from one command's section is missed, though other sections have it."""
    sections = _sections(GEN.commands_md())
    assert "-w" in _documented_flags(sections["relay workflow args get"])
    cut = sections["relay workflow args get"].replace("`--workflow-id, -w`", "`--workflow-id`")
    assert "-w" not in _documented_flags(cut) and "--workflow-id" in _documented_flags(cut)
