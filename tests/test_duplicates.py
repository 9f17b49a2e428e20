"""Duplicates are drift, and concurrent deploys do not make them.

Two overlapping applies (two merges in quick succession) used to create duplicates, after which `apply` and `diff`
said "In sync". Now `diff` exits 5 while the account holds several workflows of a name the manifest declares,
listing their ids; `apply` changes nothing until `--dedupe` says to keep one (one that matches the manifest, else
any; of those the lowest workflow_id) and delete the others. The Relay API has no locks or conditional writes, so
an apply lists the account again after creating and settles each name it created that another writer created
meanwhile: every racer keeps the lowest workflow_id, so they converge.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from relay_cli.local.seed import DEMO_DEVICES, DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore

from conftest import READY_SET_GO, release_together

ALICE = next(iter(DEMO_DEVICES))
LOCAL = ("--profile", "local")


def entry(name: str, greeting: str = "hi") -> str:
    return (
        f'[workflow.{name}]\ntype = "call"\ntrigger = "inbound"\nuri = "wss://h.example/{name}"\n'
        f'install = ["{ALICE}"]\nargs = {{greeting = "{greeting}"}}\n\n'
    )


def body(name: str, greeting: str) -> dict[str, Any]:
    return {
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {
            "trigger": {
                "start": {"workflow": {"uri": f"wss://h.example/{name}", "args": {"greeting": greeting}}},
                "on_incoming_call": ".*",
            }
        },
        "install": [ALICE],
    }


@pytest.fixture
def store(tmp_path: Path) -> SandboxStore:
    return SandboxStore(tmp_path / "data" / "sandbox.db")


def by_name(store: SandboxStore) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for w in store.list_workflows(DEMO_SUBSCRIBER):
        out.setdefault(w["name"], []).append(w["workflow_id"])
    return out


def test_duplicates_of_a_declared_name_are_drift_until_dedupe(run: Any, tmp_path: Path, store: SandboxStore) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(entry("front") + entry("other"), encoding="utf-8")
    older = store.create_workflow(DEMO_SUBSCRIBER, body("front", "old"))["workflow_id"]
    same = store.create_workflow(DEMO_SUBSCRIBER, body("front", "hi"))["workflow_id"]
    third = store.create_workflow(DEMO_SUBSCRIBER, body("front", "older"))["workflow_id"]
    store.create_workflow(DEMO_SUBSCRIBER, body("other", "hi"))
    extras = sorted([older, third])

    drift = run(*LOCAL, "workflow", "diff", "-f", str(manifest))
    assert drift.code == 5  # it used to say "In sync", exit 0
    assert drift.out == (
        f"! duplicate  front ({extras[0]}): {same} is kept; --dedupe deletes this one\n"
        f"! duplicate  front ({extras[1]}): {same} is kept; --dedupe deletes this one\n"
        f"Plan for account {DEMO_SUBSCRIBER}: 0 to create, 0 to update, 0 to delete, 2 unchanged, 2 duplicates "
        "left (--dedupe deletes them).\n"
    )
    as_json = run(*LOCAL, "workflow", "diff", "-f", str(manifest), "--json")
    assert as_json.json()["duplicates"] == [{"name": "front", "workflow_id": w, "kept": same} for w in extras]

    refused = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--prune", "--yes")  # --prune is not consent
    assert refused.code == 2
    assert refused.err == (
        f"error: account {DEMO_SUBSCRIBER} has several workflows of 1 name the manifest declares once (front: {same}, "
        f"{extras[0]}, {extras[1]}); nothing was applied\n"
        "hint: --dedupe keeps the first id of each name (one that matches the manifest, else the lowest id) and "
        "deletes the others; or delete the ones you do not want with `relay workflow delete -w ID`\n"
    )
    assert len(by_name(store)["front"]) == 3

    no_yes = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--dedupe")  # no terminal to confirm on
    assert no_yes.code == 2
    assert "--dedupe would delete 2 workflow(s) and there is no terminal to confirm on; pass --yes" in no_yes.err

    deduped = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--dedupe", "--yes")
    assert deduped.code == 0, deduped.err
    assert f"Applied to account {DEMO_SUBSCRIBER}: 0 created, 0 updated, 2 deleted, 2 unchanged." in deduped.err
    assert by_name(store)["front"] == [same]  # the one matching the manifest
    assert run(*LOCAL, "workflow", "diff", "-f", str(manifest)).code == 0


def test_dedupe_without_a_match_keeps_the_lowest_id_and_updates_it(
    run: Any, tmp_path: Path, store: SandboxStore
) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(entry("front"), encoding="utf-8")
    ids = sorted(store.create_workflow(DEMO_SUBSCRIBER, body("front", g))["workflow_id"] for g in ("x", "y"))
    plan = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--dedupe", "--dry-run")
    assert plan.out.splitlines()[:3] == [
        f"~ update  front ({ids[0]})",
        f'    args.greeting: "{"x" if by_name(store)["front"][0] == ids[0] else "y"}" -> "hi"',
        f"- delete  front ({ids[1]}): a duplicate of {ids[0]}",
    ]
    done = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--dedupe", "--yes")
    assert done.code == 0, done.err
    assert by_name(store) == {"front": [ids[0]]}
    assert store.list_workflows(DEMO_SUBSCRIBER)[0]["config"]["trigger"]["start"]["workflow"]["args"] == {
        "greeting": "hi"
    }


def test_a_name_another_writer_creates_meanwhile_is_settled_on_the_lowest_id(
    run: Any, tmp_path: Path, store: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While this apply creates `front`, another writer creates it too (with other args, and a lower id): the apply
    finds both when it lists again, keeps the lower id, makes it match the manifest, deletes its own, says so."""
    from relay_cli.api.client import RelayClient
    from relay_cli.local.store import new_workflow_id as real_id

    manifest = tmp_path / "relay.toml"
    manifest.write_text(entry("front") + entry("back"), encoding="utf-8")
    real_save = RelayClient.save_workflow

    def save_and_race(self: Any, subscriber: str, workflow: dict[str, Any]) -> Any:
        saved = real_save(self, subscriber, workflow)
        if workflow["name"] == "front" and "workflow_id" not in workflow:
            next_ids.append("wf_0")  # the other writer's workflow gets an id lower than any other
            store.create_workflow(DEMO_SUBSCRIBER, body("front", "theirs"))
        return saved

    next_ids: list[str] = []
    monkeypatch.setattr("relay_cli.local.store.new_workflow_id", lambda: next_ids.pop() if next_ids else real_id())
    monkeypatch.setattr(RelayClient, "save_workflow", save_and_race)
    result = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--json", "--jobs", "1")
    assert result.code == 0, result.err
    (race,) = result.json()["raced"]
    mine = next(w for n, w in ((c["name"], c["workflow_id"]) for c in result.json()["created"]) if n == "front")
    assert race == {"name": "front", "kept": "wf_0", "deleted": [mine], "updated": True}
    assert (
        f"note: another writer created front at the same time as this apply: kept wf_0 (the lowest workflow_id, now "
        f"updated to match the manifest), deleted {mine}\n"
    ) in result.err
    assert by_name(store)["front"] == ["wf_0"]
    monkeypatch.setattr(RelayClient, "save_workflow", real_save)
    assert run(*LOCAL, "workflow", "diff", "-f", str(manifest)).code == 0


