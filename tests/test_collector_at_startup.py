"""The command tree is imported with the cyclic garbage collector off, what it made is then frozen (moved to
the collector's permanent generation), and so is everything at exit (relay_cli/__main__.py, ``_settle``): the
collector's passes over objects that live until the process ends cost a `workflow list` 20-30 ms and freed
nothing. A process that ran its command ends without freeing what it leaves (``_end``): the ``atexit`` functions
run, stdout and stderr are flushed, a thread still at work is waited for. Each check runs in a fresh interpreter,
as the ``relay`` command does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import atexit, gc, json, sys
class Cycle:
    pass
def report():  # registered first: runs last, after the freeze relay registers
    made = Cycle(); made.me = made; del made
    print(json.dumps({"at_exit": gc.get_freeze_count(), "enabled": gc.isenabled(), "collected": gc.collect()}),
          file=sys.stderr)
atexit.register(report)
from relay_cli.__main__ import main
print(json.dumps({"before": gc.get_freeze_count()}), file=sys.stderr)
sys.exit(main())  # as the relay command calls it: the arguments are sys.argv[1:]
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_CONFIG_DIR=str(tmp_path / "config"), RELAY_DATA_DIR=str(tmp_path / "data"))
    return env


def _run(tmp_path: Path, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    before, *_, at_exit = done.stderr.strip().splitlines()
    return {"code": done.returncode, **json.loads(before), **json.loads(at_exit)}


def test_a_command_freezes_what_the_import_made_and_collects_what_it_makes_after(tmp_path: Path) -> None:
    seen = _run(tmp_path, "version", "--json")
    assert seen["code"] == 0
    assert seen["before"] == 0 and int(str(seen["at_exit"])) > 10_000  # the command tree's objects (some 25,000)
    assert seen["enabled"] is True
    assert int(str(seen["collected"])) >= 1  # a cycle made after the freeze is still found and freed


def test_the_fast_paths_leave_the_collector_alone(tmp_path: Path) -> None:
    for args in (["--version"], ["--help"]):
        seen = _run(tmp_path, *args)
        assert seen["code"] == 0 and seen["at_exit"] == 0 and seen["enabled"] is True


# --- the end of the process (relay_cli/__main__.py, ``_end``) -------------------------------------------------


def test_a_thread_still_running_at_the_end_is_waited_for(tmp_path: Path) -> None:
    # the interpreter's own exit, as before: a thread that is not a daemon finishes its work
    script = (
        "import sys, threading, time\n"
        "def work():\n"
        "    time.sleep(0.3)\n"
        "    print('the thread finished', file=sys.stderr, flush=True)\n"
        "threading.Thread(target=work).start()\n"
        "from relay_cli.__main__ import main\n"
        "sys.argv[1:] = ['version', '--json']\n"
        "sys.exit(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0
    assert '"version"' in done.stdout
    assert done.stderr == "the thread finished\n"


def test_the_exit_code_and_every_byte_of_a_large_output_arrive(tmp_path: Path) -> None:
    # 2,000 workflows in the sandbox, listed as JSON into a pipe: the process ends without the interpreter's
    # teardown, after flushing what it wrote
    from relay_cli.local.seed import DEMO_SUBSCRIBER
    from relay_cli.local.store import SandboxStore

    from conftest import stored_workflow

    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    workflows = [stored_workflow(f"wf-{i}", f"workflow {i:04d} ☎") for i in range(2000)]
    for workflow in workflows:
        store.create_workflow(DEMO_SUBSCRIBER, workflow)
    store.close()
    done = subprocess.run([sys.executable, "-m", "relay_cli", "workflow", "list", "--json"], env=_env(tmp_path),
                          capture_output=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [w["name"] for w in listed] == [w["name"] for w in workflows]
    missing = subprocess.run([sys.executable, "-m", "relay_cli", "workflow", "delete", "-w", "nope", "--yes"],
                             env=_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert missing.returncode == 3


def test_main_called_with_arguments_returns_and_leaves_the_process_as_it_was(tmp_path: Path) -> None:
    # a program that calls main([...]) (the tests do) gets the exit code back and goes on
    script = (
        "import gc, sys\n"
        "from relay_cli.__main__ import main\n"
        "code = main(['version', '--json'])\n"
        "print('went on', code, gc.get_freeze_count(), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0
    assert done.stderr == "went on 0 0\n"


def test_leave_does_nothing_where_commands_run_in_process() -> None:
    import gc

    from relay_cli import output

    assert output.one_command is False  # the tests run commands in this process
    before = gc.get_freeze_count()
    value = [{"a": [1, 2]}]
    output.leave(value)
    assert gc.get_freeze_count() == before
    assert [r for r in gc.get_referrers(value) if isinstance(r, list) and r and r[0] is value] == []
