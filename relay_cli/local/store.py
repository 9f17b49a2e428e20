"""SandboxStore: the sandbox's SQLite database.

- WAL journal, ``busy_timeout`` of 10 s, and every write is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction, so
  any number of threads and processes may open the same file at once.
- One writer per process and file: the threads of a process take turns on a lock before they begin a write, so
  only processes ever wait in SQLite's busy handler (threads queued there could wait past the busy timeout under
  load and fail with "database is locked").
- Connections are reused: an operation takes an idle one (or opens one) and gives it back, never used by two
  threads at once. Keeping one open also keeps the WAL from being checkpointed and deleted after every
  operation, which made each write cost milliseconds. ``close()`` closes the idle ones.
- The schema is created on first open and the demo account (``seed.py``) inserted in that same transaction;
  ``PRAGMA user_version`` records that it was done, so it happens exactly once per file, and ``PRAGMA
  application_id`` (``APPLICATION_ID``) marks the file as a sandbox database.
- A file that is not one (another program's SQLite database, ``relay server --db other.db``) is refused before
  anything is written to it: it is first opened read-only, and only a new file, a file of ours, or a sandbox
  database made before the mark existed (exactly our tables, a schema version we know) is written. One of a newer
  schema than this relay knows is refused as such.
- The file is the user's alone: created 0600 (SQLite gives its -wal and -shm files the same mode), in a directory
  created 0700.
- Every change to a workflow or an instance also appends to the ``events`` table (the realtime log),
  inside the same transaction.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

from ..core import workflow as wf
from ..errors import ExitStatus, RelayError
from ..jsontypes import JSONObject
from . import seed as _seed


class Instance(TypedDict):
    """A row of ``instances``: a run of a workflow (``ended_at`` None while it runs)."""

    instance_id: str
    subscriber_id: str
    triggering_user_id: str | None
    workflow_id: str
    workflow_uri: str | None
    started_at: str
    ended_at: str | None


class Event(TypedDict):
    """A row of ``events``: one line of the account's event log."""

    id: int
    subscriber_id: str
    workflow_id: str | None
    user_id: str | None
    level: str
    timestamp: str
    message: str


SCHEMA_VERSION = 3
#: ``PRAGMA application_id`` of a sandbox database (the bytes "RLAY"), as file(1) and SQLite's docs suggest
APPLICATION_ID = 0x524C4159
BUSY_TIMEOUT_MS = 10_000
#: idle connections a store keeps for reuse (more may be open while many threads work at once)
MAX_IDLE = 8

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    """The process's one lock for writing the database at ``path`` (shared by every store on that file)."""
    key = str(path.resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    subscriber_id TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    capabilities  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS devices (
    subscriber_id TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, device_id)
);
CREATE TABLE IF NOT EXISTS "groups" (
    group_id      TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    name          TEXT NOT NULL,
    members       TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (subscriber_id, group_id)
);
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id   TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workflows_by_subscriber ON workflows (subscriber_id, created_at);
CREATE TABLE IF NOT EXISTS instances (
    instance_id        TEXT PRIMARY KEY,
    subscriber_id      TEXT NOT NULL,
    workflow_id        TEXT NOT NULL,
    triggering_user_id TEXT,
    workflow_uri       TEXT,
    started_at         TEXT NOT NULL,
    ended_at           TEXT
);
CREATE INDEX IF NOT EXISTS instances_by_subscriber ON instances (subscriber_id, ended_at);
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id TEXT NOT NULL,
    workflow_id   TEXT,
    user_id       TEXT,
    level         TEXT NOT NULL,
    timestamp     TEXT NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_subscriber ON events (subscriber_id, id);
