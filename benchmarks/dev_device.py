"""How long ``relay workflow dev --device`` takes to be ready: from the start of the process to the line that says
the workflow is registered and the app listens.

    .venv/bin/python benchmarks/dev_device.py [--runs N] [--server] [--json]

The project is the place-call one ``relay workflow init place-call`` writes, run with node and the
``@relaypro/sdk`` pinned in tests/conformance (``npm ci`` there first). Each run starts ``relay workflow dev
DIR --device Carol`` on a fresh in-process sandbox (``--server``: against a ``relay server`` on loopback
instead), times it until stderr says ``ready``, then stops it with SIGINT and checks that it left no
registration. One untimed warm-up run first; the median of N runs (10 by default) is reported, with the time
the session takes to end. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup import relay_script  # the script's directory is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "tests" / "conformance" / "node_modules"


def one_run(relay: Path, project: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds to "ready", and from SIGINT to the end of the process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(relay), "workflow", "dev", str(project), "--device", "Carol", "--app-output", "failure"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    ready = None
    for line in proc.stderr:
        if line.startswith("ready"):
            ready = time.perf_counter() - start
            break
    if ready is None:
        proc.wait(10)
        raise SystemExit(f"dev --device exited ({proc.returncode}) before it was ready")
    asked = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    proc.wait(30)
    ended = time.perf_counter() - asked
    if proc.returncode != 130 or "deleted proj (dev)" not in rest:
        raise SystemExit(f"dev --device did not end as expected ({proc.returncode}):\n{rest}")
    return ready, ended


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--server", action="store_true", help="against a relay server on loopback")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    if not (NODE_MODULES / "@relaypro" / "sdk").is_dir() or shutil.which("node") is None:
        raise SystemExit("needs node and the pinned SDK: (cd tests/conformance && npm ci)")
    relay = relay_script()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(RELAY_CONFIG_DIR=str(work / "config"), RELAY_DATA_DIR=str(work / "data"), NO_COLOR="1")
        init = subprocess.run(
            [str(relay), "workflow", "init", "place-call", str(work / "proj")],
            env=env,
            capture_output=True,
            check=False,
        )
        if init.returncode != 0:
            raise SystemExit(init.stderr.decode())
        (work / "proj" / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
        server = None
        if options.server:
            server = subprocess.Popen(
                [str(relay), "server", "--port", "0", "--token", "bench", "--db", str(work / "server.db"), "--json"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            env.update(RELAY_HOST=info["base_url"], RELAY_API_KEY="bench")
        try:
            one_run(relay, work / "proj", env)  # warm-up: bytecode, the sandbox's database, node's caches
            runs = [one_run(relay, work / "proj", env) for _ in range(options.runs)]
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                server.wait(10)
    ready = statistics.median(r for r, _ in runs)
    ended = statistics.median(e for _, e in runs)
    target = "relay server" if options.server else "the in-process sandbox"
    if options.json:
        print(
            json.dumps({"target": target, "runs": options.runs, "ready_s": round(ready, 3), "end_s": round(ended, 3)})
        )
    else:
        print(f"relay workflow dev --device Carol on {target}, median of {options.runs}:")
        print(f"  ready (registered, app listening): {ready * 1000:.0f} ms")
        print(f"  Ctrl-C to the end (registration deleted, app stopped): {ended * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