# --- two `relay workflow apply` processes at once, against `relay server` ------------------------------------

RACER = (
    textwrap.dedent(
        """
        import sys, time
        from relay_cli.__main__ import main
        from relay_cli.api.client import RelayClient
        """
    )
    + READY_SET_GO
    + textwrap.dedent(
        """
        # the worst overlap, every round: each racer lists the account before either creates anything
        real_list, real_save, rounds = RelayClient.list_workflows, RelayClient.save_workflow, sys.argv[3:]
        state = {"round": 0, "listed": False}

        def wait_for(pattern):
            deadline = time.monotonic() + 10
            while len(list(_signals.glob(pattern))) < 2 and time.monotonic() < deadline:
                time.sleep(0.002)

        def list_workflows(self, *args, **kwargs):
            result = real_list(self, *args, **kwargs)
            if not state["listed"]:
                state["listed"] = True
                (_signals / f"listed-{state['round']}-{_name}").touch()
            return result

        def save_workflow(self, *args, **kwargs):
            wait_for(f"listed-{state['round']}-*")
            return real_save(self, *args, **kwargs)

        RelayClient.list_workflows, RelayClient.save_workflow = list_workflows, save_workflow
        codes = []
        for number, manifest in enumerate(rounds):
            state.update(round=number, listed=False)
            (_signals / f"start-{number}-{_name}").touch()
            wait_for(f"start-{number}-*")  # the two applies of a round start together
            codes.append(main(["workflow", "apply", "-f", manifest, "-s", "demo-account", "--jobs", "3"]))
            print(f"--- end of round {number}", file=sys.stderr, flush=True)
        sys.exit(max(codes))
        """
    )
)


def test_two_applies_at_once_end_with_one_workflow_per_name(run: Any, tmp_path: Path) -> None:
    """Two `relay workflow apply` processes against one `relay server`, three rounds of the same six new names each
    (each process runs its three applies in turn, the two applies of a round starting together)."""
    from relay_cli.local.server import close_server, make_server_for

    server = make_server_for(tmp_path / "server.db", port=0, token="tok")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_HOST=server.base_url, RELAY_API_KEY="tok", RELAY_CONFIG_DIR=str(tmp_path / "cfg"))
    env.update(RELAY_NO_CHECK="1")
    rounds = [[f"r{r}-{i}" for i in range(6)] for r in range(3)]
    manifests = []
    for number, names in enumerate(rounds):
        manifests.append(tmp_path / f"relay-{number}.toml")
        manifests[-1].write_text("".join(entry(n) for n in names), encoding="utf-8")
    signals = tmp_path / "signals"
    signals.mkdir()
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", RACER, str(signals), racer, *map(str, manifests)], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for racer in ("a", "b")
        ]  # fmt: skip
        release_together(procs, signals)
        errs = []
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            errs.append(err.split("--- end of round"))
        stored = by_name(SandboxStore(tmp_path / "server.db"))
        for number, names in enumerate(rounds):
            assert {n: len(stored.get(n, [])) for n in names} == dict.fromkeys(names, 1), errs
            # both created every name; whoever listed last settled it
            assert "note: another writer created" in errs[0][number] + errs[1][number]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("RELAY_HOST", server.base_url)
            patch.setenv("RELAY_API_KEY", "tok")
            for manifest in manifests:
                assert run("workflow", "diff", "-f", str(manifest), "-s", DEMO_SUBSCRIBER).code == 0
    finally:
        server.shutdown()
        close_server(server)
        thread.join(timeout=5)
