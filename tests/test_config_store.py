"""The profile file (relay_cli.config.store) and setting resolution (relay_cli.config.resolve).

Edits must keep the user's comments and layout, replace the file atomically (0600, no temporary file left
behind, the old content intact when a write fails), and never lose a concurrent writer's change.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import respx

from relay_cli.config import store as store_module
from relay_cli.config.resolve import resolve, validate_profile_value
from relay_cli.config.store import (
    HEADER,
    ConfigFileError,
    ConfigWriteError,
    ProfileStore,
    atomic_write,
    validate_profile_name,
)
from relay_cli.core.environments import api_base_url
from relay_cli.errors import NotFoundError, UsageError

POSIX = os.name == "posix"


def names_in(directory: Path) -> set[str]:
    return set(os.listdir(directory))


def assert_no_temp_files(directory: Path) -> None:
    """Only the file and its lock; no `.config.toml.*.tmp` left behind."""
    assert names_in(directory) <= {"config.toml", ".config.toml.lock"}, names_in(directory)
    assert "config.toml" in names_in(directory)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


# --- ProfileStore: the API ---------------------------------------------------------------------


def test_empty_store(isolated_env: Path) -> None:
    st = ProfileStore(isolated_env)
    assert st.path == isolated_env / "config.toml"
    assert st.read() == {}
    assert st.profiles() == {"default": {}}
    assert st.current() is None
    assert not isolated_env.exists()  # reading creates nothing


def test_store_round_trip(isolated_env: Path) -> None:
    st = ProfileStore(isolated_env)
    st.add("qa", {"env": "qa", "subscriber_id": "S"})
    assert st.profiles() == {"qa": {"env": "qa", "subscriber_id": "S"}, "default": {}}
    st.use("qa")
    assert st.current() == "qa"
    st.set("qa", "host", "h.example.com")
    st.set("default", "subscriber_id", "D")
    assert st.unset("qa", "subscriber_id") is True
    assert st.unset("qa", "subscriber_id") is False
    assert st.unset("nope", "host") is False
    assert st.read() == {
        "current_profile": "qa",
        "profiles": {"qa": {"env": "qa", "host": "h.example.com"}, "default": {"subscriber_id": "D"}},
    }
    text = st.path.read_text()
    assert text.startswith(HEADER)
    assert tomllib.loads(text) == st.read()
    st.remove("qa")
    assert st.read() == {"profiles": {"default": {"subscriber_id": "D"}}}
    assert st.current() is None


def test_store_errors_leave_the_file_alone(isolated_env: Path) -> None:
    st = ProfileStore(isolated_env)
    st.add("qa", {"env": "qa"})
    before = st.path.read_bytes()
    with pytest.raises(UsageError) as exc:
        st.add("qa", {})
    assert exc.value.message == "profile add: a profile named 'qa' already exists"
    assert exc.value.exit_code == 2
    with pytest.raises(NotFoundError) as nf:
        st.remove("nope")
    assert (nf.value.message, nf.value.exit_code) == ("no profile named 'nope'", 3)
    with pytest.raises(NotFoundError):
        st.use("nope")
    with pytest.raises(NotFoundError):
        st.set("nope", "env", "qa")
    with pytest.raises(UsageError):
        st.add("a b", {})
    assert st.path.read_bytes() == before
    assert_no_temp_files(isolated_env)


def test_current_of_an_empty_string_is_none(isolated_env: Path) -> None:
    st = ProfileStore(isolated_env)
    write(st.path, 'current_profile = ""\n')
    assert st.current() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("current_profile = 3\n", "current_profile: expected a profile name (a string), got an integer"),
        ("[current_profile]\n", "current_profile: expected a profile name (a string), got a table"),
        ("current_profile = true\n", "current_profile: expected a profile name (a string), got a boolean"),
        ("profiles = 5\n", "profiles: expected [profiles.NAME] tables, got an integer"),
        ('profiles = ["qa"]\n', "profiles: expected [profiles.NAME] tables, got an array"),
        ('[profiles]\nqa = "x"\n', "profiles.qa: expected a table of settings ([profiles.qa]), got a string"),
        ("[profiles.qa]\nsubscriber_id = 5\n", "profiles.qa.subscriber_id: expected a string, got an integer"),
        ("[profiles.qa]\nenv = 2024-01-01\n", "profiles.qa.env: expected a string, got a date or time"),
        (
            '[profiles.qa]\nevn = "qa"\n',
            "profiles.qa.evn: unknown key (did you mean env?); a profile takes env, host, subscriber_id, "
            "auth_method, auth_client_id, auth_sdk_client_id, auth_issuer, auth_redirect_uri",
        ),
        (
            '[profiles.qa]\nsubscriberid = "S"\n',
            "profiles.qa.subscriberid: unknown key (did you mean subscriber_id?); a profile takes "
            "env, host, subscriber_id, auth_method, auth_client_id, auth_sdk_client_id, auth_issuer, auth_redirect_uri",
        ),
        (
            '[profiles.qa]\napi_key = "tok-secret-9"\n',
            "profiles.qa.api_key: unknown key; a profile takes env, host, subscriber_id, "
            "auth_method, auth_client_id, auth_sdk_client_id, auth_issuer, auth_redirect_uri",
        ),
        (
            'curent_profile = "qa"\n',
            "curent_profile: unknown key (did you mean current_profile?); the file holds current_profile and "
            "[profiles.NAME] tables",
        ),
        (
            "[profile.qa]\n",
            "profile: unknown key (did you mean profiles?); the file holds current_profile and [profiles.NAME] tables",
        ),
        (
            '[profiles."a b"]\n"x y" = "1"\n',
            'profiles."a b"."x y": unknown key; a profile takes env, host, subscriber_id, '
            "auth_method, auth_client_id, auth_sdk_client_id, auth_issuer, auth_redirect_uri",
        ),
    ],
)
def test_a_file_of_the_wrong_shape_is_an_error_naming_the_key(
    run: Any, isolated_env: Path, text: str, message: str
) -> None:
    """Wrong types and unknown keys were ignored (and the command went to production); now: exit 2, nothing
    sent, one line naming the file, the key and what is expected, never the value."""
    path = isolated_env / "config.toml"
    write(path, text)
    with pytest.raises(ConfigFileError) as exc:
        ProfileStore(isolated_env).read()
    assert exc.value.message == f"{path}: {message}"
    for args in (("profile", "list"), ("workflow", "list", "-s", "S"), ("profile", "set", "env", "qa")):
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
            result = run(*args)
            assert len(mock.calls) == 0
        assert result.code == 2, args
        assert result.out == ""
        assert (
            result.err
            == f"error: {path}: {message}\nhint: fix or remove the file (it is yours to edit: comments are kept)\n"
        )
        assert "tok-secret-9" not in result.err
    assert path.read_text() == text


def test_a_byte_order_mark_is_accepted(run: Any, isolated_env: Path) -> None:
    path = isolated_env / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'\xef\xbb\xbfcurrent_profile = "qa"\n[profiles.qa]\nenv = "qa"\n')
    assert ProfileStore(isolated_env).read() == {"current_profile": "qa", "profiles": {"qa": {"env": "qa"}}}
    assert run("profile", "show", "--json").json()["env"] == {"value": "qa", "source": "profile qa"}
    assert run("profile", "set", "subscriber_id", "S").code == 0
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "current_profile": "qa",
        "profiles": {"qa": {"env": "qa", "subscriber_id": "S"}},
    }


@pytest.mark.parametrize("name", ["default", "qa", "A.b-c_d", "0", "x" * 64])
def test_valid_profile_names(name: str) -> None:
    assert validate_profile_name(name) == name


@pytest.mark.parametrize("name", ["", "a b", ".x", "-x", "_x", "a/b", "a\\b", "x" * 65, "é", "a\n"])
def test_invalid_profile_names(name: str) -> None:
    with pytest.raises(UsageError) as exc:
        validate_profile_name(name)
    assert exc.value.message == (
        f"profile name: expected a profile name of letters, digits, '-', '_' or '.', got {name!r}"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("env", "pro"), ("env", "qa"), ("host", "h.example.com"), ("host", "http://localhost:8080"),
     ("subscriber_id", "abc"), ("auth_method", "Token"), ("auth_issuer", "https://i.example.com")],
)  # fmt: skip
def test_validate_profile_value_accepts(key: str, value: str) -> None:
    assert validate_profile_value(key, value) == value


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("env", "prod", "env: expected one of pro, qa, got 'prod'; did you mean 'pro'?"),
        ("host", "http://example.com",
         "host: plain http is only allowed to a loopback host; use https://, got 'http://example.com'"),
        ("host", "", "host: expected a host name or a base URL, got an empty string"),
        ("auth_method", "a b", "auth_method: expected one word such as Bearer, got a value with a space (not shown)"),
        ("auth_method", "", "auth_method: expected one word such as Bearer, got ''"),
        ("subscriber_id", "  ", "subscriber_id: expected a value, got an empty string"),
        ("token", "x", "KEY: expected one of env, host, subscriber_id, auth_method, auth_client_id, "
                       "auth_sdk_client_id, auth_issuer, auth_redirect_uri, got 'token'"),
    ],
)  # fmt: skip
def test_validate_profile_value_refuses(key: str, value: str, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        validate_profile_value(key, value)
    assert exc.value.message == message


# --- comments, order and unknown content survive edits ------------------------------------------

HAND_WRITTEN = """\
# my relay config
# second line of comments

