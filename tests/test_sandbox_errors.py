"""A sandbox database that cannot be used is a clean error, never a traceback."""

import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from relay_cli.local.store import SandboxStore


def test_server_db_that_is_a_directory_is_bad_input(run: Any, tmp_path: Path) -> None:
    result = run("server", "--port", "0", "--db", str(tmp_path))
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"error: --db: cannot open the sandbox database {tmp_path}: it is a directory\n"
        "hint: give --db / RELAY_DATA_DIR a writable SQLite file (a new one is created)\n"
    )


def test_server_db_that_is_not_sqlite_is_bad_input(run: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("not a database\n" * 64)
    result = run("server", "--port", "0", "--db", str(bad))
    assert result.code == 2
    assert result.err == (
        f"error: --db: cannot open the sandbox database {bad}: file is not a database\n"
        "hint: give --db / RELAY_DATA_DIR a writable SQLite file (a new one is created)\n"
    )
    assert bad.read_text() == "not a database\n" * 64


def test_local_profile_with_a_broken_database(run: Any, tmp_path: Path) -> None:
    db = tmp_path / "data" / "sandbox.db"
    db.parent.mkdir(parents=True)
    db.write_text("not a database\n" * 64)
    result = run("--profile", "local", "workflow", "list")
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        f"error: cannot open the sandbox database {db}: file is not a database\n"
        "hint: give --db / RELAY_DATA_DIR a writable SQLite file (a new one is created)\n"
    )


def test_server_refuses_a_port_out_of_range(run: Any) -> None:
    result = run("server", "--port", "70000")
    assert result.code == 2
    assert result.err == "error: --port: expected a port from 0 to 65535, got 70000\n"


# --- --db names another program's database ------------------------------------------------------------------------


def serve_briefly(run: Any, *args: str) -> Any:
    """``relay server ...`` that is expected to refuse at once; should it serve instead, SIGTERM (which the server
    takes as its normal end, exit 0) stops it after a few seconds rather than leaving the test waiting forever."""
    watchdog = threading.Timer(5.0, os.kill, (os.getpid(), signal.SIGTERM))
    watchdog.start()
    try:
        return run("server", "--port", "0", *args)
    finally:
        watchdog.cancel()


def _other_program_db(path: Path, kind: str) -> None:
    conn = sqlite3.connect(path)
    if kind == "own tables":
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('mine')")
    elif kind == "our names and one of its own":
        conn.execute("CREATE TABLE workflows (workflow_id TEXT)")
        conn.execute("CREATE TABLE settings (k TEXT, v TEXT)")
        conn.execute("PRAGMA user_version = 3")
    elif kind == "user_version only":
        conn.execute("PRAGMA user_version = 7")
    elif kind == "application_id":
        conn.execute(f"PRAGMA application_id = {0x47504B47}")  # "GPKG", a GeoPackage
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("own tables", "it has tables of another program: notes"),
        ("our names and one of its own", "it has tables of another program: settings"),
        ("user_version only", "user_version 7, tables none"),
        ("application_id", "its application_id is 0x47504b47, another program's"),
    ],
)
def test_server_refuses_a_database_that_is_not_a_sandbox_and_leaves_it_byte_identical(
    run: Any, tmp_path: Path, kind: str, why: str
) -> None:
    """No tables, no demo rows, no user_version, no switch to WAL: the file is only read, and refused (exit 2)."""
    other = tmp_path / "other.db"
    _other_program_db(other, kind)
    before = other.read_bytes()
    result = serve_briefly(run, "--db", str(other))
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: --db: cannot open the sandbox database {other}: it is not a sandbox database ({why})\n"
        "hint: give --db / RELAY_DATA_DIR a sandbox database, or the name of a new file\n"
    )
    assert other.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["other.db"]  # no -wal, no -shm, no journal


def test_a_sandbox_database_of_a_newer_schema_is_refused_not_served(run: Any, tmp_path: Path) -> None:
    """A newer relay's database is refused with the reason, instead of a server that answers 500 to everything."""
    db = tmp_path / "data" / "sandbox.db"
    SandboxStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    before = db.read_bytes()
    why = "it was made by a newer relay (sandbox schema version 4; this relay knows versions up to 3): upgrade relay, or use another database"
    result = serve_briefly(run, "--db", str(db))
    assert (result.code, result.err.splitlines()[0]) == (
        2,
        f"error: --db: cannot open the sandbox database {db}: {why}",
    )
    result = run("--profile", "local", "workflow", "list")
    assert (result.code, result.err.splitlines()[0]) == (1, f"error: cannot open the sandbox database {db}: {why}")
    assert db.read_bytes() == before


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_the_sandbox_database_and_its_directory_are_private(run: Any, tmp_path: Path) -> None:
    """Made 0600 (and so its -wal and -shm, which SQLite gives the database's mode) in a directory made 0700."""
    data = tmp_path / "data"
    result = run("--profile", "local", "workflow", "list", "--json")
    assert result.code == 0, result.err
    store = SandboxStore(data / "sandbox.db")  # held open, so that its -wal and -shm are there to look at
    try:
        store.accounts()
        modes = {p.name: p.stat().st_mode & 0o777 for p in [data, *data.iterdir()]}
    finally:
        store.close()
    assert modes == {"data": 0o700, "sandbox.db": 0o600, "sandbox.db-wal": 0o600, "sandbox.db-shm": 0o600}


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_a_sandbox_database_made_before_the_mark_keeps_its_data_and_becomes_private(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    store = SandboxStore(db)
    store.create_workflow("demo-account", {"name": "kept", "config": {}, "install": []})
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA application_id = 0")  # as relay made it until now, 0644
    conn.close()
    db.chmod(0o644)

    store = SandboxStore(db)
    assert [w["name"] for w in store.list_workflows("demo-account")] == ["kept"]
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x524C4159  # "RLAY"
    conn.close()
    assert db.stat().st_mode & 0o777 == 0o600
