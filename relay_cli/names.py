"""Workflow names for shell completion (``-w <TAB>``), known without a request on each key press.

- The local sandbox: its database is read directly (only when it exists: completion never creates one).
- Relay: the names a listing brought last, kept in a short-lived cache file, ``workflow-names.json`` in the
  user's cache directory (``RELAY_CACHE_DIR``, else the platform's: ``~/.cache/relay`` on Linux), for
  ``TTL`` seconds. ``workflow list`` and every ``-w`` lookup write it, in an interactive session only (stdin or
  stderr a terminal): a script or CI job leaves no file behind and pays nothing for it. Each entry is for one
  API host, profile and account (the account given or configured; none: the login's default account), so a
  completion never offers the names of another target. The file is private (0600), replaced atomically, and
  holds names only. Anything wrong with it (missing, stale, unreadable, malformed) means no names: completion
  never fails and never asks the server.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .jsontypes import JSONObject, JSONValue

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .state import State

#: seconds the names of a listing are offered for
TTL = 300
FILE_NAME = "workflow-names.json"
#: the most names kept per target (a listing of more is kept in part: completion of 100,000 names helps no one)
MAX_NAMES = 20_000
#: the most bytes of the file that are read
MAX_FILE = 8 * 1024 * 1024


def cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("RELAY_CACHE_DIR"):
        return Path(environ["RELAY_CACHE_DIR"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("relay", appauthor=False))


def _key(st: State, subscriber_flag: str | None) -> str:
    configured = st.configured_subscriber(subscriber_flag) or ""
    return f"{st.api_url} {st.profile_name} {configured}"


def _interactive() -> bool:
    for stream in (sys.stdin, sys.stderr):
        try:
            if stream is not None and stream.isatty():
                return True
        except (AttributeError, ValueError):
            continue
    return False


def _read(path: Path) -> JSONObject:
    from . import inputs

    try:
        data = json.loads(inputs.read_bytes(path, MAX_FILE, "the completion cache", regular_only=True))
    except (OSError, ValueError, RecursionError, inputs.InputError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def remember(st: State, subscriber_flag: str | None, workflows: Iterable[JSONObject]) -> None:
    """After a listing of the account's workflows on Relay, in an interactive session: keep their names for
    completion. Never fails the command: a cache that cannot be written is no cache."""
    if st.is_local or not _interactive():
        return
    try:
        path = cache_dir(st.environ) / FILE_NAME
        now = time.time()
        entries = {k: v for k, v in _read(path).items() if isinstance(v, dict) and _fresh(v, now)}
        names: list[JSONValue] = [
            str(w.get("name")) for w in workflows if isinstance(w, dict) and isinstance(w.get("name"), str)
        ]
        entries[_key(st, subscriber_flag)] = {"at": now, "names": list(dict.fromkeys(names))[:MAX_NAMES]}
        from .config.store import atomic_write

        atomic_write(path, json.dumps({"entries": entries}, ensure_ascii=False), mode=0o600)
    except (OSError, ValueError):
        pass


def _fresh(entry: JSONObject, now: float) -> bool:
    at = entry.get("at")
    return isinstance(at, (int, float)) and 0 <= now - at <= TTL


def known(st: State, subscriber_flag: str | None) -> list[str]:
    """The workflow names completion offers for the selected target (see the module's docstring)."""
    if st.is_local:
        return _sandbox_names(st, subscriber_flag)
    entry = _read(cache_dir(st.environ) / FILE_NAME).get(_key(st, subscriber_flag))
    if not isinstance(entry, dict) or not _fresh(entry, time.time()):
        return []
    names = entry.get("names")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _sandbox_names(st: State, subscriber_flag: str | None) -> list[str]:
    from .state import sandbox_db

    db = sandbox_db(st.environ)
    if not os.path.isfile(db):
        return []
    from .local.store import SandboxStore

    store = SandboxStore(db)
    try:
        account = st.configured_subscriber(subscriber_flag)
        if account is None:
            accounts = store.accounts()
            account = str(accounts[0]["subscriber_id"]) if accounts else None
        workflows = store.list_workflows(account) if account else []
        return list(dict.fromkeys(str(w["name"]) for w in workflows if isinstance(w.get("name"), str)))
    finally:
        store.close()