CREATE TABLE IF NOT EXISTS resources (
    kind          TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (kind, subscriber_id, resource_id)
);
"""


#: the tables SCHEMA makes (a database with any other is not a sandbox's)
TABLES = frozenset(re.findall(r'CREATE TABLE IF NOT EXISTS "?(\w+)"?', SCHEMA)) | {"sqlite_sequence"}


def now() -> str:
    """UTC, ISO-8601 with milliseconds and a ``Z``: ``2030-01-01T09:00:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_workflow_id() -> str:
    return "wf_" + secrets.token_hex(12)


def new_instance_id() -> str:
    return str(uuid.uuid4())


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SandboxUnavailable(RelayError):
    """The sandbox database cannot be opened, is not a SQLite database, or is not a sandbox's."""

    exit_code = ExitStatus.API


def refusal(application_id: int, user_version: int, tables: set[str]) -> str | None:
    """Why a SQLite database with this ``PRAGMA application_id``, ``user_version`` and these tables is not one the
    sandbox may write to (None: it may: a new, empty one, or a sandbox database of a schema this relay knows)."""
    foreign = sorted(tables - TABLES)
    if application_id not in (0, APPLICATION_ID):
        return f"it is not a sandbox database (its application_id is {application_id:#010x}, another program's)"
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        return f"it is not a sandbox database (it has tables of another program: {shown})"
    if application_id == 0 and (not tables) != (user_version == 0):
        return (
            f"it is not a sandbox database (user_version {user_version}, tables {', '.join(sorted(tables)) or 'none'})"
        )
    if user_version > SCHEMA_VERSION:
        return (
            f"it was made by a newer relay (sandbox schema version {user_version}; this relay knows versions up to "
            f"{SCHEMA_VERSION}): upgrade relay, or use another database"
        )
    return None


