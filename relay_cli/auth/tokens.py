"""Where stored tokens live: the operating system's keyring (service ``relay-cli``, one entry per profile and
API host, ``profile@api_url``), holding a JSON document ``{"access_token", "refresh_token", "id_token",
"issuer", "client_id"}``.

When no usable keyring backend exists (headless CI, containers: keyring's null or fail backend, or a backend
that errors), tokens go to ``credentials.json`` next to the config file instead, mode 0600, written
atomically under a lock; a note on stderr says so when the file is created. Tokens never go into the profile TOML.
As OpenSSH does with a private key others can read, a ``credentials.json`` that others can read or write, or that
another user owns, is refused (exit 2) before it is read: its tokens may be known, or planted, by someone else.
``RELAY_API_KEY`` always wins over anything stored here (State decides that).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from .. import inputs
from ..config import store as config_store
from ..errors import AuthError, RelayError, UsageError
from ..jsontypes import JSONObject

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

SERVICE = "relay-cli"
FALLBACK_FILE = "credentials.json"
_UNUSABLE_BACKENDS = ("keyring.backends.null", "keyring.backends.fail")


class UnsafeCredentials(UsageError):
    """credentials.json can be read or written by others, or belongs to another user: it is not used."""


def _private(path: Path, status: os.stat_result) -> None:
    """Refuse (UnsafeCredentials) a credentials file that is not the user's alone. POSIX only: elsewhere the file's
    access is the system's ACLs, which the directory it is made in gives."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(status.st_mode)
    if status.st_uid != os.getuid():
        problem, fix = f"owned by another user (uid {status.st_uid})", "remove it (it is not yours) and log in again"
    elif mode & 0o022:
        problem, fix = (
            f"writable by others (mode {mode:04o})",
            "remove it and log in again (its tokens may not be yours)",
        )
    elif mode & 0o044:
        problem, fix = f"readable by others (mode {mode:04o})", f"make it yours alone (chmod 600 {path}), or remove it"
    else:
        return
    raise UnsafeCredentials(f"{path} is {problem}: it holds login tokens, so relay does not use it", hint=fix)


def entry_name(profile: str, api_url: str) -> str:
    return f"{profile}@{api_url}"


def _keyring() -> ModuleType | None:
    """The keyring module when a usable backend is configured, else None."""
    try:
        import keyring
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration must not break the CLI
        return None
    if type(backend).__module__.startswith(_UNUSABLE_BACKENDS):
        return None
    try:
        priority = float(type(backend).priority)
    except Exception:
        priority = 1.0
    return None if priority <= 0 else keyring


def _parse(value: str | None) -> JSONObject | None:
    if not value:
        return None
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("access_token") else None
    return {"access_token": value}  # a bare token (written by hand)


