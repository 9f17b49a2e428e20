"""End-to-end, one test per command group beyond workflows: the commands (in this process: tests/test_e2e.py's
``cli``) against the INSTALLED ``relay server`` on loopback (geofences, venues and positions, NFC tags,
analytics, users, custom audio)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_e2e import ALICE, BOB, Run, Server, cli, pytestmark, server, start_server  # noqa: F401 - fixtures, marks

from relay_cli.local.store import SandboxStore

SUB = "demo-account"


def test_geofence_create_list_delete(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    assert cli(env, "geofence", "list", "--json").ok().json() == []
    office = cli(env, "geofence", "create", "-n", "office", "-a", "1 Main St, Raleigh NC", "-r", "100", "--json")
    dock = cli(env, "geofence", "create", "--label", "dock", "--lat", "35.78", "--long", "-78.64", "-r", "50", "--json")
    office_id, dock_id = office.ok().json()["geofence_id"], dock.ok().json()["geofence_id"]
    listed = cli(env, "geofence", "list", "--json").ok().json()
    assert [(g["geofence_id"], g["label"]) for g in listed] == [(office_id, "office"), (dock_id, "dock")]
    assert {k: listed[1][k] for k in ("lat", "long", "radius")} == {"lat": "35.78", "long": "-78.64", "radius": 50}

    table = cli(env, "geofence", "list").ok()
    assert office_id in table.out and "1 Main St, Raleigh NC" in table.out

    bad = cli(env, "geofence", "create", "-n", "x", "-t", "91", "-g", "0", "-r", "5")
    assert (bad.code, bad.out) == (2, "") and "--latitude" in bad.err

    cli(env, "geofence", "delete", office_id, "--yes").ok()
    assert [g["geofence_id"] for g in cli(env, "geofence", "list", "--json").ok().json()] == [dock_id]
    gone = cli(env, "geofence", "delete", office_id, "--yes")
    assert gone.code == 3, gone.describe()


def test_venues_and_positions(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    assert cli(env, "venues", "--json").ok().json() == [{"venue_id": "venue-hq", "venue_name": "Headquarters"}]
    assert cli(env, "venues").ok().out.splitlines() == ["VENUE ID  NAME", "venue-hq  Headquarters"]
    positions = cli(env, "positions", "-v", "venue-hq", "--json").ok().json()
    assert [p["position_id"] for p in positions] == ["pos-lobby", "pos-kitchen"]
    missing = cli(env, "positions", "-v", "nowhere")
    assert (missing.code, missing.out) == (3, ""), missing.describe()


def test_tag_create_list_update_delete(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    created = cli(env, "tag", "create", "-c", "rooms", "-l", "room-101", "-a", "floor=1", "--json").ok().json()
    tag_id = created["tag_id"]
    assert created["content"] == {"type": "custom", "category": "rooms", "label": "room-101", "floor": "1"}
    cli(env, "tag", "create", "-c", "carts", "-l", "cart-7").ok()
    rooms = cli(env, "tag", "list", "-c", "rooms", "--json").ok().json()
    assert [t["tag_id"] for t in rooms] == [tag_id]

    cli(env, "tag", "update", tag_id, "-c", "rooms", "-l", "room-201").ok()
    assert cli(env, "tag", "list", "-c", "rooms", "--json").ok().json()[0]["content"]["label"] == "room-201"

    refused = cli(env, "tag", "delete", tag_id)  # no terminal, no --yes
    assert refused.code == 2 and "--yes" in refused.err
    cli(env, "tag", "delete", tag_id, "--yes").ok()
    assert cli(env, "tag", "list", "-c", "rooms", "--json").ok().json() == []
    assert cli(env, "tag", "delete", tag_id, "--yes").code == 3


def test_analytics_follow_instances_and_page(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    created = cli(
        env,
        "workflow",
        "create",
        "http",
        "--trigger",
        "POST",
        "-n",
        "hook",
        "-u",
        "wss://h.example/p",
        "-i",
        ALICE,
        "--json",
    )
    store = SandboxStore(
        server.info["db"]
    )  # three runs in progress, as conversations leave them (test_sandbox.py runs real ones)
    for user in (ALICE, ALICE, BOB):
        assert store.trigger(SUB, created.ok().json()["workflow_id"], user) is not None
    _analytics_page(cli, env)


def _analytics_page(cli: Callable[..., Run], env: dict[str, str]) -> None:
    every = cli(env, "analytics", "workflow", "-w", "hook", "--all", "--json").ok().json()
    assert len(every) == 3
    assert [e["timestamp"] for e in every] == sorted((e["timestamp"] for e in every), reverse=True)

    first = cli(env, "analytics", "-l", "2")
    assert first.ok().out.count("\n") == 3  # header and two events
    assert "More events match: add --cursor " in first.err
    cursor = first.err.split("--cursor ", 1)[1].split()[0]
    rest = cli(env, "analytics", "-l", "2", "--cursor", cursor, "--json").ok().json()
    assert [e["id"] for e in rest] == [every[2]["id"]]

    assert [e["user_id"] for e in cli(env, "analytics", "-u", BOB, "--json").ok().json()] == [BOB]
    assert cli(env, "analytics", "--oldest", "2999-01-01", "--json").ok().json() == []
    bad = cli(env, "analytics", "--latest", "soon")
    assert (bad.code, bad.out) == (2, "") and "--latest" in bad.err


def test_user_list(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    assert cli(env, "user", "list", "--json").ok().json() == [
        {"username": "alice", "user_profile_id": "up-alice"},
        {"username": "bob", "user_profile_id": "up-bob"},
    ]
    assert cli(env, "user", "list").ok().out.splitlines() == [
        "USER NAME  USER ID",
        "alice      up-alice",
        "bob        up-bob",
    ]
    refused = cli(server.client_env(tmp_path, RELAY_API_KEY="wrong"), "user", "list")
    assert refused.code == 4, refused.describe()

    assigned = cli(env, "user", "assignments", "--json").ok().json()
    assert [(a["id"], a["device_id"]) for a in assigned] == [("up-bob", BOB), ("up-alice", ALICE)]
    first = cli(env, "user", "assignments", "-l", "1").ok()
    cursor = first.err.split("--cursor ", 1)[1].split()[0]
    rest = cli(env, "user", "assignments", "-l", "1", "--cursor", cursor, "--json").ok().json()
    assert [a["id"] for a in rest] == ["up-alice"]


def _wav(path: Path, frames: int) -> Path:
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * frames)
    return path


def test_audio_create_list_delete(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    small = _wav(tmp_path / "chime.wav", 8000)
    large = _wav(tmp_path / "welcome.wav", 1_500_000)  # 3 MB: streamed in chunks
    chime = cli(env, "audio", "create", "-n", "chime", "-f", str(small), "--json").ok().json()
    created = cli(env, "audio", "create", "-n", "welcome", "-f", str(large))
    assert created.ok().err.startswith("Uploaded 'welcome' with ID 'au_")
    assert "relay-static://welcome" in created.err
    listed = cli(env, "audio", "list", "--json").ok().json()
    assert [(a["short_name"], a["audio_format"]) for a in listed] == [("chime", "wave"), ("welcome", "wave")]
    assert listed[0] == chime

    from relay_cli.local.store import SandboxStore

    store = SandboxStore(Path(server.info["db"]))
    sizes = {a["short_name"]: store.resource("custom_audio_file", SUB, a["id"])["size"] for a in listed}
    assert sizes == {"chime": small.stat().st_size, "welcome": large.stat().st_size}

    taken = cli(env, "audio", "create", "-n", "chime", "-f", str(small))
    assert taken.code == 1 and "exists already" in taken.err
    not_wav = tmp_path / "notes.txt"
    not_wav.write_text("not audio")
    refused = cli(env, "audio", "create", "-n", "notes", "-f", str(not_wav))
    assert (refused.code, refused.out) == (2, "") and "--file" in refused.err

    cli(env, "audio", "delete", chime["id"], "--yes").ok()
    assert [a["short_name"] for a in cli(env, "audio", "list", "--json").ok().json()] == ["welcome"]
    assert cli(env, "audio", "delete", chime["id"], "--yes").code == 3


def test_account_commands(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    env = server.client_env(tmp_path)
    devices = cli(env, "devices", "--json").ok().json()
    assert devices[:2] == [ALICE, BOB] and len(devices) == 5
    groups = cli(env, "group", "list", "--json").ok().json()
    assert [(g["name"], g["subscribers"]) for g in groups] == [("Front desk", [ALICE, BOB])]
    assert cli(env, "subscriber", "list", "--json").ok().json() == [{"subscriber_id": SUB}]
    assert cli(env, "subscriber", "get").ok().out == f"{SUB}\n"
    cli(env, "subscriber", "set", SUB).ok()
    assert cli(env, "whoami", "--json").ok().json()["default_account"] == SUB


def _unused(_: Callable[..., Any]) -> None:  # keeps the imported fixtures referenced for linters
    pass