def _inspect(conn: sqlite3.Connection) -> tuple[int, int, set[str]]:
    """The mark, the schema version and the tables, read in one snapshot (in the caller's transaction, else in a
    read transaction of its own): read one by one, another process's first open could commit between two reads,
    and its tables be seen without its version, which is refused as another program's file."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        if own:
            conn.execute("COMMIT")
    return application_id, user_version, tables


def _make_private_directory(directory: Path) -> None:
    """``directory`` and any missing parent, each created 0700 (an existing one is left as it is)."""
    missing = []
    for path in (directory, *directory.parents):
        if path.is_dir():
            break
        missing.append(path)
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            if not path.is_dir():
                raise


def _file_in_the_way(directory: Path) -> Path | None:
    """The first of ``directory`` and its parents that exists and is not a directory, if any."""
    for path in (directory, *directory.parents):
        if path.exists() and not path.is_dir():
            return path
    return None


class SandboxStore:
    """The sandbox database at ``path`` (created, with its parent directory, on first open)."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path).expanduser()
        self.busy_timeout_ms = max(5000, int(busy_timeout_ms))
        self._idle: list[sqlite3.Connection] = []
        self._idle_guard = threading.Lock()
        try:
            _make_private_directory(self.path.parent)
            self._writing = _write_lock(self.path)
            self._initialize()
        except (OSError, sqlite3.DatabaseError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            in_the_way = (
                _file_in_the_way(self.path.parent) if isinstance(exc, (FileExistsError, NotADirectoryError)) else None
            )
            if in_the_way is not None:  # "File exists" says nothing of which file
                reason = f"{in_the_way} is not a directory"
            raise SandboxUnavailable(
                f"cannot open the sandbox database {self.path}: {reason}",
                hint="give --db / RELAY_DATA_DIR a writable SQLite file (a new one is created)",
            ) from None

    # --- connections and transactions ------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A new connection in autocommit mode (transactions are explicit); the caller closes it. It may be used
        from any thread, one at a time."""
        conn = sqlite3.connect(
            str(self.path), timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def close(self) -> None:
        """Close the idle connections (the store stays usable: the next operation opens a new one)."""
        with self._idle_guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """An idle connection (or a new one), given back afterwards unless the block failed."""
        with self._idle_guard:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self.connect()
        try:
            yield conn
        except BaseException:
            conn.close()  # rolls back whatever the failed block left open
            raise
        if conn.in_transaction:
            conn.close()
            return
        with self._idle_guard:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every statement in the block sees the same snapshot."""
        with self._connection() as conn:
            conn.execute("BEGIN")
            yield conn
            conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back if it raises. The
        process's write lock is held throughout, so the threads of a process write one after the other."""
        with self._writing, self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _initialize(self) -> None:
        """Check the file is (or may become) a sandbox database, reading it only; then WAL mode, schema, seed and
        the mark: idempotent, and safe when many processes open a new file at once."""
        legacy = self._check_read_only()
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                conn = self.connect()
                try:
                    application_id, user_version, tables = _inspect(conn)
                    self._refuse(application_id, user_version, tables)  # before any write, on this connection too
                    if application_id == APPLICATION_ID and user_version == SCHEMA_VERSION:
                        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                            conn.execute("PRAGMA journal_mode = WAL")
                        return
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        application_id, user_version, tables = _inspect(conn)  # again: another process may be first
                        self._refuse(application_id, user_version, tables)
                        if user_version < SCHEMA_VERSION:
                            for statement in SCHEMA.split(";"):
                                if statement.strip():
                                    conn.execute(statement)
                            _seed.seed(conn)
                            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
                    if legacy:
                        self._make_private()
                    return
                finally:
                    conn.close()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _check_read_only(self) -> bool:
        """Before anything is written: a new file is created 0600 and empty (SQLite makes it a database); an
        existing one is opened read-only and refused (SandboxUnavailable) unless it may be a sandbox database.
        True when it is one made before the mark existed (it gets the mark, and is made private)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            return False
        mode = os.stat(self.path).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "it is a directory")
        if not stat.S_ISREG(mode):  # a FIFO would hold the open until something writes into it
            raise OSError(errno.EINVAL, "not a regular file")
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout_ms / 1000)
        try:
            application_id, user_version, tables = _inspect(conn)
        finally:
            conn.close()
        self._refuse(application_id, user_version, tables)
        return application_id == 0 and bool(tables)

    def _refuse(self, application_id: int, user_version: int, tables: set[str]) -> None:
        problem = refusal(application_id, user_version, tables)
        if problem is not None:
            raise SandboxUnavailable(
                f"cannot open the sandbox database {self.path}: {problem}",
                hint="give --db / RELAY_DATA_DIR a sandbox database, or the name of a new file",
            )

    def _make_private(self) -> None:
        """A sandbox database made before it was private (0644): readable by its owner alone from now on."""
        for path in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            try:
                if os.stat(path).st_mode & 0o077:
                    os.chmod(path, 0o600)
            except OSError:
                pass

    # --- account ---------------------------------------------------------------------------------

    def account(self, subscriber_id: str) -> JSONObject | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT subscriber_id, name, capabilities FROM accounts WHERE subscriber_id = ?", (subscriber_id,)
            ).fetchone()
        if row is None:
            return None
        return {
            "subscriber_id": row["subscriber_id"],
            "name": row["name"],
            "capabilities": json.loads(row["capabilities"]),
        }

    def accounts(self) -> list[JSONObject]:
        with self._read() as conn:
            rows = conn.execute("SELECT subscriber_id, name, capabilities FROM accounts ORDER BY rowid").fetchall()
        return [
            {"subscriber_id": r["subscriber_id"], "name": r["name"], "capabilities": json.loads(r["capabilities"])}
            for r in rows
        ]

    def devices(self, subscriber_id: str) -> dict[str, str]:
        """device id → name, in insertion order."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT device_id, name FROM devices WHERE subscriber_id = ? ORDER BY rowid", (subscriber_id,)
            ).fetchall()
        return {r["device_id"]: r["name"] for r in rows}

    def device_ids(self, subscriber_id: str) -> list[str]:
        return list(self.devices(subscriber_id))

    def groups(self, subscriber_id: str) -> list[JSONObject]:
        with self._read() as conn:
            rows = conn.execute(
                'SELECT group_id, subscriber_id, name, members FROM "groups" WHERE subscriber_id = ? ORDER BY rowid',
                (subscriber_id,),
            ).fetchall()
        return [
            {
                "group_id": r["group_id"],
                "name": r["name"],
                "owner": r["subscriber_id"],
                "subscribers": json.loads(r["members"]),
            }
            for r in rows
        ]

    # --- workflows -------------------------------------------------------------------------------

    @staticmethod
    def _workflow(row: sqlite3.Row) -> JSONObject:
        body = json.loads(row["body"])
        body.pop("workflow_id", None)
        return {"workflow_id": row["workflow_id"], **body}

    def list_workflows(self, subscriber_id: str) -> list[JSONObject]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT workflow_id, body FROM workflows WHERE subscriber_id = ? ORDER BY created_at, rowid",
                (subscriber_id,),
            ).fetchall()
        return [self._workflow(r) for r in rows]

    def workflow_times(self, subscriber_id: str) -> dict[str, str]:
        """workflow id → when it was created (``now()``'s format), for the account's workflows."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT workflow_id, created_at FROM workflows WHERE subscriber_id = ?", (subscriber_id,)
            ).fetchall()
        return {r["workflow_id"]: r["created_at"] for r in rows}

    def get_workflow(self, subscriber_id: str, workflow_id: str) -> JSONObject | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT workflow_id, body FROM workflows WHERE subscriber_id = ? AND workflow_id = ?",
                (subscriber_id, workflow_id),
            ).fetchone()
        return None if row is None else self._workflow(row)

    def create_workflow(self, subscriber_id: str, body: JSONObject) -> JSONObject:
        """Store a new workflow under a new id; returns it with its ``workflow_id``."""
        stored = {k: v for k, v in body.items() if k != "workflow_id"}
        with self._write() as conn:
            while True:
                workflow_id = new_workflow_id()
                if conn.execute("SELECT 1 FROM workflows WHERE workflow_id = ?", (workflow_id,)).fetchone() is None:
                    break
            conn.execute(
                "INSERT INTO workflows (workflow_id, subscriber_id, body, created_at) VALUES (?, ?, ?, ?)",
                (workflow_id, subscriber_id, json.dumps(stored), now()),
            )
            self._log(conn, subscriber_id, workflow_id, None, "info", f"workflow created: {stored.get('name')!s}")
        return {"workflow_id": workflow_id, **stored}

    def replace_workflow(self, subscriber_id: str, workflow_id: str, body: JSONObject) -> JSONObject | None:
        """Replace the whole stored body; ``None`` when the account has no such workflow."""
        stored = {k: v for k, v in body.items() if k != "workflow_id"}
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE workflows SET body = ? WHERE subscriber_id = ? AND workflow_id = ?",
                (json.dumps(stored), subscriber_id, workflow_id),
            )
            if cursor.rowcount == 0:
                return None
            self._log(conn, subscriber_id, workflow_id, None, "info", f"workflow updated: {stored.get('name')!s}")
        return {"workflow_id": workflow_id, **stored}

    def delete_workflow(self, subscriber_id: str, workflow_id: str) -> bool:
        """Delete it and end its running instances; ``False`` when the account has no such workflow."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT body FROM workflows WHERE subscriber_id = ? AND workflow_id = ?", (subscriber_id, workflow_id)
            ).fetchone()
            if row is None:
                return False
            name = json.loads(row["body"]).get("name")
            conn.execute(
                "DELETE FROM workflows WHERE subscriber_id = ? AND workflow_id = ?", (subscriber_id, workflow_id)
            )
            conn.execute(
                "UPDATE instances SET ended_at = ? WHERE subscriber_id = ? AND workflow_id = ? AND ended_at IS NULL",
                (now(), subscriber_id, workflow_id),
            )
            self._log(conn, subscriber_id, workflow_id, None, "info", f"workflow deleted: {name!s}")
        return True

    # --- instances -------------------------------------------------------------------------------

    def trigger(
        self,
        subscriber_id: str,
        workflow_id: str,
        user_id: str | None,
        args: JSONObject | None = None,
        target_device_ids: list[str] | None = None,
        *,
        message: str | None = None,
    ) -> JSONObject | None:
        """Start an instance of the workflow (``None`` when there is no such workflow) and log ``message``, by
        default ``triggered by <user_id> with args <args as JSON>``. ``target_device_ids`` is accepted and ignored
        (an instance runs for ``user_id``)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT body FROM workflows WHERE subscriber_id = ? AND workflow_id = ?", (subscriber_id, workflow_id)
            ).fetchone()
            if row is None:
                return None
            body = json.loads(row["body"])
            uri = _uri_of(body)
            instance: JSONObject = {
                "instance_id": new_instance_id(),
                "subscriber_id": subscriber_id,
                "triggering_user_id": user_id,
                "workflow_id": workflow_id,
                "workflow_uri": uri,
            }
            conn.execute(
                "INSERT INTO instances (instance_id, subscriber_id, workflow_id, triggering_user_id, workflow_uri,"
                " started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (instance["instance_id"], subscriber_id, workflow_id, user_id, uri, now()),
            )
            if message is None:
                message = f"triggered by {user_id} with args {json.dumps(args or {}, sort_keys=True)}"
            self._log(conn, subscriber_id, workflow_id, user_id, "info", message)
        return instance

    def list_instances(self, subscriber_id: str, *, running_only: bool = True) -> list[Instance]:
        query = (
            "SELECT instance_id, subscriber_id, triggering_user_id, workflow_id, workflow_uri, started_at, ended_at"
            " FROM instances WHERE subscriber_id = ?"
        )
        if running_only:
            query += " AND ended_at IS NULL"
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY started_at, rowid", (subscriber_id,)).fetchall()
        return [
            Instance(
                instance_id=r["instance_id"],
                subscriber_id=r["subscriber_id"],
                triggering_user_id=r["triggering_user_id"],
                workflow_id=r["workflow_id"],
                workflow_uri=r["workflow_uri"],
                started_at=r["started_at"],
                ended_at=r["ended_at"],
            )
            for r in rows
        ]

    def instance_running(self, subscriber_id: str, instance_id: str) -> bool:
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM instances WHERE subscriber_id = ? AND instance_id = ? AND ended_at IS NULL",
                (subscriber_id, instance_id),
            ).fetchone()
        return row is not None

    def end_instance(
        self, subscriber_id: str, instance_id: str, *, message: str | None = None, level: str = "info"
    ) -> bool:
        """End a running instance and log ``message`` (default ``instance <id> stopped``); ``False`` when the
        account has no such running instance."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT workflow_id, triggering_user_id FROM instances"
                " WHERE subscriber_id = ? AND instance_id = ? AND ended_at IS NULL",
                (subscriber_id, instance_id),
            ).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE instances SET ended_at = ? WHERE instance_id = ?", (now(), instance_id))
            self._log(
                conn,
                subscriber_id,
                row["workflow_id"],
                row["triggering_user_id"],
                level,
                message if message is not None else f"instance {instance_id} stopped",
            )
        return True

    # --- the event log ---------------------------------------------------------------------------

    @staticmethod
    def _log(
        conn: sqlite3.Connection,
        subscriber_id: str,
        workflow_id: str | None,
        user_id: str | None,
        level: str,
        message: str,
    ) -> None:
        conn.execute(
            "INSERT INTO events (subscriber_id, workflow_id, user_id, level, timestamp, message) VALUES (?, ?, ?, ?, ?, ?)",
            (subscriber_id, workflow_id, user_id, level, now(), message),
        )

    def log(
        self,
        subscriber_id: str,
        message: str,
        *,
        workflow_id: str | None = None,
        user_id: str | None = None,
        level: str = "info",
    ) -> None:
        """Append one line to the event log."""
        with self._write() as conn:
            self._log(conn, subscriber_id, workflow_id, user_id, level, message)

    def last_event_id(self, subscriber_id: str) -> int:
        """The id of the account's newest event-log row (0 when there is none)."""
        with self._read() as conn:
            row = conn.execute("SELECT MAX(id) FROM events WHERE subscriber_id = ?", (subscriber_id,)).fetchone()
        return int(row[0] or 0)

    def events(
        self,
        subscriber_id: str,
        *,
        after: int = 0,
        workflow_id: str | None = None,
        user_id: str | None = None,
        upto: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Event-log rows with ``after < id <= upto``, oldest first."""
        query = (
            "SELECT id, subscriber_id, workflow_id, user_id, level, timestamp, message FROM events"
            " WHERE subscriber_id = ? AND id > ?"
        )
        params: list[str | int] = [subscriber_id, after]
        if upto is not None:
            query += " AND id <= ?"
            params.append(upto)
        if workflow_id is not None:
            query += " AND workflow_id = ?"
            params.append(workflow_id)
        if user_id is not None:
            query += " AND user_id = ?"
            params.append(user_id)
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(int(limit))
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [
            Event(
                id=r["id"],
                subscriber_id=r["subscriber_id"],
                workflow_id=r["workflow_id"],
                user_id=r["user_id"],
                level=r["level"],
                timestamp=r["timestamp"],
                message=r["message"],
            )
            for r in rows
        ]

    # --- other resources: geofences, venues, positions, NFC tags, user profiles -------------------

    def resources(self, kind: str, subscriber_id: str) -> list[JSONObject]:
        """Every ``kind`` resource of the account (``geofence``, ``venue``, ``position``, ``nfc_tag``,
        ``user_profile``), oldest first, each a JSON object as the API returns it."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT body FROM resources WHERE kind = ? AND subscriber_id = ? ORDER BY rowid", (kind, subscriber_id)
            ).fetchall()
        return [json.loads(r["body"]) for r in rows]

    def resource(self, kind: str, subscriber_id: str, resource_id: str) -> JSONObject | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT body FROM resources WHERE kind = ? AND subscriber_id = ? AND resource_id = ?",
                (kind, subscriber_id, resource_id),
            ).fetchone()
        return None if row is None else json.loads(row["body"])

    def put_resource(self, kind: str, subscriber_id: str, resource_id: str, body: JSONObject) -> JSONObject:
        """Create or replace one resource."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO resources (kind, resource_id, subscriber_id, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, subscriber_id, resource_id) DO UPDATE SET body = excluded.body",
                (kind, resource_id, subscriber_id, json.dumps(body)),
            )
        return body

    def update_resource(
        self, kind: str, subscriber_id: str, resource_id: str, change: Callable[[JSONObject | None], JSONObject]
    ) -> tuple[JSONObject | None, JSONObject]:
        """Read one resource and replace it with ``change(old)`` (``old`` None when there is none) in one write
        transaction, so two changes at once never lose one; returns (old, new)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT body FROM resources WHERE kind = ? AND subscriber_id = ? AND resource_id = ?",
                (kind, subscriber_id, resource_id),
            ).fetchone()
            old = None if row is None else json.loads(row["body"])
            new = change(old)
            conn.execute(
                "INSERT INTO resources (kind, resource_id, subscriber_id, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, subscriber_id, resource_id) DO UPDATE SET body = excluded.body",
                (kind, resource_id, subscriber_id, json.dumps(new)),
            )
        return old, new

    def delete_resource(self, kind: str, subscriber_id: str, resource_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM resources WHERE kind = ? AND subscriber_id = ? AND resource_id = ?",
                (kind, subscriber_id, resource_id),
            )
        return cursor.rowcount > 0


def _uri_of(body: JSONObject) -> str | None:
    uri = wf.start_of(body).get("uri")
    return uri if isinstance(uri, str) else None
