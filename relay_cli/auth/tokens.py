"""Where stored tokens live: the operating system's keyring (service ``relay-cli``, one entry per profile and
API host, ``profile@api_url``), holding a JSON document ``{"access_token", "refresh_token", "id_token",
"issuer", "client_id"}``.

When no usable keyring backend exists (headless CI, containers: keyring's null or fail backend, or a backend
that errors), tokens go to ``credentials.json`` next to the config file instead, mode 0600, written
atomically under a lock; a note on stderr says so when the file is created. Tokens never go into the profile TOML.
``RELAY_API_KEY`` always wins over anything stored here (State decides that).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SERVICE = "relay-cli"
FALLBACK_FILE = "credentials.json"
_UNUSABLE_BACKENDS = ("keyring.backends.null", "keyring.backends.fail")


def entry_name(profile: str, api_url: str) -> str:
    return f"{profile}@{api_url}"


def _keyring() -> Any:
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


def _parse(value: str | None) -> dict[str, Any] | None:
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

    def __init__(self, directory: Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.path = self.directory / FALLBACK_FILE if self.directory is not None else None

    # --- the fallback file -----------------------------------------------------------------------

    def _read_file(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _edit_file(self, entry: str, tokens: dict[str, Any] | None) -> bool:
        from ..config.store import _locked, atomic_write

        assert self.path is not None and self.directory is not None
        with _locked(self.directory / f".{FALLBACK_FILE}.lock"):
            data = self._read_file()
            existed = entry in data
            if tokens is None:
                if not existed:
                    return False
                del data[entry]
            else:
                data[entry] = tokens
            if data:
                atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)
            else:
                self.path.unlink(missing_ok=True)
            return existed

    # --- public ----------------------------------------------------------------------------------

    def load(self, profile: str, api_url: str) -> dict[str, Any] | None:
        entry = entry_name(profile, api_url)
        kr = _keyring()
        if kr is not None:
            try:
                found = _parse(kr.get_password(SERVICE, entry))
            except Exception:
                found = None
            if found:
                return found
        found = self._read_file().get(entry)
        return found if isinstance(found, dict) and found.get("access_token") else None

    def source(self, profile: str, api_url: str) -> str | None:
        """"keyring", "credentials file PATH", or None when nothing is stored."""
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

    def save(self, profile: str, api_url: str, tokens: dict[str, Any]) -> str:
        """Store the tokens; returns where they went ("keyring" or the file's path)."""
        entry = entry_name(profile, api_url)
        doc = {k: v for k, v in tokens.items() if v}
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
            from ..errors import AuthError

            raise AuthError("no usable keyring and no config directory: the tokens cannot be stored")
        created = not self.path.exists()
        self._edit_file(entry, doc)
        if created:
            _note_fallback(self.path)
        return str(self.path)

    def delete(self, profile: str, api_url: str) -> bool:
        """Forget the tokens (keyring and file); True when something was stored."""
        entry = entry_name(profile, api_url)
        deleted = False
        kr = _keyring()
        if kr is not None:
            try:
                if kr.get_password(SERVICE, entry) is not None:
                    kr.delete_password(SERVICE, entry)
                    deleted = True
            except Exception:
                pass
        if self.path is not None and self.path.exists():
            deleted = self._edit_file(entry, None) or deleted
        return deleted


def _note_fallback(path: Path) -> None:
    """Said once: when the fallback file is created."""
    print(
        f"note: no usable keyring on this system; tokens are stored in {path} (readable only by you, mode 0600)",
        file=sys.stderr,
        flush=True,
    )


def load_access_token(profile: str, api_url: str, directory: Path | None = None) -> str | None:
    """The stored access token for this profile and API host, or None."""
    found = TokenStore(directory).load(profile, api_url)
    return str(found["access_token"]) if found else None
