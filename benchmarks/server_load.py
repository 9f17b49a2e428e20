"""``relay server`` under CI load: N concurrent clients × M requests on loopback.

    .venv/bin/python benchmarks/server_load.py [--clients 50] [--requests 40] [--rounds 3] [--source DIR]
                                              [--json] [--check]

Starts ``relay server --port 0 --json`` (the console script of this interpreter's environment, or with
``--source DIR`` ``python -m relay_cli server`` from another checkout, e.g. to measure ``main`` before a change) on a
fresh database, then runs ``--clients`` threads at once, each sending ``--requests`` requests over its own
``http.client`` connections (a new connection whenever the server closes one), in a fixed mix per client:
a quarter creates, a quarter updates of a workflow it created, an eighth deletes, the rest lists of the
account's workflows. Afterwards one list checks that nothing was lost: exactly the workflows the clients
created and did not delete are there, each with its last update.

Reported per round: connection resets (or other socket errors), server errors (5xx), other unexpected
statuses, lost or unexpected workflows, requests/s over the whole round, and p50/p99 latency of one request.
The exit status is 0 unless ``--check`` is given and a round has any error or loss. Not part of pytest.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from startup import relay_script  # the script's directory is first on sys.path

SUB = "demo-account"
TOKEN = "bench-token"


def workflow(name: str, uri: str) -> dict[str, Any]:
    return {
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": uri, "args": {}}}, "on_http": "POST"}},
        "install": [],
    }


def plan(requests: int) -> list[str]:
    """The operations of one client, in order: create, list, update, list, ..., with every other update
    followed by a delete of that workflow instead of a list."""
    ops: list[str] = []
    cycle = ["create", "list", "update", "list", "create", "list", "update", "delete"]
    while len(ops) < requests:
        ops.extend(cycle)
    return ops[:requests]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.resets: list[str] = []
        self.server_errors: list[str] = []
        self.unexpected: list[str] = []
        self.expected: dict[str, str] = {}  # workflow id -> its last name


class Client:
    """One worker: its own connection, reopened whenever the server closes it."""

    def __init__(self, host: str, port: int, stats: Stats, timeout: float) -> None:
        self.host, self.port, self.stats, self.timeout = host, port, stats, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any] | None:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            if response.will_close:
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            with self.stats.lock:
                self.stats.resets.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        elapsed = time.perf_counter() - start
        with self.stats.lock:
            self.stats.latencies.append(elapsed)
            if response.status >= 500:
                self.stats.server_errors.append(f"{method} {path}: {response.status} {raw[:200]!r}")
        return response.status, (json.loads(raw) if raw else None)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def worker(n: int, host: str, port: int, requests: int, stats: Stats, go: threading.Barrier, timeout: float) -> None:
    client = Client(host, port, stats, timeout)
    mine: dict[str, str] = {}
    last: str | None = None
    go.wait()
    try:
        for i, op in enumerate(plan(requests)):
            if op == "create":
                name = f"load-{n}-{i}"
                answer = client.request(
                    "POST", f"/ibot/workflow?subscriber_id={SUB}", workflow(name, f"wss://h/{name}")
                )
                if answer is None:
                    continue
                status, body = answer
                if status == 200 and isinstance(body, list) and body and "workflow_id" in body[0]:
                    last = body[0]["workflow_id"]
                    mine[last] = name
                else:
                    stats.unexpected.append(f"create: {status} {body!r:.200}")
            elif op == "update" and last is not None:
                name = f"{mine[last]}-v{i}"
                body = {**workflow(name, f"wss://h/{name}"), "workflow_id": last}
                answer = client.request("POST", f"/ibot/workflow?subscriber_id={SUB}", body)
                if answer is None:
                    continue
                if answer[0] == 200:
                    mine[last] = name
                else:
                    stats.unexpected.append(f"update: {answer[0]} {answer[1]!r:.200}")
            elif op == "delete" and last is not None:
                answer = client.request("DELETE", f"/ibot/workflow/{last}?subscriber_id={SUB}")
                if answer is None:
                    continue
                if answer[0] == 204:
                    del mine[last]
                    last = None
                else:
                    stats.unexpected.append(f"delete: {answer[0]} {answer[1]!r:.200}")
            else:
                answer = client.request("GET", f"/ibot/workflow?subscriber_id={SUB}")
                if answer is not None and (answer[0] != 200 or not isinstance(answer[1], dict)):
                    stats.unexpected.append(f"list: {answer[0]} {answer[1]!r:.200}")
    finally:
        client.close()
    with stats.lock:
        stats.expected.update(mine)


def round_(base_url: str, clients: int, requests: int, timeout: float) -> dict[str, Any]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    before = listed(host, port)
    stats = Stats()
    go = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(target=worker, args=(n, host, port, requests, stats, go, timeout), daemon=True)
        for n in range(clients)
    ]
    for t in threads:
        t.start()
    go.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    after = listed(host, port)
    created = {k: v for k, v in after.items() if k not in before}
    lost = sorted(set(stats.expected) - set(created))
    extra = sorted(set(created) - set(stats.expected))
    stale = sorted(k for k in stats.expected if k in created and created[k] != stats.expected[k])
    lat = sorted(stats.latencies)
    return {
        "clients": clients,
        "requests": clients * requests,
        "answered": len(lat),
        "resets": len(stats.resets),
        "server_errors": len(stats.server_errors),
        "unexpected": len(stats.unexpected),
        "lost": len(lost),
        "extra": len(extra),
        "stale": len(stale),
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(lat) / wall, 1) if wall else None,
        "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None,
        "max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "samples": {
            "resets": stats.resets[:3],
            "server_errors": stats.server_errors[:3],
            "unexpected": stats.unexpected[:3],
        },
    }


def listed(host: str, port: int) -> dict[str, str]:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", f"/ibot/workflow?subscriber_id={SUB}", headers={"Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    if response.status != 200:
        raise SystemExit(f"the final list answered {response.status}: {body!r:.300}")
    return {w["workflow_id"]: w["name"] for w in body["results"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=40, help="requests per client (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each on the same server (default 3)")
    parser.add_argument("--timeout", type=float, default=30.0, help="client socket timeout in seconds (default 30)")
    parser.add_argument("--source", type=Path, default=None, help="run the server from this checkout instead")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a round has an error or loses a workflow")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    cwd = None
    if args.source is not None:  # run from there: ``-m`` puts the working directory first on sys.path
        command, cwd = [sys.executable, "-m", "relay_cli"], args.source.resolve()
        env["PYTHONPATH"] = str(cwd)
    else:
        command = [str(relay_script())]
    results = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-load-") as tmp:
        env["RELAY_CONFIG_DIR"] = str(Path(tmp) / "cfg")
        proc = subprocess.Popen(
            [*command, "server", "--port", "0", "--token", TOKEN, "--db", str(Path(tmp) / "load.db"), "--json"],
            env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise SystemExit(f"relay server did not start (exit {proc.wait()})")
            base_url = json.loads(line)["base_url"]
            for _ in range(args.rounds):
                results.append(round_(base_url, args.clients, args.requests, args.timeout))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    failed = any(
        r["resets"] or r["server_errors"] or r["unexpected"] or r["lost"] or r["extra"] or r["stale"] for r in results
    )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"relay server, {args.clients} clients x {args.requests} requests, {args.rounds} rounds")
        for i, r in enumerate(results, 1):
            print(
                f"  round {i}: resets {r['resets']}, server errors {r['server_errors']}, unexpected {r['unexpected']},"
                f" lost {r['lost']}, extra {r['extra']}, stale {r['stale']};"
                f" {r['requests_per_s']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms"
                f" ({r['wall_s']} s)"
            )
            for kind, samples in r["samples"].items():
                for sample in samples:
                    print(f"    {kind}: {sample}")
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
