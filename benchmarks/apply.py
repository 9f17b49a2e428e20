"""Bulk deploys: ``relay workflow apply`` of N workflows versus N sequential ``relay workflow create`` processes.

    .venv/bin/python benchmarks/apply.py [--count 500] [--processes N] [--jobs 8] [--json] [--check]

Both halves run against ``relay server`` on loopback (started here as a subprocess, each half with its own
fresh database), and both are timed from the outside, process start-up included:

- apply: one ``relay workflow apply -f relay.toml`` process creating ``--count`` workflows (a manifest of
  ``[workflow.NAME]`` button workflows), then the same apply again (a no-op: one GET);
- create: ``--processes`` sequential ``relay workflow create button ...`` processes, one workflow each, as a CI
  script looping over the reference CLI would. When ``--processes`` is less than ``--count``, the total for
  ``--count`` is extrapolated from the mean per process (and the report says so).

Target: apply at least 20× faster than the loop. Exit status 0 unless ``--check`` is given and the target is
missed or a command fails. Not part of the pytest run.
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
from typing import Any

from startup import relay_script  # the script's directory is first on sys.path

SUB = "demo-account"
TOKEN = "bench-token"
TARGET = 20.0


class Server:
    """``relay server --port 0 --json`` on a fresh database."""

    def __init__(self, relay: Path, db: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [str(relay), "server", "--port", "0", "--token", TOKEN, "--db", str(db), "--json"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"relay server did not start (exit {self.proc.wait()})")
        self.base_url = json.loads(line)["base_url"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def client_env(base: dict[str, str], server: Server, config: Path) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("RELAY_")}
    env.update(RELAY_HOST=server.base_url, RELAY_API_KEY=TOKEN, RELAY_CONFIG_DIR=str(config), RELAY_SUBSCRIBER_ID=SUB)
    return env


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed with exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed


def count_workflows(env: dict[str, str], relay: Path) -> int:
    out = subprocess.run(
        [str(relay), "workflow", "list", "--json"], env=env, capture_output=True, text=True, check=True
    )
    return len(json.loads(out.stdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="workflows to deploy (default 500)")
    parser.add_argument("--processes", type=int, default=None, help="create processes to run (default: --count)")
    parser.add_argument("--jobs", type=int, default=8, help="apply --jobs (default 8)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when apply is not 20x faster")
    args = parser.parse_args()
    processes = min(args.count, args.processes or args.count)
    relay = relay_script()
    base = dict(os.environ)
    base.pop("CI", None)

    with tempfile.TemporaryDirectory(prefix="relay-bench-apply-") as tmp:
        work = Path(tmp)
        manifest = work / "relay.toml"
        manifest.write_text(
            "".join(f'[workflow.bench-{i:04d}]\ntype = "button"\ntrigger = "double"\n'
                    f'uri = "wss://myhost.mydomain.com/apps/{i}"\ninstall_all = true\n\n' for i in range(args.count)),
            encoding="utf-8",
        )  # fmt: skip

        # apply: one process
        server = Server(relay, work / "apply.db", base)
        try:
            env = client_env(base, server, work / "cfg")
            timed([str(relay), "--version"], env)  # warm the bytecode cache, like an installed wheel
            apply_s = timed([str(relay), "workflow", "apply", "-f", str(manifest), "--jobs", str(args.jobs)], env)
            noop_s = timed([str(relay), "workflow", "apply", "-f", str(manifest)], env)
            applied = count_workflows(env, relay)
        finally:
            server.stop()

        # create: one process per workflow, one after the other
        server = Server(relay, work / "create.db", base)
        try:
            env = client_env(base, server, work / "cfg")
            loop_s = 0.0
            for i in range(processes):
                loop_s += timed(
                    [str(relay), "workflow", "create", "button", "--trigger", "double", "--name", f"bench-{i:04d}",
                     "--uri", f"wss://myhost.mydomain.com/apps/{i}", "--install-all"],
                    env,
                )  # fmt: skip
            created = count_workflows(env, relay)
        finally:
            server.stop()

    per_process = loop_s / processes
    loop_total = per_process * args.count
    ratio = loop_total / apply_s
    result: dict[str, Any] = {
        "count": args.count,
        "jobs": args.jobs,
        "apply_s": round(apply_s, 3),
        "apply_noop_s": round(noop_s, 3),
        "create_processes_run": processes,
        "create_per_process_s": round(per_process, 4),
        "create_loop_s": round(loop_total, 2),
        "create_loop_extrapolated": processes < args.count,
        "speedup": round(ratio, 1),
        "target": TARGET,
        "workflows_after_apply": applied,
        "workflows_after_creates": created,
    }
    ok = ratio >= TARGET and applied == args.count and created == processes
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"apply of {args.count} workflows (one process, --jobs {args.jobs}): {apply_s:8.2f} s   ({applied} stored)"
        )
        print(f"the same apply again (no-op):                    {noop_s:8.2f} s")
        how = f"extrapolated from {processes} processes" if processes < args.count else "measured"
        print(
            f"{args.count} sequential create processes ({how}):  {loop_total:8.2f} s   ({per_process * 1000:.0f} ms each)"
        )
        print(f"speedup: {ratio:.1f}x (target {TARGET:.0f}x) {'ok' if ratio >= TARGET else 'MISSED'}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
