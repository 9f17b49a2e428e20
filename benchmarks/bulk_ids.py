"""Bulk device ids: ``-i @ids.txt --dry-run`` with 100,000 ids, end to end.

    .venv/bin/python benchmarks/bulk_ids.py [--count 100000] [--json] [--check] [--timeout 600]

Every command runs as its own ``relay`` process (start-up included) against the in-process sandbox (the ``local``
profile, in a temporary data directory), timed from the outside:

- ``create``:    ``workflow create button ... -i @ids.txt --dry-run --json``, the file holding ``--count`` ids
  of which every tenth repeats an earlier one (duplicates are dropped, order kept);
- ``install``:   ``workflow install -w big -i @more.txt --dry-run --json`` on a workflow already installed on
  ``--count`` ids, half of the new ids being among them;
- ``uninstall``: ``workflow uninstall -w big -i @more.txt --dry-run --json`` (half of them are not installed: a
  warning names the first ten);
- ``apply``:     ``workflow apply --dry-run`` of a manifest whose one workflow lists ``--count`` ids, against
  the stored workflow with the same ids in another order (the plan: unchanged).

Setting up the workflow with ``--count`` installs (written straight into the sandbox's database) is not timed.

Target: each command ≤ 2 s with 100,000 ids. Before, duplicate removal and the install/uninstall sets used
``not in`` on lists: on the 2-core development machine ``create`` took 47 s, ``install`` 222 s, ``apply`` 103 s
and ``uninstall`` did not finish within 300 s; after the change each takes 0.4-1.2 s there.

To time another checkout (the code before a change), install it into a virtual environment of its own and run
this file with that environment's python: the ``relay`` script next to it is the one timed. (``PYTHONPATH`` does
not do it: an editable install's import hook comes first.)

The exit status is 0 unless ``--check`` is given, then 1 when a target is missed or a command fails.
This is not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup import relay_script  # the script's directory is first on sys.path

TARGET_S = 2.0


def device(i: int) -> str:
    return f"99{i:013d}"


def timed(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return float("inf"), ""
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:5])} ... failed with exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="ids per file (default 100000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on one command after this many seconds")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when a command takes more than {TARGET_S:g} s")
    args = parser.parse_args()
    n = args.count
    relay = str(relay_script())

    with tempfile.TemporaryDirectory(prefix="relay-bench-ids-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
        env.update(
            RELAY_CONFIG_DIR=str(work / "cfg"), RELAY_DATA_DIR=str(work / "data"), NO_COLOR="1", RELAY_NO_CHECK="1"
        )
        local = [relay, "-P", "local"]

        unique = n - n // 10
        ids = [device(i) for i in range(unique)] + [device(i * 7 % unique) for i in range(n - unique)]
        (work / "ids.txt").write_text("# fleet\n" + "\n".join(ids) + "\n", encoding="utf-8")
        installed = [device(i) for i in range(n)]
        (work / "installed.txt").write_text("\n".join(installed) + "\n", encoding="utf-8")
        more = [device(i) for i in range(n // 2, n + n // 2)]
        (work / "more.txt").write_text("\n".join(more) + "\n", encoding="utf-8")
        shuffled = installed[1::2] + installed[0::2]
        (work / "relay.toml").write_text(
            '[workflow.big]\ntype = "button"\ntrigger = "double"\nuri = "wss://myhost.mydomain.com/big"\n'
            "install = [" + ", ".join(f'"{d}"' for d in shuffled) + "]\n",
            encoding="utf-8",
        )

        timed([*local, "--version"], env, args.timeout)  # warm the bytecode cache
        # the stored workflow, written straight into the sandbox's database (its API caps a body at 1 MiB)
        from relay_cli.local.seed import DEMO_SUBSCRIBER
        from relay_cli.local.store import SandboxStore

        SandboxStore(work / "data" / "sandbox.db").create_workflow(DEMO_SUBSCRIBER, {
            "name": "big", "options": {"transient": True, "hidden": False}, "install": installed,
            "config": {"trigger": {"start": {"workflow": {"uri": "wss://myhost.mydomain.com/big", "args": {}}},
                                   "on_button": "action_button_double_tap"}},
        })  # fmt: skip

        results: dict[str, float] = {}
        create_s, out = timed(
            [*local, "workflow", "create", "button", "--trigger", "double", "--name", "new",
             "--uri", "wss://myhost.mydomain.com/new", "-i", f"@{work / 'ids.txt'}", "--dry-run", "--json"],
            env, args.timeout,
        )  # fmt: skip
        results["create"] = create_s
        sent = len(json.loads(out)["install"]) if out else None
        results["install"], out = timed(
            [*local, "workflow", "install", "-w", "big", "-i", f"@{work / 'more.txt'}", "--dry-run", "--json"],
            env,
            args.timeout,
        )
        after_install = len(json.loads(out)["install"]) if out else None
        results["uninstall"], out = timed(
            [*local, "workflow", "uninstall", "-w", "big", "-i", f"@{work / 'more.txt'}", "--dry-run", "--json"],
            env,
            args.timeout,
        )
        after_uninstall = len(json.loads(out)["install"]) if out else None
        results["apply"], out = timed(
            [*local, "workflow", "apply", "-f", str(work / "relay.toml"), "--dry-run", "--json"], env, args.timeout
        )
        in_sync = json.loads(out)["in_sync"] if out else None

    checks = {
        "create_sends_unique_ids": sent == unique,
        "install_adds_the_new_half": after_install == n + n // 2,
        "uninstall_keeps_the_first_half": after_uninstall == n // 2,
        "apply_finds_it_unchanged": in_sync is True,
    }
    ok = all(s <= TARGET_S for s in results.values()) and all(checks.values())
    if args.json:
        print(json.dumps({"count": n, "target_s": TARGET_S, "seconds": {k: round(v, 3) for k, v in results.items()},
                          "checks": checks, "ok": ok}, indent=2))  # fmt: skip
    else:
        for name, seconds in results.items():
            shown = "timed out" if seconds == float("inf") else f"{seconds:7.2f} s"
            print(
                f"{name:10} {n:,} ids --dry-run: {shown}  {'ok' if seconds <= TARGET_S else 'MISSED'} (target {TARGET_S:g} s)"
            )
        for name, good in checks.items():
            print(f"{name}: {'ok' if good else 'WRONG'}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
