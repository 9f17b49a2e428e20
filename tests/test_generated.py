"""completions/ and docs/commands.md are generated from the command tree (``python scripts/generate.py``);
these tests regenerate them in memory and fail when the files in the repository are stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

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


def test_command_reference_covers_every_command_and_flag() -> None:
    import typer

    from relay_cli.app import build_app

    text = GEN.commands_md()
    root = typer.main.get_command(build_app())

    def walk(cmd: object, ctx: typer.Context, path: str) -> None:
        assert f"`{path}`" in text, f"{path} is not documented"
        for param in cmd.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not param.hidden:
                assert f"`{param.opts[0]}" in text or f" {param.opts[0]}" in text, f"{path} {param.opts[0]}"
        for name in getattr(cmd, "list_commands", lambda _ctx: [])(ctx):
            sub = cmd.get_command(ctx, name)  # type: ignore[attr-defined]
            if sub is not None and not sub.hidden:
                walk(sub, typer.Context(sub, info_name=name, parent=ctx), f"{path} {name}")

    walk(root, typer.Context(root, info_name="relay"), "relay")
    assert "`RELAY_WORKFLOW_ID`" in text and "`RELAY_PROFILE`" in text