class TokenStore:
    """Tokens per (profile, API host): the keyring, else a 0600 file in ``directory`` (the config directory)."""

    def __init__(self, directory: Path | None, note: Callable[[str], None] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.path = self.directory / FALLBACK_FILE if self.directory is not None else None
        #: where a note for the person goes (the command's ``Output.message``); None: nowhere
        self.note = note

    # --- the fallback file -----------------------------------------------------------------------

    def _read_file(self) -> JSONObject:
        if self.path is None:
            return {}
        try:
            path = self.path
            raw = config_store.read_regular(
                path, inputs.CREDENTIALS_LIMIT, "a credentials file", lambda status: _private(path, status)
            )
            data = inputs.loads_json(raw.decode("utf-8"), str(self.path))
        except inputs.InputError as err:
            raise UsageError(err.message, hint=f"remove {self.path} (or fix it) and log in again") from None
        except (OSError, ValueError, UnicodeDecodeError):  # a FIFO there is no login, nor is a file that is not JSON
            return {}
        return data if isinstance(data, dict) else {}

    def _edit_file(self, entry: str, tokens: JSONObject | None) -> bool:
        assert self.path is not None and self.directory is not None
        with config_store.locked(self.directory / f".{FALLBACK_FILE}.lock"):
            data = self._read_file()
            existed = entry in data
            if tokens is None:
                if not existed:
                    return False
                del data[entry]
            else:
                data[entry] = tokens
            if data:
                config_store.atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)
            else:
                self.path.unlink(missing_ok=True)
            return existed

    # --- public ----------------------------------------------------------------------------------

    def load(self, profile: str, api_url: str) -> JSONObject | None:
        entry = entry_name(profile, api_url)
        kr = _keyring()
        if kr is not None:
            try:
                found = _parse(kr.get_password(SERVICE, entry))
            except Exception:
                found = None
            if found:
                return found
        stored = self._read_file().get(entry)
        return stored if isinstance(stored, dict) and stored.get("access_token") else None

    def source(self, profile: str, api_url: str) -> str | None:
        """ "keyring", "credentials file PATH", or None when nothing is stored."""
        entry = entry_name(profile, api_url)
        kr = _keyring()
        if kr is not None:
            try:
                if _parse(kr.get_password(SERVICE, entry)):
                    return "keyring"
            except Exception:
                pass
        if isinstance(self._read_file().get(entry), dict):
            return f"credentials file {self.path}"
        return None

    def save(self, profile: str, api_url: str, tokens: JSONObject) -> str:
        """Store the tokens; returns where they went ("keyring" or the file's path)."""
        entry = entry_name(profile, api_url)
        doc: JSONObject = {k: v for k, v in tokens.items() if v}
        kr = _keyring()
        if kr is not None:
            try:
                kr.set_password(SERVICE, entry, json.dumps(doc))
            except Exception:
                pass
            else:
                if self.path is not None and entry in self._read_file():
                    self._edit_file(entry, None)  # an older fallback copy must not outlive the keyring's
                return "keyring"
        if self.path is None:
            raise AuthError("no usable keyring and no config directory: the tokens cannot be stored")
        created = not self.path.exists()
        self._edit_file(entry, doc)
        if created and self.note is not None:  # said once: when the fallback file is created
            self.note(
                f"note: no usable keyring on this system; tokens are stored in {self.path} (readable only by you, "
                "mode 0600)"
            )
        return str(self.path)

    def delete(self, profile: str, api_url: str) -> bool:
        """Forget the tokens (keyring and file); True when something was stored.

        Raises RelayError (exit 1) when a stored copy could not be deleted: the keyring refused (or still holds
        the entry afterwards), or the file could not be rewritten. The message names the keyring entry or the
        file and what to do; it never contains a token. A keyring that cannot even be read is not an error:
        what it may hold is not used either (``load`` reads the same way)."""
        entry = entry_name(profile, api_url)
        deleted = False
        failures: list[str] = []
        fixes: list[str] = []
        kr = _keyring()
        if kr is not None:
            try:
                held = kr.get_password(SERVICE, entry)
            except Exception:
                held = None
            if held is not None:
                try:
                    kr.delete_password(SERVICE, entry)
                except Exception as exc:
                    failures.append(
                        f"the keyring refused to delete entry '{entry}' of service '{SERVICE}' ({_reason(exc, held)})"
                    )
                else:
                    if _still_there(kr, entry):
                        failures.append(
                            f"the keyring still holds entry '{entry}' of service '{SERVICE}' after deleting it"
                        )
                    else:
                        deleted = True
                if failures:
                    fixes.append(
                        f"delete that entry with your system's keyring tool (or `keyring del {SERVICE} '{entry}'` "
                        "from the keyring package)"
                    )
        if self.path is not None and self.path.exists():
            try:
                deleted = self._edit_file(entry, None) or deleted
            except OSError as exc:
                failures.append(f"{self.path} could not be rewritten ({exc.strerror or type(exc).__name__})")
                fixes.append(f'remove the entry "{entry}" from {self.path} (or the whole file)')
        if failures:
            raise RelayError(
                "; ".join(failures),
                hint=f"the login is still stored and still used: {' and '.join(fixes)}, then run `relay logout` again",
            )
        return deleted


def _still_there(kr: ModuleType, entry: str) -> bool:
    """Whether the keyring still holds ``entry`` after a delete it accepted (some backends ignore deletes)."""
    try:
        return kr.get_password(SERVICE, entry) is not None
    except Exception:
        return False  # cannot be read back: not used either


def _reason(exc: BaseException, secret: str) -> str:
    """What a keyring backend said, without the stored value (or any token in it), should it repeat it."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    values = [secret]
    try:
        doc = json.loads(secret)
        if isinstance(doc, dict):
            values += [str(v) for k, v in doc.items() if str(k).endswith("token") and v]
    except ValueError:
        pass
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text
