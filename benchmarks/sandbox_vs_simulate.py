"""What the sandbox path costs: ``relay sandbox press`` against a running app, next to ``relay workflow simulate``
of the same app, each timed as a whole process.

    .venv/bin/python benchmarks/sandbox_vs_simulate.py [--runs N] [--server] [--json] [--check]

The app is the place-call project ``relay workflow init place-call`` writes, run with node and the
``@relaypro/sdk`` pinned in tests/conformance (``npm ci`` there first), on a free loopback port. It is registered
in a fresh in-process sandbox (double tap, all devices, ``callee = Bob``), then, alternately, N times each
(median reported; one untimed warm-up run each first):

- ``relay sandbox press Alice --taps double``: the event goes through the sandbox's API, which finds the
  workflow, records the instance and the log, and plays the conversation;
- ``relay workflow simulate ws://127.0.0.1:PORT/place-call --scenario button --taps double -a callee=Bob``: the
  same conversation, straight.

Both play it with the same settings (``--hold 0.2 --set speaking_rate=1500``), so the difference is what the
sandbox adds. ``--server`` also times ``relay sandbox press`` against a ``relay server`` (RELAY_HOST). Target:
the in-process sandbox path at most 1.3 times simulate. ``--check``: exit 1 when it is missed. Not part of the
pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup import relay_script  # the script's directory is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "tests" / "conformance" / "node_modules"
TARGET = 1.3
QUICK = ["--hold", "0.2", "--set", "speaking_rate=1500"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode}) before it listened")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port} within {timeout} s")


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each command (default 20)")
    parser.add_argument("--server", action="store_true", help="also time relay sandbox press against relay server")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the sandbox path costs more than {TARGET}x")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "@relaypro" / "sdk").is_dir():
        raise SystemExit(f"needs node and the pinned SDK: run npm ci in {NODE_MODULES.parent}")
    relay = str(relay_script())
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
        env.update(RELAY_CONFIG_DIR=str(home / "config"), RELAY_DATA_DIR=str(home / "data"), NO_COLOR="1")
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        try:
            subprocess.run([relay, "workflow", "init", "place-call", str(home / "app"), "--lang", "js"], env=env,
                           capture_output=True, check=True, timeout=60)  # fmt: skip
            (home / "app" / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
            port = free_port()
            app = subprocess.Popen([node, "app.js"], cwd=home / "app", env={**env, "PORT": str(port)},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            procs.append(app)
            wait_listening(port, app, "the app")
            uri = f"ws://127.0.0.1:{port}/place-call"
            create = ["workflow", "create", "button", "--trigger", "double", "--name", "place-call", "--uri", uri, "-A",
                      "-a", "callee=Bob"]  # fmt: skip
            subprocess.run([relay, *create], env=env, capture_output=True, check=True, timeout=60)
            press = [relay, "sandbox", "press", "Alice", "--taps", "double", *QUICK]
            simulate = [
                relay,
                "workflow",
                "simulate",
                uri,
                "--scenario",
                "button",
                "--taps",
                "double",
                "-a",
                "callee=Bob",
            ]
            commands = {"sandbox press (in-process)": (press, env), "workflow simulate": ([*simulate, *QUICK], env)}
            if args.server:
                server_port = free_port()
                server = subprocess.Popen([relay, "server", "--port", str(server_port), "--token", "bench"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                procs.append(server)
                wait_listening(server_port, server, "relay server")
                server_env = {**env, "RELAY_HOST": f"http://127.0.0.1:{server_port}", "RELAY_API_KEY": "bench"}
                commands["sandbox press (relay server)"] = (commands["sandbox press (in-process)"][0], server_env)
            times: dict[str, list[float]] = {name: [] for name in commands}
            for command, command_env in commands.values():
                timed(command, command_env)  # warm-up: bytecode, caches
            for _ in range(args.runs):  # alternately, so that a busy moment of the machine weighs on each alike
                for name, (command, command_env) in commands.items():
                    times[name].append(timed(command, command_env))
        finally:
            for proc in procs:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["sandbox press (in-process)"] / medians["workflow simulate"]
    if args.json:
        print(json.dumps({"runs": args.runs, "median_seconds": medians, "ratio": ratio, "target": TARGET}, indent=2))
    else:
        for name, value in medians.items():
            print(f"{name:<30} median {value * 1000:7.1f} ms over {args.runs} runs")
        print(f"sandbox press / simulate: {ratio:.2f} (target: at most {TARGET})")
    return 1 if args.check and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