current_profile = "default"  # which profile

# the default profile
[profiles.default]
env = "pro"   # production
host = "api.example.com"

[profiles.team]
subscriber_id = "T-1"  # team account

[profiles.ci]
# the CI profile: edits of the others leave it alone
auth_method = "Token"  # keep me
auth_issuer = "https://auth.example.com/realms/ci"
"""
CI_TABLE = HAND_WRITTEN[HAND_WRITTEN.index("[profiles.ci]\n") :]
CI_VALUES = {"auth_method": "Token", "auth_issuer": "https://auth.example.com/realms/ci"}


def test_edits_keep_comments_order_and_other_profiles(run: Any, isolated_env: Path) -> None:
    path = isolated_env / "config.toml"
    write(path, HAND_WRITTEN)

    result = run("profile", "set", "subscriber_id", "X")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile default\n")
    expected = HAND_WRITTEN.replace('host = "api.example.com"\n', 'host = "api.example.com"\nsubscriber_id = "X"\n')
    assert path.read_text() == expected

    result = run("-P", "team", "profile", "set", "env", "qa")
    assert result.code == 0, result.err
    expected = expected.replace('"T-1"  # team account\n', '"T-1"  # team account\nenv = "qa"\n')
    assert path.read_text() == expected

    result = run("profile", "set", "env", "qa")  # replacing a value keeps its trailing comment
    assert result.code == 0, result.err
    expected = expected.replace('env = "pro"   # production', 'env = "qa"   # production')
    assert path.read_text() == expected

    assert run("profile", "unset", "host").code == 0
    expected = expected.replace('host = "api.example.com"\n', "")
    assert path.read_text() == expected

    assert run("profile", "use", "team").code == 0
    expected = expected.replace(
        'current_profile = "default"  # which profile', 'current_profile = "team"  # which profile'
    )
    assert path.read_text() == expected

    assert tomllib.loads(path.read_text()) == {
        "current_profile": "team",
        "profiles": {
            "default": {"env": "qa", "subscriber_id": "X"},
            "team": {"subscriber_id": "T-1", "env": "qa"},
            "ci": CI_VALUES,
        },
    }
    assert path.read_text().endswith(CI_TABLE)
    assert_no_temp_files(isolated_env)


def test_add_and_remove_keep_the_rest_byte_for_byte(run: Any, isolated_env: Path) -> None:
    path = isolated_env / "config.toml"
    write(path, HAND_WRITTEN)
    head = HAND_WRITTEN.split("[profiles.team]\n")[0]

    assert run("profile", "add", "new", "--env", "qa").code == 0
    text = path.read_text()
    assert text.startswith(HAND_WRITTEN)  # everything that was there, untouched
    assert tomllib.loads(text)["profiles"]["new"] == {"env": "qa"}

    assert run("profile", "remove", "team").code == 0
    text = path.read_text()
    assert text.startswith(head)
    assert CI_TABLE in text
    assert "team" not in text
    assert tomllib.loads(text) == {
        "current_profile": "default",
        "profiles": {"default": {"env": "pro", "host": "api.example.com"}, "ci": CI_VALUES, "new": {"env": "qa"}},
    }


@pytest.mark.xfail(strict=True, reason="tomlkit appends a new key after the trailing comment of its table")
def test_a_new_key_goes_before_the_comment_that_introduces_the_next_table(run: Any, isolated_env: Path) -> None:
    """A comment line right above ``[profiles.team]`` belongs to that table; a key added to the table before
    it must not be written between the comment and the header it describes."""
    path = isolated_env / "config.toml"
    original = '[profiles.default]\nenv = "pro"\n\n# the team\'s account\n[profiles.team]\nsubscriber_id = "T-1"\n'
    write(path, original)
    assert run("profile", "set", "subscriber_id", "X").code == 0
    assert path.read_text() == original.replace('env = "pro"\n', 'env = "pro"\nsubscriber_id = "X"\n')


@pytest.mark.parametrize(
    "text",
    [
        'profiles.default.env = "qa"\n',  # dotted keys
        '[profiles]\ndefault = { env = "qa" }\n',  # an inline table inside [profiles]
    ],
)
def test_other_valid_shapes_can_be_edited(run: Any, isolated_env: Path, text: str) -> None:
    path = isolated_env / "config.toml"
    write(path, text)
    result = run("profile", "set", "subscriber_id", "X")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile default\n")
    assert tomllib.loads(path.read_text()) == {"profiles": {"default": {"env": "qa", "subscriber_id": "X"}}}


def test_profile_add_to_an_inline_profiles_table_does_not_crash(run: Any, isolated_env: Path) -> None:
    """``profiles = { ... }`` is valid TOML a person may write; `profile add` must not die with a traceback."""
    path = isolated_env / "config.toml"
    write(path, 'profiles = { default = { env = "qa" } }\n')
    result = run("profile", "add", "qa", "--env", "qa")
    # refused in one line naming the file, and the file left as the person wrote it
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: {path}: 'profiles' must be a table of [profiles.NAME] sections\nhint: fix or remove the file\n"
    )
    assert path.read_text() == 'profiles = { default = { env = "qa" } }\n'


@pytest.mark.parametrize("args", [("profile", "set", "subscriber_id", "X"), ("profile", "add", "qa")], ids=" ".join)
def test_profiles_that_is_not_a_table_is_a_config_error(run: Any, isolated_env: Path, args: tuple[str, ...]) -> None:
    path = isolated_env / "config.toml"
    write(path, "profiles = 1\n")
    try:
        result = run(*args)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{type(exc).__name__} escaped the CLI: {exc}")
    assert result.code == 2
    assert str(path) in result.err
    assert path.read_text() == "profiles = 1\n"


# --- unreadable files ----------------------------------------------------------------------------

ALL_EDITS = [
    ("profile", "list"),
    ("profile", "show"),
    ("profile", "set", "subscriber_id", "X"),
    ("profile", "unset", "host"),
    ("profile", "add", "qa"),
    ("profile", "use", "default"),
    ("profile", "remove", "qa"),
]


@pytest.mark.parametrize("args", ALL_EDITS, ids=" ".join)
def test_a_file_that_is_not_utf8_is_a_config_error(run: Any, isolated_env: Path, args: tuple[str, ...]) -> None:
    path = isolated_env / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe[profiles.qa]\n")
    try:
        result = run(*args)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{type(exc).__name__} escaped the CLI: {exc}")
    assert result.code == 2
    assert result.err.startswith(f"error: {path} is not valid TOML: ")
    assert path.read_bytes() == b"\xff\xfe[profiles.qa]\n"


@pytest.mark.parametrize("args", ALL_EDITS, ids=" ".join)
def test_a_config_path_that_is_a_directory_is_a_config_error(
    run: Any, isolated_env: Path, args: tuple[str, ...]
) -> None:
    path = isolated_env / "config.toml"
    path.mkdir(parents=True)
    try:
        result = run(*args)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{type(exc).__name__} escaped the CLI: {exc}")
    assert result.code == 2
    assert result.err.startswith(f"error: cannot read {path}: ")


def test_invalid_toml_from_the_api(isolated_env: Path) -> None:
    st = ProfileStore(isolated_env)
    write(st.path, "a = \n")
    with pytest.raises(ConfigFileError) as exc:
        st.read()
    assert exc.value.message.startswith(f"{st.path} is not valid TOML: ")
    assert exc.value.exit_code == 2
    assert exc.value.hint == "fix or remove the file"
    with pytest.raises(ConfigFileError) as exc2:
        st.set("default", "env", "qa")
    assert exc2.value.message.startswith(f"{st.path} is not valid TOML: ")
    assert st.path.read_text() == "a = \n"
    assert_no_temp_files(isolated_env)


# --- atomic writes -------------------------------------------------------------------------------


def test_edits_leave_no_temp_files_and_mode_0600(run: Any, isolated_env: Path) -> None:
    for args in (
        ("profile", "add", "qa", "--env", "qa"),
        ("profile", "use", "qa"),
        ("profile", "set", "subscriber_id", "X"),
        ("profile", "unset", "subscriber_id"),
        ("profile", "remove", "qa"),
    ):
        result = run(*args)
        assert result.code == 0, (args, result.err)
        assert_no_temp_files(isolated_env)
        if POSIX:
            assert stat.S_IMODE(os.stat(isolated_env / "config.toml").st_mode) == 0o600, args


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_a_hand_made_world_readable_file_becomes_0600(isolated_env: Path) -> None:
    st = ProfileStore(isolated_env)
    write(st.path, '[profiles.default]\nenv = "pro"\n')
    os.chmod(st.path, 0o644)
    st.set("default", "subscriber_id", "X")
    assert stat.S_IMODE(os.stat(st.path).st_mode) == 0o600
    assert st.path.read_text() == '[profiles.default]\nenv = "pro"\nsubscriber_id = "X"\n'


def test_atomic_write(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.toml"
    atomic_write(target, "a = 1\n")
    assert target.read_bytes() == b"a = 1\n"
    atomic_write(target, "a = 2\r\nb = 'é'\n")  # written as given, no newline translation
    assert target.read_bytes() == "a = 2\r\nb = 'é'\n".encode()
    assert names_in(target.parent) == {"f.toml"}
    if POSIX:
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


@pytest.mark.parametrize("fail_in", ["replace", "fsync"])
def test_a_failed_write_keeps_the_old_file(isolated_env: Path, monkeypatch: pytest.MonkeyPatch, fail_in: str) -> None:
    st = ProfileStore(isolated_env)
    st.add("qa", {"env": "qa"})
    before = st.path.read_bytes()
    calls: list[Any] = []

    def boom(*args: Any) -> None:
        calls.append(args)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fail_in, boom)
    with pytest.raises(ConfigWriteError, match="No space left on device; the file is unchanged"):
        st.set("qa", "subscriber_id", "X")
    monkeypatch.undo()
    assert len(calls) == 1
    assert st.path.read_bytes() == before
    assert_no_temp_files(isolated_env)
    assert st.profiles() == {"qa": {"env": "qa"}, "default": {}}
    # the lock was released: the next edit goes through
    st.set("qa", "subscriber_id", "Y")
    assert st.profiles()["qa"] == {"env": "qa", "subscriber_id": "Y"}


def test_a_failed_write_is_a_clean_cli_error(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk error while saving is a clean error (exit 1: not the user's input), the file named, no traceback."""
    st = ProfileStore(isolated_env)
    st.add("qa", {"env": "qa"})
    before = st.path.read_bytes()

    def boom(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    try:
        result = run("profile", "set", "subscriber_id", "X")
    except OSError as exc:
        pytest.fail(f"OSError escaped the CLI: {exc}")
    finally:
        monkeypatch.undo()
    assert st.path.read_bytes() == before
    assert_no_temp_files(isolated_env)
    assert result.code == 1
    assert result.err == f"error: cannot save {st.path}: No space left on device; the file is unchanged\n"


# --- concurrency -----------------------------------------------------------------------------------

WORKER = r"""
import sys, time
from pathlib import Path
from relay_cli.config.store import ProfileStore

directory, signals, i = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
store = ProfileStore(directory)
(signals / f"ready{i}").touch()
deadline = time.monotonic() + 20
while not (signals / "go").exists():
    if time.monotonic() > deadline:
        sys.exit(9)
    time.sleep(0.001)
store.add(f"p{i}", {"env": "pro"})
store.set("default", f"k{i}", f"v{i}")
store.set(f"p{i}", "subscriber_id", f"S{i}")
"""


def test_concurrent_writers_lose_nothing(isolated_env: Path, tmp_path: Path) -> None:
    n = 10
    signals = tmp_path / "signals"
    signals.mkdir()
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(isolated_env), str(signals), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(n)
    ]
    try:
        deadline = time.monotonic() + 20
        while len(list(signals.glob("ready*"))) < n:
            assert time.monotonic() < deadline, "workers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.005)
        (signals / "go").touch()  # all at once
        for p in procs:
            _, err = p.communicate(timeout=20)
            assert p.returncode == 0, err.decode()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert time.monotonic() - started < 15

    data = tomllib.loads((isolated_env / "config.toml").read_text())
    assert set(data) == {"profiles"}
    assert data["profiles"]["default"] == {f"k{i}": f"v{i}" for i in range(n)}
    for i in range(n):
        assert data["profiles"][f"p{i}"] == {"env": "pro", "subscriber_id": f"S{i}"}
    assert set(data["profiles"]) == {"default"} | {f"p{i}" for i in range(n)}
    assert_no_temp_files(isolated_env)


