"""The command tree is imported with the cyclic garbage collector off, what it made is then frozen (moved to
the collector's permanent generation), and so is everything at exit (relay_cli/__main__.py, ``_settle``): the
collector's passes over objects that live until the process ends cost a `workflow list` 20-30 ms and freed
nothing. Each check runs in a fresh interpreter, as the ``relay`` command does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import atexit, gc, json, sys
atexit.register(lambda: print(json.dumps({"at_exit": gc.get_freeze_count()}), file=sys.stderr))  # runs last
from relay_cli.__main__ import main
before = gc.get_freeze_count()
code = main(sys.argv[1:])
class Cycle:
    pass
made = Cycle(); made.me = made; del made
print(json.dumps({"code": code, "before": before, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled(),
                  "collected": gc.collect()}), file=sys.stderr)
"""


def _run(tmp_path: Path, *args: str) -> dict[str, object]:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_CONFIG_DIR=str(tmp_path / "config"), RELAY_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    *_, seen, at_exit = done.stderr.strip().splitlines()
    return {**json.loads(seen), **json.loads(at_exit)}


def test_a_command_freezes_what_the_import_made_and_collects_what_it_makes_after(tmp_path: Path) -> None:
    seen = _run(tmp_path, "version", "--json")
    assert seen["code"] == 0
    assert seen["before"] == 0 and int(str(seen["frozen"])) > 10_000  # the command tree's objects (some 25,000)
    assert seen["enabled"] is True
    assert int(str(seen["collected"])) >= 2  # a cycle made after is still found: the Cycle and its __dict__
    assert int(str(seen["at_exit"])) > int(str(seen["frozen"]))  # frozen again at exit: no last collection


def test_the_fast_paths_leave_the_collector_alone(tmp_path: Path) -> None:
    for args in (["--version"], ["--help"]):
        seen = _run(tmp_path, *args)
        assert seen["code"] == 0 and seen["frozen"] == seen["at_exit"] == 0 and seen["enabled"] is True
