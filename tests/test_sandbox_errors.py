"""A sandbox database that cannot be used is a clean error, never a traceback."""

from pathlib import Path
from typing import Any


def test_server_db_that_is_a_directory_is_bad_input(run: Any, tmp_path: Path) -> None:
    result = run("server", "--port", "0", "--db", str(tmp_path))
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"error: --db: cannot open the sandbox database {tmp_path}: unable to open database file\n"


def test_server_db_that_is_not_sqlite_is_bad_input(run: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("not a database\n" * 64)
    result = run("server", "--port", "0", "--db", str(bad))
    assert result.code == 2
    assert result.err == f"error: --db: cannot open the sandbox database {bad}: file is not a database\n"
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