def test_edit_holds_the_lock_for_the_whole_read_modify_write(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is taken before the file is read and released only after it is replaced."""
    events: list[str] = []
    real_locked = store_module.locked
    real_write = store_module.atomic_write

    from contextlib import contextmanager

    @contextmanager
    def spy_locked(path: Path) -> Any:
        with real_locked(path):
            events.append("lock")
            yield
            events.append("unlock")

    def spy_write(path: Path, text: str, mode: int = 0o600) -> None:
        events.append("write")
        real_write(path, text, mode)

    monkeypatch.setattr(store_module, "locked", spy_locked)
    monkeypatch.setattr(store_module, "atomic_write", spy_write)
    ProfileStore(isolated_env).set("default", "env", "qa")
    assert events == ["lock", "write", "unlock"]
    assert (isolated_env / ".config.toml.lock").exists()


# --- resolve(): precedence -----------------------------------------------------------------------


def settle(environ: dict[str, str] | None = None, profiles: dict[str, Any] | None = None,
           current: str | None = None, **flags: Any) -> Any:  # fmt: skip
    return resolve(
        environ=environ or {},
        profiles=profiles if profiles is not None else {"default": {}},
        current_profile=current,
        flags=flags,
    )


def test_resolve_defaults() -> None:
    s = settle()
    assert (s.profile.value, s.profile.source, s.profile_exists) == ("default", "default", True)
    assert {k: (v.value, v.source) for k, v in s.values.items()} == {
        "env": ("pro", "default"),
        "host": (None, "default"),
        "subscriber_id": (None, "default"),
        "auth_method": ("Bearer", "default"),
        "auth_client_id": ("83756T4P", "default"),
        "auth_sdk_client_id": ("RJZKRhh9", "default"),
        "auth_issuer": ("https://auth.relaypro.com/realms/Relay", "default"),
        "auth_redirect_uri": ("http://auth-localredirect.relaypro.com:8079/authorization-code/callback", "default"),
    }
    assert (s.api_url.value, s.api_url.source) == ("https://all-main-pro-ibot.relaysvr.com", "default")
    assert s.api_key_source is None
    assert s.headers == {}


def test_resolve_subscriber_flag_env_profile_default() -> None:
    profiles = {"default": {"subscriber_id": "P"}}
    assert settle(profiles={"default": {}}).values["subscriber_id"] == settle().values["subscriber_id"]
    s = settle(profiles=profiles)
    assert (s.values["subscriber_id"].value, s.values["subscriber_id"].source) == ("P", "profile default")
    s = settle({"RELAY_SUBSCRIBER_ID": "E"}, profiles)
    assert (s.values["subscriber_id"].value, s.values["subscriber_id"].source) == ("E", "env RELAY_SUBSCRIBER_ID")
    s = settle({"RELAY_SUBSCRIBER_ID": "E"}, profiles, subscriber_id="F")
    assert (s.values["subscriber_id"].value, s.values["subscriber_id"].source) == ("F", "flag --subscriber-id")
    s = settle({"RELAY_SUBSCRIBER_ID": ""}, profiles, subscriber_id=None)
    assert (s.values["subscriber_id"].value, s.values["subscriber_id"].source) == ("P", "profile default")


def test_resolve_profile_selection() -> None:
    profiles = {"default": {}, "a": {"env": "qa"}, "b": {"subscriber_id": "B"}, "c": {"host": "c.example.com"}}
    s = settle({}, profiles, current="a")
    assert (s.profile.value, s.profile.source) == ("a", "config current_profile")
    assert (s.api_url.value, s.api_url.source) == ("https://all-main-qa-ibot.relaysvr.com", "profile a")
    s = settle({"RELAY_PROFILE": "b"}, profiles, current="a")
    assert (s.profile.value, s.profile.source) == ("b", "env RELAY_PROFILE")
    assert (s.values["subscriber_id"].value, s.values["subscriber_id"].source) == ("B", "profile b")
    s = settle({"RELAY_PROFILE": "b"}, profiles, current="a", profile="c")
    assert (s.profile.value, s.profile.source, s.profile_exists) == ("c", "flag --profile", True)
    assert (s.api_url.value, s.api_url.source) == ("https://c.example.com", "profile c")
    s = settle({"RELAY_PROFILE": "nope"}, profiles)
    assert (s.profile.value, s.profile_exists) == ("nope", False)


def test_resolve_host_beats_profile_host_beats_env() -> None:
    profiles = {"default": {"env": "qa", "host": "p.example.com"}}
    s = settle({}, {"default": {"env": "qa"}})
    assert (s.api_url.value, s.api_url.source) == ("https://all-main-qa-ibot.relaysvr.com", "profile default")
    s = settle({}, profiles)
    assert (s.api_url.value, s.api_url.source) == ("https://p.example.com", "profile default")
    s = settle({"RELAY_HOST": "e.example.com", "RELAY_ENV": "pro"}, profiles)
    assert (s.api_url.value, s.api_url.source) == ("https://e.example.com", "env RELAY_HOST")
    assert s.values["env"].value == "pro"
    # the environment still chooses the login settings when a host is set
    assert s.values["auth_client_id"].value == "83756T4P"


def test_resolve_api_key_source_is_never_the_value() -> None:
    s = settle({"RELAY_API_KEY": "secret-xyz"})
    assert s.api_key_source == "env RELAY_API_KEY"
    assert "secret-xyz" not in repr(s)


# --- resolve(): host forms -----------------------------------------------------------------------

GOOD_HOSTS = [
    ("relay.example.com", "https://relay.example.com"),
    ("  relay.example.com  ", "https://relay.example.com"),
    ("h:8443", "https://h:8443"),
    ("https://h:8443/", "https://h:8443"),
    ("https://h:8443", "https://h:8443"),
    ("https://h.example.com/api/", "https://h.example.com/api"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("http://127.1.2.3", "http://127.1.2.3"),
    ("http://localhost", "http://localhost"),
    ("http://localhost:3000/", "http://localhost:3000"),
    ("http://LOCALHOST:3000", "http://LOCALHOST:3000"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("http://[::1]", "http://[::1]"),
]


@pytest.mark.parametrize(("host", "url"), GOOD_HOSTS)
def test_host_forms(host: str, url: str) -> None:
    assert api_base_url(host) == url
    s = settle({"RELAY_HOST": host})
    assert (s.api_url.value, s.api_url.source) == (url, "env RELAY_HOST")
    s = settle({}, {"default": {"host": host}})
    assert (s.api_url.value, s.api_url.source) == (url, "profile default")


BAD_HOSTS = [
    ("http://example.com", "plain http is only allowed to a loopback host; use https://, got 'http://example.com'"),
    ("http://example.com:8080/", "plain http is only allowed to a loopback host; use https://, got 'http://example.com:8080/'"),
    ("http://localhost.example.com", "plain http is only allowed to a loopback host; use https://, got 'http://localhost.example.com'"),
    ("http://127.0.0.1.nip.io", "plain http is only allowed to a loopback host; use https://, got 'http://127.0.0.1.nip.io'"),
    ("http://0.0.0.0:8080", "plain http is only allowed to a loopback host; use https://, got 'http://0.0.0.0:8080'"),
    ("http://10.0.0.1", "plain http is only allowed to a loopback host; use https://, got 'http://10.0.0.1'"),
    ("ftp://x", "expected a host name or a base URL such as https://api.example.com, got 'ftp://x'"),
    ("file:///etc/passwd", "expected a host name or a base URL such as https://api.example.com, got 'file:///etc/passwd'"),
    ("wss://h", "expected a host name or a base URL such as https://api.example.com, got 'wss://h'"),
    ("https://h/?q=1", "expected a host name or a base URL such as https://api.example.com, got 'https://h/?q=1'"),
    ("https://h/#frag", "expected a host name or a base URL such as https://api.example.com, got 'https://h/#frag'"),
    ("https://:8443", "expected a host name or a base URL such as https://api.example.com, got 'https://:8443'"),
    ("https://h:99999", "expected a host name or a base URL such as https://api.example.com, got 'https://h:99999'"),
    ("https://h:port", "expected a host name or a base URL such as https://api.example.com, got 'https://h:port'"),
    ("   ", "expected a host name or a base URL, got an empty string"),
]  # fmt: skip


@pytest.mark.parametrize(("host", "message"), BAD_HOSTS)
def test_bad_host_forms(host: str, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        api_base_url(host)
    assert exc.value.message == f"host: {message}"
    with pytest.raises(UsageError) as exc:
        settle({"RELAY_HOST": host})
    assert exc.value.message == f"RELAY_HOST: {message}"
    assert exc.value.exit_code == 2


def test_empty_relay_host_falls_back() -> None:
    s = settle({"RELAY_HOST": ""}, {"default": {"host": "p.example.com"}})
    assert (s.api_url.value, s.api_url.source) == ("https://p.example.com", "profile default")
