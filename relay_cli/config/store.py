"""The profile file: TOML, read fast with ``tomllib``, edited with ``tomlkit`` so comments and order survive.

Every edit is a read-modify-write under an exclusive lock on a sidecar ``.lock`` file, and the new
content replaces the old atomically (temporary file in the same directory, fsync, ``os.replace``), so a
crash leaves either the old file or the new one and two processes never lose each other's changes.

File shape::

    current_profile = "default"

    [profiles.default]
    env = "pro"
    subscriber_id = "..."
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import inputs
from ..core import tomltext
from ..core.kinds import toml_kind
from ..errors import ExitStatus, NotFoundError, RelayError, UsageError
from .keys import PROFILE_KEYS

FILE_NAME = "config.toml"
DEFAULT_PROFILE = "default"
#: built in, never in the file: the local sandbox (relay_cli/local), used in-process
LOCAL_PROFILE = "local"
#: the keys the file may hold at the top level
TOP_KEYS = ("current_profile", "profiles")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

HEADER = """\
# relay CLI profiles. Edit with `relay profile set KEY VALUE`, or by hand: comments are kept.
# Keys: env (pro|qa), host, subscriber_id, auth_method, auth_client_id, auth_sdk_client_id,
# auth_issuer, auth_redirect_uri. Tokens are never stored here.
"""


class ConfigFileError(RelayError):
    """The config file cannot be read or does not have the expected shape (bad input: exit 2)."""

    exit_code = ExitStatus.USAGE


class ConfigWriteError(RelayError):
    """The config file could not be saved (the old content is intact)."""

    exit_code = ExitStatus.API


def validate_profile_name(name: str) -> str:
    if not _PROFILE_NAME.fullmatch(name or ""):
        raise UsageError(
            f"expected a profile name of letters, digits, '-', '_' or '.', got {name!r}", option="profile name"
        )
    if name == LOCAL_PROFILE:
        raise UsageError(
            "'local' is the built-in sandbox profile and cannot be created, changed or removed", option="profile name"
        )
    return name


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``lock_path`` (created if need be) for the time of the with-block, between
    processes: the profiles file and the credentials file are rewritten under theirs."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new content, never a mix.

    A symbolic link (a config file kept with one's dotfiles) is followed: the file it names is replaced and the
    link stays. Anything that is not a regular file (a device such as /dev/null, a FIFO) is refused rather than
    replaced. The directory is synced after the rename, so that the new name survives a power cut."""
    path = Path(os.path.realpath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """fsync a directory (POSIX), so that a rename in it is on disk; best effort: some file systems refuse."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unknown(key: str, known: Any, what: str) -> str:
    from ..core.suggest import closest

    close = closest(key, known)
    guess = f" (did you mean {close}?)" if close else ""
    return f"unknown key{guess}; {what}"


def check_shape(doc: dict[str, Any], path: Path) -> None:
    """The file's structure, checked on every read: the top-level keys, their types, each profile a table of
    known keys with string values. A ``ConfigFileError`` (exit 2) names the file, the key and what is expected,
    with a "did you mean" for a near miss; it never quotes a value (someone may have pasted a token).

    Values themselves (an ``env`` of ``prod``) are checked where they are used, so that `relay profile set`
    can still repair them."""

    def fail(key: str, problem: str) -> ConfigFileError:
        return ConfigFileError(
            f"{path}: {key}: {problem}", hint="fix or remove the file (it is yours to edit: comments are kept)"
        )

    for key, value in doc.items():
        if key == "current_profile":
            if not isinstance(value, str):
                raise fail(key, f"expected a profile name (a string), got {toml_kind(value)}")
        elif key == "profiles":
            if not isinstance(value, dict):
                raise fail(key, f"expected [profiles.NAME] tables, got {toml_kind(value)}")
        else:
            raise fail(
                tomltext.key(key), _unknown(key, TOP_KEYS, "the file holds current_profile and [profiles.NAME] tables")
            )
    for name, profile in doc.get("profiles", {}).items():
        where = f"profiles.{tomltext.key(name)}"
        if not isinstance(profile, dict):
            raise fail(where, f"expected a table of settings ([{where}]), got {toml_kind(profile)}")
        for key, value in profile.items():
            if key not in PROFILE_KEYS:
                raise fail(
                    f"{where}.{tomltext.key(key)}",
                    _unknown(key, PROFILE_KEYS, f"a profile takes {', '.join(PROFILE_KEYS)}"),
                )
            if not isinstance(value, str):
                raise fail(f"{where}.{key}", f"expected a string, got {toml_kind(value)}")


def read_regular(path: Path, limit: int, what: str, check: Callable[[os.stat_result], None] | None = None) -> bytes:
    """The bytes of the regular file at ``path`` (a link is followed), at most ``limit`` (``inputs.InputError``
    beyond). Anything else is an OSError "not a regular file" before any read: a FIFO would hold the read until
    something writes into it, a device would feed it anything. FileNotFoundError when there is nothing there.
    ``check``: as ``inputs.read_bytes``'s."""
    return inputs.read_bytes(path, limit, what, regular_only=True, check=check)


class ProfileStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self.lock_path = self.directory / f".{FILE_NAME}.lock"

    # reading: fast path, stdlib only
    def read(self) -> dict[str, Any]:
        try:
            data = read_regular(self.path, inputs.CONFIG_LIMIT, "a profiles file")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except inputs.InputError as err:
            raise ConfigFileError(err.message, hint="fix or remove the file") from None
        import tomllib  # only for a file that exists: a command without a config file imports no TOML reader

        try:
            text = data.decode("utf-8-sig")  # a byte order mark (Windows editors write one) is accepted
        except UnicodeDecodeError:
            raise ConfigFileError(
                f"{self.path} is not valid TOML: not UTF-8 text", hint="fix or remove the file"
            ) from None
        try:
            doc = inputs.loads_toml(text, str(self.path))
        except inputs.InputError as err:
            raise ConfigFileError(err.message, hint="fix or remove the file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigFileError(f"{self.path} is not valid TOML: {exc}", hint="fix or remove the file") from None
        check_shape(doc, self.path)
        return doc

    def profiles(self) -> dict[str, dict[str, Any]]:
        data = self.read()
        profiles = data.get("profiles")
        result: dict[str, dict[str, Any]] = {}
        if isinstance(profiles, dict):
            for name, values in profiles.items():
                if isinstance(values, dict):
                    result[name] = dict(values)
        result.setdefault(DEFAULT_PROFILE, {})
        return result

    def configured(self) -> bool:
        """Whether the file names a current profile or defines any profile."""
        data = self.read()
        return bool(data.get("current_profile")) or bool(data.get("profiles"))

    def current(self) -> str | None:
        value = self.read().get("current_profile")
        return value if isinstance(value, str) and value else None

    # writing: tomlkit, locked, atomic
    @contextlib.contextmanager
    def edit(self) -> Iterator[Any]:
        import tomlkit

        stack = contextlib.ExitStack()
        try:
            stack.enter_context(locked(self.lock_path))
        except (FileExistsError, NotADirectoryError):  # mkdir of the directory: a file is in the way
            raise ConfigFileError(
                f"cannot save {self.path}: {self.directory} is not a directory",
                hint="RELAY_CONFIG_DIR must name a directory (or nothing yet)",
            ) from None
        except OSError as exc:
            raise ConfigWriteError(f"cannot lock {self.lock_path}: {exc.strerror or exc}") from None
        with stack:
            try:
                text = read_regular(self.path, inputs.CONFIG_LIMIT, "a profiles file").decode("utf-8-sig")
                inputs.check_toml_depth(text, str(self.path))  # before tomlkit, which recurses as tomllib does
            except FileNotFoundError:
                text = HEADER
            except UnicodeDecodeError:
                raise ConfigFileError(
                    f"{self.path} is not valid TOML: not UTF-8 text", hint="fix or remove the file"
                ) from None
            except OSError as exc:
                raise ConfigFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None
            except inputs.InputError as err:
                raise ConfigFileError(err.message, hint="fix or remove the file") from None
            try:
                doc = tomlkit.parse(text)
            except Exception as exc:  # noqa: BLE001 - tomlkit raises its own ParseError hierarchy, and others on odd input
                raise ConfigFileError(f"{self.path} is not valid TOML: {exc}", hint="fix or remove the file") from None
            profiles = doc.get("profiles")
            if profiles is not None and (
                not isinstance(profiles, dict) or isinstance(profiles, tomlkit.items.InlineTable)
            ):
                raise ConfigFileError(
                    f"{self.path}: 'profiles' must be a table of [profiles.NAME] sections",
                    hint="fix or remove the file",
                )
            yield doc
            try:
                atomic_write(self.path, tomlkit.dumps(doc))
            except OSError as exc:
                raise ConfigWriteError(
                    f"cannot save {self.path}: {exc.strerror or exc}; the file is unchanged"
                ) from None

    @staticmethod
    def _table(doc: Any, name: str, create: bool) -> Any:
        import tomlkit

        profiles = doc.get("profiles")
        if profiles is None:
            if not create:
                return None
            profiles = tomlkit.table(is_super_table=True)
            doc["profiles"] = profiles
        table = profiles.get(name)
        if table is None and create:
            table = tomlkit.table()
            profiles[name] = table
        return table

    def add(self, name: str, values: dict[str, str]) -> None:
        validate_profile_name(name)
        with self.edit() as doc:
            if self._table(doc, name, create=False) is not None:
                raise UsageError(f"a profile named {name!r} already exists", option="profile add")
            table = self._table(doc, name, create=True)
            for key, value in values.items():
                table[key] = value

    def remove(self, name: str) -> None:
        validate_profile_name(name)
        with self.edit() as doc:
            profiles = doc.get("profiles")
            if profiles is None or name not in profiles:
                raise NotFoundError(f"no profile named {name!r}", hint="`relay profile list` shows the profiles")
            del profiles[name]
            if doc.get("current_profile") == name:
                del doc["current_profile"]

    def use(self, name: str) -> None:
        with self.edit() as doc:
            if name not in (DEFAULT_PROFILE, LOCAL_PROFILE) and self._table(doc, name, create=False) is None:
                raise NotFoundError(f"no profile named {name!r}", hint=f"create it with `relay profile add {name}`")
            doc["current_profile"] = name

    def set(self, name: str, key: str, value: str) -> None:
        validate_profile_name(name)
        with self.edit() as doc:
            if name != DEFAULT_PROFILE and self._table(doc, name, create=False) is None:
                raise NotFoundError(f"no profile named {name!r}", hint=f"create it with `relay profile add {name}`")
            self._table(doc, name, create=True)[key] = value

    def unset(self, name: str, key: str) -> bool:
        with self.edit() as doc:
            table = self._table(doc, name, create=False)
            if table is None or key not in table:
                return False
            del table[key]
            return True
