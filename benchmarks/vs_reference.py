"""``relay`` side by side with the reference CLI (relaypro/relay-cli 1.10.2), the same figures for both.

    .venv/bin/python benchmarks/vs_reference.py --reference PATH/relay-cli/bin/run [--relay PATH]
                                                [--runs N] [--list-runs N] [--json] [--check]

The reference is not part of this repository. Build it once from its source, tag v1.10.2 of
https://github.com/relaypro/relay-cli: ``npm ci && npx tsc -b && npx oclif manifest`` (Node 18 or later), and
pass its ``bin/run``.

What is timed: each command as a whole process, from its start to its exit (start-up included), with stdout
and stderr written to files, stdin empty. The wall time is ``perf_counter`` around ``Popen`` and ``os.wait4``;
the CPU time (user + system) is the kernel's accounting of the finished child, which ``os.wait4`` returns.
Each figure runs one untimed, checked warm-up of each command, then ROUNDS pairs, ours and the reference's
in turn (the order alternating round by round); the ratio is taken pair by pair and its median reported,
so that a change in the machine's load during the run moves both sides of a pair alike. The medians are
what to quote; the load average before and after is printed with them.

- ``--version``; ``--help``; ``workflow --help``; a command's page, ``workflow create call --help``;
- ``workflow create call ... --dry-run`` (the same arguments for both; nothing is sent);
- ``workflow create call`` for real, on an account of 20 workflows and on the account of 10,000: ours with its
  default checks (the listing of the account, the name look-up, the install checks and the WebSocket handshake,
  to a URI the loopback server accepts), the reference's with none (it has none); target ≤ 1/1.4 both;
- ``workflow list`` of 10,000 workflows as a table and as ``--json``, from a loopback HTTP server that serves
  both CLIs the same answer (benchmarks/startup.py makes it: every trigger kind, half of the configs as JSON
  strings; 3.5 MB).

The environment of each is clean: only what it needs, nothing of this machine's (``NODE_EXTRA_CA_CERTS``
alone makes every start of Node some 3x slower, and a ``PYTHON*`` variable changes ours). Both get PATH (the
directory of ``node``, /usr/bin, /bin) and HOME, a temporary directory each. Ours gets
RELAY_HOST=http://127.0.0.1:PORT, RELAY_API_KEY, a temporary config directory, the null keyring and a
bytecode cache in a temporary directory (an installed wheel has its ``.pyc`` files; ``--no-pyc-cache``
compiles on every run instead). The reference gets RELAY_HOST=http://127.0.0.1:PORT/pro (it takes only the
scheme, host and port of it, and refuses a host that does not name its environment, "pro"), RELAY_API_KEY and
RELAY_SUBSCRIBER_ID; its config and update-check files go to its HOME, and the warm-up creates them, so the
timed runs do not start its background update check. Its stdout is a file, not a pipe: into a pipe, the reference stops after
the first few hundred kilobytes of a large listing with "Error: timed out" and exit 2.

Targets (ours / reference, the median of the pairs; "speed-up" is its inverse): ``--version``, ``--help`` and
``workflow --help`` ≤ 0.2 (5x); a command's page and the dry run ≤ 0.4 (2.5x); ``workflow list`` of 10,000,
table and ``--json``, ≤ 0.67 (1.5x). With ``--check`` the exit status is 1 when a target is missed or a command
fails. This is not part of the pytest run.

Figures of 2026-12-06 (2-core AMD EPYC shared with other work; Python 3.11.7, Node 20.20.2; 21 pairs, 15 for
the listings; load average 0.4 at the start, 2.1 at the end), median ms, ours / reference, the median ratio of
the pairs (its inverse, the speed-up), and of the CPU times:

    relay --version                      25 / 234    0.11  (9.2x)   cpu 0.09
    relay --help                         35 / 297    0.11  (9.0x)   cpu 0.09
    relay workflow --help                30 / 276    0.10  (9.6x)   cpu 0.09
    workflow create call --help         100 / 259    0.38  (2.6x)   cpu 0.33
    workflow create call ... --dry-run  117 / 358    0.36  (2.8x)   cpu 0.31
    workflow list (10,000, table)       427 / 1002   0.45  (2.2x)   cpu 0.43
    workflow list --json (10,000)       461 / 703    0.60  (1.7x)   cpu 0.64

``workflow list --json`` is the figure nearest its target, and the one that moves most between runs: 0.60,
0.75, 0.71, 0.66 and 0.70 in five runs that day (load average 0.4 to 5 at their start), its CPU ratio 0.63 to
0.70 (1.4x to 1.6x). Its own time is some 55% imports (Typer and httpx with httpcore, about as much each, then
our modules), 10% the cyclic garbage collector (the 3.5 MB answer is some 260,000 objects), then decoding,
checking and writing. The process ends the ordinary way: the garbage collector is left alone, and the
interpreter tears down what the command leaves; the earlier shortcuts (the collector paused and frozen, the
teardown skipped with os._exit) saved some 15% of this figure's CPU time, measured against the same tree, and
used private or unsupported means. Our --json and our table now cost about the same (0.57 to 1.16 of each
other in these runs); the old aim of --json below the table is shown, not checked.

The creates, 25 pairs each (``--only "checks on" --runs 25``; load average 1.1): on 20 workflows 214 / 370 ms,
0.58 (1.7x); on 10,000, 279 / 412 ms, 0.69 (1.45x). Before the listing was read for what the checks use (see
``shapes.scan_listing``) and the handshake made without websockets, the create on 10,000 was 0.99 here (and
0.77x the reference's speed in the issue's measurement); about 45 ms of it is still the listing's 3.5 MB
(downloading it, cutting it apart, decoding the 770 inbound call workflows of this account).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from startup import SUB, WORKFLOWS, FakeRelay, make_workflows, relay_script

DRY_RUN = [
    "workflow", "create", "call", "--trigger", "inbound", "--name", "my_auto_answer",
    "--uri", "wss://myhost.mydomain.com/autoanswerpath", "--install", "990007560045678", "-s", SUB, "--dry-run",
]  # fmt: skip


#: the workflows of the small account a create is timed on too
SMALL = 20


def create(port: int) -> list[str]:
    """A create the reference and ours take alike, to a URI on the loopback server that accepts a WebSocket."""
    return [
        "workflow", "create", "call", "--trigger", "inbound", "--name", "my_auto_answer",
        "--uri", f"ws://127.0.0.1:{port}/apps/auto-answer/ws", "--install", "990007560045678",
    ]  # fmt: skip


# --- checks of the warm-up runs' output ---------------------------------------------------------------------


def contains(*needles: str) -> Callable[[str], str | None]:
    def check(out: str) -> str | None:
        missing = [n for n in needles if n not in out]
        return f"no {missing[0]!r} in the output" if missing else None

    return check


def lacks(needle: str) -> Callable[[str], str | None]:
    def check(out: str) -> str | None:
        return f"{needle!r} in the output" if needle in out else None

    return check


def every_workflow_named(out: str) -> str | None:
    found = len(set(re.findall(r"\bworkflow_\d{5}\b", out)))
    return None if found == WORKFLOWS else f"{found} of the {WORKFLOWS:,} workflow names in the table"


def ours_json(out: str) -> str | None:
    data = json.loads(out)
    return None if isinstance(data, list) and len(data) == WORKFLOWS else "not a list of every workflow"


def reference_json(out: str) -> str | None:
    data = json.loads(out)  # the reference's --json: {"ok": true, "err": false, "val": [...]}
    ok = isinstance(data, dict) and isinstance(data.get("val"), list) and len(data["val"]) == WORKFLOWS
    return None if ok else "not {'ok': ..., 'val': [every workflow]}"


# --- timing -----------------------------------------------------------------------------------------------


@dataclass
class Side:
    cmd: list[str]
    env: dict[str, str]
    check: Callable[[str], str | None]
    #: a check of its stderr, when it has one
    err_check: Callable[[str], str | None] | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


@dataclass
class Figure:
    label: str
    ours: Side
    reference: Side
    target: float  # the largest ratio ours / reference that meets it
    list_figure: bool = False
    error: str | None = None
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)


def run_once(side: Side, tmp: Path) -> tuple[int, float, float, Path, Path]:
    """One run: exit status, wall ms, CPU ms, and the files holding its stdout and stderr."""
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(side.cmd, env=side.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter() - start) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen, so it does not wait again
    return proc.returncode, wall, (usage.ru_utime + usage.ru_stime) * 1000, out_path, err_path


def warm_up(figure: Figure, tmp: Path) -> None:
    for name, side in (("ours", figure.ours), ("reference", figure.reference)):
        code, _, _, out, err = run_once(side, tmp)
        if code != 0:
            figure.error = f"{name}: exit {code}: {err.read_text(errors='replace').strip()[-300:]}"
            return
        try:
            problem = side.check(out.read_text(encoding="utf-8", errors="replace"))
            if problem is None and side.err_check is not None:
                problem = side.err_check(err.read_text(encoding="utf-8", errors="replace"))
        except ValueError as exc:
            problem = f"unexpected output: {exc}"
        if problem:
            figure.error = f"{name}: {problem}"
            return


def measure(figure: Figure, rounds: int, tmp: Path, quiet: bool) -> None:
    if not quiet:
        print(f"  {figure.label}", file=sys.stderr, flush=True)
    warm_up(figure, tmp)
    for i in range(rounds if figure.error is None else 0):
        order = [figure.ours, figure.reference] if i % 2 == 0 else [figure.reference, figure.ours]
        times: dict[int, tuple[float, float]] = {}
        for side in order:
            code, wall, cpu, _, err = run_once(side, tmp)
            if code != 0:
                figure.error = f"exit {code} on a timed run: {err.read_text(errors='replace').strip()[-300:]}"
                return
            side.wall.append(wall)
            side.cpu.append(cpu)
            times[id(side)] = (wall, cpu)
        ours, ref = times[id(figure.ours)], times[id(figure.reference)]
        figure.ratios.append(ours[0] / ref[0])
        figure.cpu_ratios.append(ours[1] / ref[1])


# --- main -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--reference", required=True, help="the reference CLI's bin/run (relay-cli 1.10.2, built)")
    parser.add_argument("--runs", type=int, default=15, help="timed pairs per start-up figure (default 15)")
    parser.add_argument("--list-runs", type=int, default=9, help="timed pairs per listing figure (default 9)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--only", action="append", metavar="TEXT", help="time only the figures whose label holds TEXT (repeatable)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-pyc-cache", action="store_true", help="give our CLI no bytecode cache")
    parser.add_argument(
        "--relay",
        help="our command to time (default: the relay script next to this interpreter); e.g. another checkout's",
    )
    args = parser.parse_args(argv)
    reference = str(Path(args.reference).resolve())
    if not os.access(reference, os.X_OK):
        parser.error(f"--reference: {reference} is not an executable file")
    relay = str(Path(args.relay).resolve()) if args.relay else str(relay_script())
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="relay-vs-ref-") as tmp_name:
        tmp = Path(tmp_name)
        server = FakeRelay(json.dumps({"results": make_workflows()}).encode())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        small = FakeRelay(json.dumps({"results": make_workflows(SMALL)}).encode())  # an account of a few workflows
        threading.Thread(target=small.serve_forever, daemon=True).start()
        # a clean environment for each: what it needs and nothing of this machine's (NODE_EXTRA_CA_CERTS alone
        # makes every start of Node some 3x slower; a PYTHON* variable changes ours)
        path = clean_path()
        (tmp / "home").mkdir()
        (tmp / "home-ours").mkdir()
        ours_env = {
            "PATH": path,
            "HOME": str(tmp / "home-ours"),
            "RELAY_HOST": f"http://127.0.0.1:{port}",
            "RELAY_API_KEY": "bench",
            "RELAY_CONFIG_DIR": str(tmp / "config"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        if args.no_pyc_cache:
            ours_env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            ours_env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        ref_env = {
            "PATH": path,
            "HOME": str(tmp / "home"),
            "RELAY_HOST": f"http://127.0.0.1:{port}/pro",
            "RELAY_API_KEY": "bench",
            "RELAY_SUBSCRIBER_ID": SUB,
        }

        def figure(
            label: str,
            ours: list[str],
            ref: list[str],
            checks: tuple[Any, Any],
            target: float,
            listing: bool = False,
            account: Any = server,
            err_check: Any = None,
        ) -> Figure:
            to = f":{account.server_address[1]}"  # the loopback server of the account the figure is timed on
            envs = [{**env, "RELAY_HOST": env["RELAY_HOST"].replace(f":{port}", to)} for env in (ours_env, ref_env)]
            return Figure(
                label,
                Side([relay, *ours], envs[0], checks[0], err_check),
                Side([reference, *ref], envs[1], checks[1]),
                target,
                listing,
            )

        figures = [
            figure(
                "relay --version", ["--version"], ["--version"], (contains("relay "), contains("@relaypro/cli/")), 0.2
            ),
            figure("relay --help", ["--help"], ["--help"], (contains("Usage: relay"), contains("USAGE")), 0.2),
            figure(
                "relay workflow --help",
                ["workflow", "--help"],
                ["workflow", "--help"],
                (contains("Usage: relay workflow"), contains("USAGE")),
                0.2,
            ),
            figure(
                "workflow create call --help",
                ["workflow", "create", "call", "--help"],
                ["workflow", "create", "call", "--help"],
                (contains("Usage: relay workflow create call"), contains("USAGE")),
                0.4,
            ),
            figure(
                "workflow create call ... --dry-run",
                DRY_RUN,
                DRY_RUN,
                (contains('"name": "my_auto_answer"'), contains('"name": "my_auto_answer"')),
                0.4,
            ),
            *(
                figure(
                    f"workflow create call, {count:,} workflows, checks on",
                    [*create(account.server_address[1]), "-s", SUB],
                    create(account.server_address[1]),
                    (contains("my_auto_answer"), contains("my_auto_answer")),
                    1 / 1.4,
                    account=account,
                    err_check=lacks("did not accept a WebSocket"),  # the handshake was made, and accepted
                )
                for count, account in ((SMALL, small), (WORKFLOWS, server))
            ),
            figure(
                f"workflow list ({WORKFLOWS:,}, table)",
                ["workflow", "list", "-s", SUB],
                ["workflow", "list"],
                (every_workflow_named, every_workflow_named),
                1 / 1.5,
                True,
            ),
            figure(
                f"workflow list --json ({WORKFLOWS:,})",
                ["workflow", "list", "-s", SUB, "--json"],
                ["workflow", "list", "--json"],
                (ours_json, reference_json),
                1 / 1.5,
                True,
            ),
        ]
        try:
            if args.only:
                figures = [fig for fig in figures if any(text in fig.label for text in args.only)]
            for fig in figures:
                measure(fig, max(1, args.list_runs if fig.list_figure else args.runs), tmp, args.json)
        finally:
            for each in (server, small):
                each.shutdown()
                each.server_close()

    load_after = os.getloadavg()
    results = [result(fig) for fig in figures]
    by_label = {r["figure"]: r for r in results}  # --only may have left the listings out
    table = by_label.get(f"workflow list ({WORKFLOWS:,}, table)")
    as_json = by_label.get(f"workflow list --json ({WORKFLOWS:,})")
    json_vs_table = (
        as_json["ours_median_ms"] / table["ours_median_ms"]
        if table and as_json and as_json["ours_median_ms"] and table["ours_median_ms"]
        else None
    )
    failed = any(r["status"] != "PASS" for r in results)
    summary = {
        "python": sys.version.split()[0],
        "node": node_version(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "bytecode": "inherited environment" if args.no_pyc_cache else "cached (temporary PYTHONPYCACHEPREFIX)",
        "json_vs_our_table": json_vs_table,
    }
    if args.json:
        print(json.dumps({**summary, "results": results, "ok": not failed}, indent=2))
    else:
        print_table(results, summary)
    return 1 if args.check and failed else 0


def clean_path() -> str:
    """PATH for both CLIs: the directory of ``node`` (the reference's bin/run starts with ``#!/usr/bin/env node``)
    and the system's."""
    node = shutil.which("node")
    dirs = [str(Path(node).parent)] if node else []
    return os.pathsep.join(dict.fromkeys([*dirs, "/usr/bin", "/bin"]))


def result(fig: Figure) -> dict[str, Any]:
    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    ratio = median(fig.ratios)
    status = "FAIL" if fig.error or ratio is None or ratio > fig.target else "PASS"
    return {
        "figure": fig.label,
        "ours_median_ms": median(fig.ours.wall),
        "reference_median_ms": median(fig.reference.wall),
        "ratio": ratio,
        "ratio_min": min(fig.ratios) if fig.ratios else None,
        "ratio_max": max(fig.ratios) if fig.ratios else None,
        "ours_cpu_median_ms": median(fig.ours.cpu),
        "reference_cpu_median_ms": median(fig.reference.cpu),
        "cpu_ratio": median(fig.cpu_ratios),
        "target": fig.target,
        "pairs": len(fig.ratios),
        "status": status,
        "error": fig.error,
    }


def node_version() -> str | None:
    try:
        return (
            subprocess.run(
                ["node", "--version"], capture_output=True, text=True, timeout=30, check=False
            ).stdout.strip()
            or None
        )
    except OSError:
        return None


def print_table(results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    def ms(value: float | None) -> str:
        return f"{value:.0f}" if value is not None else "-"

    def ratio(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else "-"

    headers = [
        "figure",
        "ours ms",
        "reference ms",
        "ratio",
        "(min-max)",
        "speed-up",
        "cpu ratio",
        "target",
        "result",
        "pairs",
    ]
    rows = [
        [
            r["figure"], ms(r["ours_median_ms"]), ms(r["reference_median_ms"]), ratio(r["ratio"]),
            f"{ratio(r['ratio_min'])}-{ratio(r['ratio_max'])}", f"{1 / r['ratio']:.1f}x" if r["ratio"] else "-",
            ratio(r["cpu_ratio"]), f"<= {r['target']:.2f}",
            r["status"], str(r["pairs"]),
        ]
        for r in results
    ]  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print(
        f"python {summary['python']}, node {summary['node']}; our bytecode {summary['bytecode']}; load average "
        f"{' '.join(map(str, summary['load_average_before']))} before, {' '.join(map(str, summary['load_average_after']))} after"
    )
    print("medians of whole-process wall times; ratio = ours / reference, the median of the pairs")
    for line in [headers, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    if summary["json_vs_our_table"] is not None:
        print(f"workflow list --json / our table: {summary['json_vs_our_table']:.2f}")
    for r in results:
        if r["error"]:
            print(f"error in {r['figure']}: {r['error']}")


if __name__ == "__main__":
    sys.exit(main())
