"""Packaging: the version comes from one place, and the wheel ships the package and nothing else."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import relay_cli

ROOT = Path(__file__).resolve().parent.parent


def test_version_is_the_package_metadata_version() -> None:
    assert importlib.metadata.version("relay-cli") == relay_cli.__version__
    proc = subprocess.run(
        [sys.executable, "-m", "relay_cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout == f"relay {importlib.metadata.version('relay-cli')}\n"


def test_wheel_contains_the_package_and_no_tests(tmp_path: Path) -> None:
    """Built offline with the installed hatchling (no build isolation, no network)."""
    from hatchling.builders.wheel import WheelBuilder

    wheel = Path(next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))))
    assert wheel.name == f"relay_cli-{relay_cli.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"relay_cli", f"relay_cli-{relay_cli.__version__}.dist-info"}, top
    assert not [n for n in names if "/tests/" in f"/{n}" or n.split("/")[-1].startswith(("test_", "conftest"))]
    assert "relay_cli/__main__.py" in names and "relay_cli/commands/completion.py" in names
    entry_points = zipfile.ZipFile(wheel).read(f"relay_cli-{relay_cli.__version__}.dist-info/entry_points.txt").decode()
    assert "relay = relay_cli.__main__:main" in entry_points
