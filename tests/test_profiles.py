"""``relay profile ...`` end to end, and the precedence of every setting: flag > env var > profile > default."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import respx

from relay_cli.config.keys import PROFILE_KEYS

PRO_API = "https://all-main-pro-ibot.relaysvr.com"
QA_API = "https://all-main-qa-ibot.relaysvr.com"
#: the built-in sandbox profile `relay profile list` always shows
LOCAL_ROW = {"name": "local", "current": False, "builtin": True}
DRY_RUN = ("workflow", "create", "call", "--name", "n", "--uri", "wss://h/p", "--dry-run")

#: `relay profile show --json` for a fresh config: nothing set anywhere but RELAY_API_KEY (conftest)
DEFAULT_SHOW = {
    "profile": {"value": "default", "source": "default"},
    "env": {"value": "pro", "source": "default"},
    "host": {"value": None, "source": "default"},
    "subscriber_id": {"value": None, "source": "default"},
    "auth_method": {"value": "Bearer", "source": "default"},
    "auth_client_id": {"value": "83756T4P", "source": "default"},
    "auth_sdk_client_id": {"value": "RJZKRhh9", "source": "default"},
    "auth_issuer": {"value": "https://auth.relaypro.com/realms/Relay", "source": "default"},
    "auth_redirect_uri": {
        "value": "http://auth-localredirect.relaypro.com:8079/authorization-code/callback",
        "source": "default",
    },
    "api_url": {"value": PRO_API, "source": "default"},
    "token": {"value": None, "source": "env RELAY_API_KEY"},
}


def config_file(isolated_env: Path) -> Path:
    return isolated_env / "config.toml"


def show(run: Any, *args: str) -> dict[str, Any]:
    result = (
        run(*args, "profile", "show", "--json")
        if args and args[0].startswith("-")
        else run("profile", "show", *args, "--json")
    )
    assert result.code == 0, result.err
    return result.json()


def dry_run_line(run: Any, *extra: str, global_args: tuple[str, ...] = ()) -> str:
    """The 'Would send' line a create --dry-run prints on stderr."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False):  # nothing may be sent
        result = run(*global_args, *DRY_RUN, *extra)
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("Dry run")]
    assert len(lines) == 1, result.err
    return lines[0]


def would_send(url: str = PRO_API, subscriber: str = "<your default account>") -> str:
    return f"Dry run, nothing sent. Would send: POST {url}/ibot/workflow?subscriber_id={subscriber}"


# --- add / list / use / show ---------------------------------------------------------------------


def test_fresh_config_show_is_all_defaults(run: Any, isolated_env: Path) -> None:
    assert show(run) == DEFAULT_SHOW
    assert not config_file(isolated_env).exists()  # reading never creates the file


def test_add_list_use_show(run: Any, isolated_env: Path) -> None:
    result = run("profile", "add", "qa", "--env", "qa")
    assert (result.code, result.out, result.err) == (0, "", "Added profile qa\n")

    result = run("profile", "list")
    assert result.code == 0, result.err
    assert result.out == (
        "   NAME     ENV  HOST                      SUBSCRIBER\n"
        "*  default\n"
        "   local         (built-in local sandbox)\n"
        "   qa       qa\n"
    )

    result = run("profile", "list", "--json")
    assert result.code == 0, result.err
    assert result.json() == [
        {"name": "default", "current": True},
        LOCAL_ROW,
        {"name": "qa", "current": False, "env": "qa"},
    ]

    result = run("profile", "use", "qa")
    assert (result.code, result.out, result.err) == (
        0,
        "",
        (
            "Now using profile qa\n"
            f"note: commands now go to Relay QA ({QA_API}) as profile 'qa' (before: Relay production as profile 'default'); "
            "`relay profile use default` goes back\n"
        ),
    )

    result = run("profile", "list")
    assert result.out == (
        "   NAME     ENV  HOST                      SUBSCRIBER\n"
        "   default\n"
        "   local         (built-in local sandbox)\n"
        "*  qa       qa\n"
    )
    assert run("profile", "list", "--json").json() == [
        {"name": "default", "current": False},
        LOCAL_ROW,
        {"name": "qa", "current": True, "env": "qa"},
    ]

    assert show(run) == {
        "profile": {"value": "qa", "source": "config current_profile"},
        "env": {"value": "qa", "source": "profile qa"},
        "host": {"value": None, "source": "default"},
        "subscriber_id": {"value": None, "source": "default"},
        "auth_method": {"value": "Bearer", "source": "default"},
        "auth_client_id": {"value": "4EgeETYm", "source": "default"},
        "auth_sdk_client_id": {"value": "rGGK996c", "source": "default"},
        "auth_issuer": {"value": "https://auth2.relaygo.info/realms/Relay", "source": "default"},
        "auth_redirect_uri": {
            "value": "http://auth2-localredirect.relaygo.info:8079/authorization-code/callback",
            "source": "default",
        },
        "api_url": {"value": QA_API, "source": "profile qa"},
        "token": {"value": None, "source": "env RELAY_API_KEY"},
    }


def test_add_with_all_options_and_use(run: Any, isolated_env: Path) -> None:
    result = run("profile", "add", "sb", "--host", "http://127.0.0.1:8080", "-s", "S1", "--env", "qa", "--use")
    assert (result.code, result.err) == (
        0,
        (
            "Added profile sb and selected it\n"
            "note: commands now go to http://127.0.0.1:8080 as profile 'sb' (before: Relay production as profile 'default'); "
            "`relay profile use default` goes back\n"
        ),
    )
    assert run("profile", "list", "--json").json() == [
        {"name": "default", "current": False},
        LOCAL_ROW,
        {"name": "sb", "current": True, "env": "qa", "host": "http://127.0.0.1:8080", "subscriber_id": "S1"},
    ]
    result = run("profile", "list")
    assert result.out == (
        "   NAME     ENV  HOST                      SUBSCRIBER\n"
        "   default\n"
        "   local         (built-in local sandbox)\n"
        "*  sb       qa   http://127.0.0.1:8080     S1\n"
    )
    data = show(run)
    assert data["api_url"] == {"value": "http://127.0.0.1:8080", "source": "profile sb"}
    assert data["subscriber_id"] == {"value": "S1", "source": "profile sb"}


def test_show_plain_table(run: Any, isolated_env: Path) -> None:
    assert run("profile", "add", "qa", "--env", "qa", "--use").code == 0
    result = run("profile", "show")
    assert result.code == 0, result.err
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[1:]}
    assert result.out.splitlines()[0].split() == ["KEY", "VALUE", "SOURCE"]
    assert rows["profile"] == ["profile", "qa", "config", "current_profile"]
    assert rows["env"] == ["env", "qa", "profile", "qa"]
    assert rows["api_url"] == ["api_url", QA_API, "profile", "qa"]
    assert rows["host"] == ["host", "default"]
    assert rows["token"] == ["token", "(hidden)", "env", "RELAY_API_KEY"]


def test_show_named_profile_and_missing(run: Any, isolated_env: Path) -> None:
    assert run("profile", "add", "qa", "--env", "qa").code == 0
    data = show(run, "qa")
    assert data["profile"]["value"] == "qa"
    assert data["env"] == {"value": "qa", "source": "profile qa"}
    assert data["api_url"] == {"value": QA_API, "source": "profile qa"}
    result = run("profile", "show", "nope")
    assert result.code == 3
    assert result.out == ""
    assert result.err == "error: no profile named 'nope'\nhint: `relay profile list` shows the profiles\n"


# --- tokens are never shown ----------------------------------------------------------------------


def test_show_never_prints_the_token(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_API_KEY", "secret-xyz")
    for args in (
        ("profile", "show"),
        ("profile", "show", "--json"),
        ("profile", "list"),
        ("profile", "list", "--json"),
    ):
        result = run(*args)
        assert result.code == 0, result.err
        assert "secret-xyz" not in result.out + result.err
    table = run("profile", "show").out
    assert "env RELAY_API_KEY" in table
    token_line = [line for line in table.splitlines() if line.startswith("token")]
    assert token_line[0].split() == ["token", "(hidden)", "env", "RELAY_API_KEY"]
    assert show(run)["token"] == {"value": None, "source": "env RELAY_API_KEY"}


def test_show_token_not_set(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("profile", "add", "qa", "--env", "qa", "--use").code == 0  # configured: not the local sandbox
    monkeypatch.delenv("RELAY_API_KEY")
    assert show(run)["token"] == {"value": None, "source": "not set"}
    token_line = [line for line in run("profile", "show").out.splitlines() if line.startswith("token")]
    assert token_line[0].split() == ["token", "not", "set"]  # empty value, source "not set"


# --- precedence: env var > profile > default, for every key ---------------------------------------

#: key → (value stored in the profile, value in the environment variable, default value)
PRECEDENCE = {
    "env": ("qa", "pro", "pro"),
    "host": ("profile.example.com", "env.example.com", None),
    "subscriber_id": ("P-SUB", "E-SUB", None),
    "auth_method": ("Token", "Basic", "Bearer"),
    "auth_client_id": ("p-client", "e-client", "83756T4P"),
    "auth_sdk_client_id": ("p-sdk", "e-sdk", "RJZKRhh9"),
    "auth_issuer": (
        "https://p.example.com/realms/R",
        "https://e.example.com/realms/R",
        "https://auth.relaypro.com/realms/Relay",
    ),
    "auth_redirect_uri": (
        "http://localhost:1111/cb",
        "http://localhost:2222/cb",
        "http://auth-localredirect.relaypro.com:8079/authorization-code/callback",
    ),
}


def test_precedence_table_covers_every_key() -> None:
    assert set(PRECEDENCE) == set(PROFILE_KEYS)


@pytest.mark.parametrize("key", list(PRECEDENCE))
def test_precedence_env_var_over_profile_over_default(
    run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    in_profile, in_env, default = PRECEDENCE[key]
    var = PROFILE_KEYS[key][0]
    assert var == f"RELAY_{key.upper()}"

    assert show(run)[key] == {"value": default, "source": "default"}

    result = run("profile", "set", key, in_profile)
    moves = {"env": f"Relay QA ({QA_API})", "host": "https://profile.example.com"}  # the keys that change the target
    note = (
        f"note: commands now go to {moves[key]} as profile 'default' (before: Relay production as profile 'default')\n"
        if key in moves
        else ""
    )
    assert (result.code, result.err) == (0, f"Set {key} on profile default\n" + note)
    assert show(run)[key] == {"value": in_profile, "source": "profile default"}

    monkeypatch.setenv(var, in_env)
    assert show(run)[key] == {"value": in_env, "source": f"env {var}"}

    monkeypatch.setenv(var, "")  # an empty variable counts as unset
    assert show(run)[key] == {"value": in_profile, "source": "profile default"}

    monkeypatch.delenv(var)
    result = run("profile", "unset", key)
    note = (
        f"note: commands now go to Relay production ({PRO_API}) as profile 'default' (before: {moves[key].split(' (')[0]} as profile 'default')\n"
        if key in moves
        else ""
    )
    assert (result.code, result.err) == (0, f"Unset {key} on profile default\n" + note)
    assert show(run)[key] == {"value": default, "source": "default"}


def test_subscriber_flag_beats_env_beats_profile(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dry_run_line(run) == would_send()
    assert run("profile", "set", "subscriber_id", "P-SUB").code == 0
    assert show(run)["subscriber_id"] == {"value": "P-SUB", "source": "profile default"}
    assert dry_run_line(run) == would_send(subscriber="P-SUB")

    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "E-SUB")
    assert show(run)["subscriber_id"] == {"value": "E-SUB", "source": "env RELAY_SUBSCRIBER_ID"}
    assert dry_run_line(run) == would_send(subscriber="E-SUB")

    assert dry_run_line(run, "-s", "F-SUB") == would_send(subscriber="F-SUB")
    assert dry_run_line(run, "--subscriber-id", "F-SUB2") == would_send(subscriber="F-SUB2")

    monkeypatch.delenv("RELAY_SUBSCRIBER_ID")
    assert dry_run_line(run, "-s", "F-SUB") == would_send(subscriber="F-SUB")  # flag beats the profile alone
    assert dry_run_line(run) == would_send(subscriber="P-SUB")


def test_profile_flag_beats_relay_profile_beats_current(
    run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        assert run("profile", "add", name, "-s", f"SUB-{name.upper()}").code == 0
    assert run("profile", "use", "a").code == 0

    data = show(run)
    assert data["profile"] == {"value": "a", "source": "config current_profile"}
    assert data["subscriber_id"] == {"value": "SUB-A", "source": "profile a"}
    assert dry_run_line(run) == would_send(subscriber="SUB-A")

    monkeypatch.setenv("RELAY_PROFILE", "b")
    data = show(run)
    assert data["profile"] == {"value": "b", "source": "env RELAY_PROFILE"}
    assert data["subscriber_id"] == {"value": "SUB-B", "source": "profile b"}
    assert dry_run_line(run) == would_send(subscriber="SUB-B")
    assert [r["name"] for r in run("profile", "list", "--json").json() if r["current"]] == ["b"]

    for flag in ("--profile", "-P"):
        data = show(run, flag, "c")
        assert data["profile"] == {"value": "c", "source": "flag --profile"}
        assert data["subscriber_id"] == {"value": "SUB-C", "source": "profile c"}
        assert dry_run_line(run, global_args=(flag, "c")) == would_send(subscriber="SUB-C")
        assert [r["name"] for r in run(flag, "c", "profile", "list", "--json").json() if r["current"]] == ["c"]


def test_profile_set_targets_the_selected_profile(
    run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("profile", "add", "a").code == 0
    assert run("profile", "add", "b").code == 0
    result = run("-P", "a", "profile", "set", "subscriber_id", "X")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile a\n")
    monkeypatch.setenv("RELAY_PROFILE", "b")
    result = run("profile", "set", "subscriber_id", "Y")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile b\n")
    assert run("profile", "list", "--json").json() == [
        {"name": "a", "current": False, "subscriber_id": "X"},
        {"name": "b", "current": True, "subscriber_id": "Y"},
        {"name": "default", "current": False},
        LOCAL_ROW,
    ]
    monkeypatch.setenv("RELAY_PROFILE", "nope")
    before = config_file(isolated_env).read_bytes()
    result = run("profile", "set", "subscriber_id", "Z")
    assert result.code == 3
    assert result.err == "error: no profile named 'nope'\nhint: create it with `relay profile add nope`\n"
    assert config_file(isolated_env).read_bytes() == before


def test_host_precedence(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("profile", "add", "qa", "--env", "qa", "--use").code == 0
    assert show(run)["api_url"] == {"value": QA_API, "source": "profile qa"}
    assert dry_run_line(run, "-s", "X") == would_send(QA_API, "X")

    assert run("profile", "set", "host", "h.example.com").code == 0
    data = show(run)
    assert data["host"] == {"value": "h.example.com", "source": "profile qa"}
    assert data["api_url"] == {"value": "https://h.example.com", "source": "profile qa"}
    assert dry_run_line(run, "-s", "X") == would_send("https://h.example.com", "X")

    monkeypatch.setenv("RELAY_HOST", "https://e.example.com:8443/")
    data = show(run)
    assert data["host"] == {"value": "https://e.example.com:8443/", "source": "env RELAY_HOST"}
    assert data["api_url"] == {"value": "https://e.example.com:8443", "source": "env RELAY_HOST"}
    assert dry_run_line(run, "-s", "X") == would_send("https://e.example.com:8443", "X")


def test_env_var_selects_environment(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ENV", "qa")
    data = show(run)
    assert data["env"] == {"value": "qa", "source": "env RELAY_ENV"}
    assert data["api_url"] == {"value": QA_API, "source": "env RELAY_ENV"}
    assert data["auth_client_id"] == {"value": "4EgeETYm", "source": "default"}
    assert dry_run_line(run, "-s", "X") == would_send(QA_API, "X")


def test_bad_env_var_values_are_usage_errors(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ENV", "prod")
    result = run("profile", "show")
    assert (result.code, result.err) == (
        2,
        "error: RELAY_ENV: expected one of pro, qa, got 'prod'; did you mean 'pro'?\n",
    )
    monkeypatch.delenv("RELAY_ENV")
    monkeypatch.setenv("RELAY_HOST", "http://example.com")
    result = run("profile", "show")
    assert result.code == 2
    assert result.err == (
        "error: RELAY_HOST: plain http is only allowed to a loopback host; use https://, got 'http://example.com'\n"
    )


# --- set / unset / remove / errors ---------------------------------------------------------------


def test_set_invalid_values_leave_the_file_unchanged(run: Any, isolated_env: Path) -> None:
    assert run("profile", "add", "qa", "--env", "qa").code == 0
    before = config_file(isolated_env).read_bytes()

    cases = [
        (("env", "prod"), "error: env: expected one of pro, qa, got 'prod'; did you mean 'pro'?\n"),
        (
            ("host", "http://example.com"),
            "error: host: plain http is only allowed to a loopback host; use https://, got 'http://example.com'\n",
        ),
        (
            ("host", "ftp://x"),
            "error: host: expected a host name or a base URL such as https://api.example.com, got 'ftp://x'\n",
        ),
        (
            ("nokey", "v"),
            "error: KEY: expected one of env, host, subscriber_id, auth_method, auth_client_id, "
            "auth_sdk_client_id, auth_issuer, auth_redirect_uri, got 'nokey'\n",
        ),
        (
            ("auth_method", "two words"),
            "error: auth_method: expected one word such as Bearer, got a value with a space (not shown)\n",
        ),
        (("subscriber_id", " "), "error: subscriber_id: expected a value, got an empty string\n"),
    ]
    for args, err in cases:
        result = run("profile", "set", *args)
        assert (result.code, result.out, result.err) == (2, "", err), args
        assert config_file(isolated_env).read_bytes() == before, args


def test_set_and_unset_loopback_host(run: Any, isolated_env: Path) -> None:
    result = run("profile", "set", "host", "http://127.0.0.1:8080")
    assert (result.code, result.err) == (
        0,
        (
            "Set host on profile default\n"
            "note: commands now go to http://127.0.0.1:8080 as profile 'default' (before: Relay production as profile 'default')\n"
        ),
    )
    text = config_file(isolated_env).read_text()
    assert text.endswith('\n[profiles.default]\nhost = "http://127.0.0.1:8080"\n')
    data = show(run)
    assert data["host"] == {"value": "http://127.0.0.1:8080", "source": "profile default"}
    assert data["api_url"] == {"value": "http://127.0.0.1:8080", "source": "profile default"}
    assert dry_run_line(run, "-s", "X") == would_send("http://127.0.0.1:8080", "X")

    result = run("profile", "unset", "host")
    assert (result.code, result.out, result.err) == (
        0,
        "",
        (
            "Unset host on profile default\n"
            f"note: commands now go to Relay production ({PRO_API}) as profile 'default' (before: http://127.0.0.1:8080 as profile 'default')\n"
        ),
    )
    assert config_file(isolated_env).read_text().endswith("\n[profiles.default]\n")
    assert show(run)["api_url"] == {"value": PRO_API, "source": "default"}

    result = run("profile", "unset", "host")
    assert (result.code, result.out, result.err) == (0, "", "host was not set on profile default\n")

    result = run("profile", "unset", "nokey")
    assert result.code == 2
    assert result.err.startswith("error: KEY: expected one of env, host,")


def test_remove(run: Any, isolated_env: Path) -> None:
    assert run("profile", "add", "qa", "--env", "qa").code == 0
    assert run("profile", "add", "other").code == 0
    result = run("profile", "remove", "qa")
    assert (result.code, result.out, result.err) == (0, "", "Removed profile qa\n")
    assert run("profile", "list", "--json").json() == [
        {"name": "default", "current": True},
        LOCAL_ROW,
        {"name": "other", "current": False},
    ]
    assert run("profile", "list").out == (
        "   NAME     ENV  HOST                      SUBSCRIBER\n"
        "*  default\n"
        "   local         (built-in local sandbox)\n"
        "   other\n"
    )
    assert "qa" not in config_file(isolated_env).read_text().split("Tokens are never stored here.")[1]


def test_removing_the_current_profile_resets_current(run: Any, isolated_env: Path) -> None:
    assert run("profile", "add", "qa", "--env", "qa", "--use").code == 0
    assert 'current_profile = "qa"' in config_file(isolated_env).read_text()
    assert run("profile", "remove", "qa").code == 0
    assert "current_profile" not in config_file(isolated_env).read_text()
    assert run("profile", "list", "--json").json() == [{"name": "default", "current": True}, LOCAL_ROW]
    assert show(run)["profile"] == {"value": "default", "source": "default"}
    assert show(run)["api_url"] == {"value": PRO_API, "source": "default"}


def test_not_found_and_usage_errors(run: Any, isolated_env: Path) -> None:
    result = run("profile", "remove", "nope")
    assert (result.code, result.out) == (3, "")
    assert result.err == "error: no profile named 'nope'\nhint: `relay profile list` shows the profiles\n"

    result = run("profile", "use", "nope")
    assert (result.code, result.out) == (3, "")
    assert result.err == "error: no profile named 'nope'\nhint: create it with `relay profile add nope`\n"

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        for flag in ("--profile", "-P"):
            result = run(flag, "nope", "workflow", "list")
            assert (result.code, result.out) == (2, "")
            assert result.err == (
                "error: --profile: no profile named 'nope'\n"
                "hint: `relay profile list` shows the profiles; `relay profile add nope` creates it\n"
            )
        assert len(mock.calls) == 0

    assert run("profile", "add", "qa").code == 0
    before = config_file(isolated_env).read_bytes()
    result = run("profile", "add", "qa", "--env", "qa")
    assert (result.code, result.err) == (2, "error: profile add: a profile named 'qa' already exists\n")
    assert config_file(isolated_env).read_bytes() == before


def test_relay_profile_naming_a_missing_profile(run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_PROFILE", "nope")
    result = run("workflow", "list")
    assert result.code == 2
    assert result.err.startswith("error: RELAY_PROFILE: no profile named 'nope'\n")
    result = run("profile", "show")
    assert result.code == 3


def test_current_profile_naming_a_missing_profile(run: Any, isolated_env: Path) -> None:
    config_file(isolated_env).parent.mkdir(parents=True)
    config_file(isolated_env).write_text('current_profile = "gone"\n')
    result = run("workflow", "list")
    assert result.code == 2
    assert result.err.startswith("error: current_profile: no profile named 'gone'\n")


@pytest.mark.parametrize("name", ["a b", "", "_x", ".hidden", "a/b", "x" * 65, "é"])
def test_bad_profile_names(run: Any, isolated_env: Path, name: str) -> None:
    result = run("profile", "add", name)
    assert result.code == 2
    assert result.err == (
        f"error: profile name: expected a profile name of letters, digits, '-', '_' or '.', got {name!r}\n"
    )
    assert not config_file(isolated_env).exists()


@pytest.mark.parametrize("name", ["a", "A.b-c_d", "9", "x" * 64])
def test_good_profile_names(run: Any, isolated_env: Path, name: str) -> None:
    result = run("profile", "add", name)
    assert (result.code, result.err) == (0, f"Added profile {name}\n")
    assert name in [r["name"] for r in run("profile", "list", "--json").json()]


def test_add_with_invalid_option_values_creates_nothing(run: Any, isolated_env: Path) -> None:
    result = run("profile", "add", "qa", "--env", "prod")
    assert (result.code, result.err) == (2, "error: env: expected one of pro, qa, got 'prod'; did you mean 'pro'?\n")
    result = run("profile", "add", "qa", "--host", "http://example.com")
    assert result.code == 2
    assert not config_file(isolated_env).exists()
    assert [r["name"] for r in run("profile", "list", "--json").json()] == ["default", "local"]


# --- a config file that is not TOML --------------------------------------------------------------

BROKEN_COMMANDS = [
    ("profile", "list"),
    ("profile", "list", "--json"),
    ("profile", "show"),
    ("profile", "set", "subscriber_id", "X"),
    ("profile", "unset", "host"),
    ("profile", "add", "z"),
    ("profile", "use", "default"),
    ("profile", "remove", "a"),
    ("workflow", "list"),
    DRY_RUN + ("-s", "X"),
]


@pytest.mark.parametrize("args", BROKEN_COMMANDS, ids=" ".join)
def test_invalid_toml_is_a_usage_error_naming_the_file(run: Any, isolated_env: Path, args: tuple[str, ...]) -> None:
    path = config_file(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'current_profile = "default"\n[profiles.a\nenv = "qa"\n')
    before = path.read_bytes()
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        result = run(*args)
        assert len(mock.calls) == 0
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(f"error: {path} is not valid TOML: ")
    assert result.err.endswith("\nhint: fix or remove the file\n")
    assert path.read_bytes() == before


# --- bad values written by hand -------------------------------------------------------------------


def test_a_bad_value_in_the_file_can_be_fixed_with_the_cli(run: Any, isolated_env: Path) -> None:
    """A hand-edited profile with a bad value must not lock the user out of `relay profile set/unset/list`."""
    path = config_file(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text('[profiles.default]\nenv = "prod"\nhost = "http://example.com"\n')

    result = run("profile", "list", "--json")
    assert result.code == 0, result.err
    assert result.json()[0] == {"name": "default", "current": True, "env": "prod", "host": "http://example.com"}

    result = run("profile", "set", "env", "qa")
    assert (result.code, result.err) == (0, "Set env on profile default\n")
    result = run("profile", "unset", "host")
    assert (result.code, result.err) == (0, "Unset host on profile default\n")
    assert path.read_text() == '[profiles.default]\nenv = "qa"\n'
    assert show(run)["api_url"] == {"value": QA_API, "source": "profile default"}


@pytest.mark.parametrize(
    ("text", "key"),
    [('env = "prod"', "env"), ('host = "http://example.com"', "host"), ('auth_method = "a b"', "auth_method")],
)
def test_a_bad_value_in_the_file_is_reported_with_its_key(run: Any, isolated_env: Path, text: str, key: str) -> None:
    path = config_file(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text(f"[profiles.default]\n{text}\n")
    result = run("profile", "show")
    assert result.code == 2
    assert result.out == ""
    first_line = result.err.splitlines()[0]
    assert first_line.startswith("error: ")
    where = first_line[len("error: ") :].split(": ", 1)[0]  # what the message blames, before the first ': '
    assert re.search(rf"\b{key}\b", where), first_line  # it must name the setting that is wrong
    assert "default" in where, first_line  # ...and the profile it is in


def test_local_is_reserved(run: Any, isolated_env: Path) -> None:
    for args in (("profile", "add", "local"), ("profile", "remove", "local")):
        result = run(*args)
        assert result.code == 2, args
        assert result.err == (
            "error: profile name: 'local' is the built-in sandbox profile and cannot be created, changed or removed\n"
        )
    for args in (("-P", "local", "profile", "set", "subscriber_id", "X"), ("-P", "local", "profile", "unset", "host")):
        result = run(*args)
        assert result.code == 2, args
        assert result.err == (
            "error: profile: the `local` profile (selected by flag --profile) is the built-in sandbox and has no settings\n"
            "hint: name another profile with -P NAME, or select one with `relay profile use NAME`\n"
        )
    assert not config_file(isolated_env).exists()


# --- a change of target is announced -------------------------------------------------------------------

SANDBOX_BACK = "`relay profile use local` returns to the sandbox"
TO_PRODUCTION = f"note: commands now go to Relay production ({PRO_API}) as profile 'default' (before: the local sandbox); {SANDBOX_BACK}\n"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh machine: no config file, no RELAY_API_KEY, no target variable: commands go to the sandbox."""
    monkeypatch.delenv("RELAY_API_KEY")


def test_the_readme_example_says_where_commands_go(run: Any, isolated_env: Path, fresh: None) -> None:
    assert run("workflow", "list").code == 0  # the sandbox: nothing configured
    added = run("profile", "add", "qa", "--env", "qa")
    assert (added.code, added.out, added.err) == (0, "", "Added profile qa\n" + TO_PRODUCTION)

    again = run("profile", "set", "subscriber_id", "1a2b3c4d")  # the default profile: the target is unchanged
    assert (again.code, again.err) == (0, "Set subscriber_id on profile default\n")

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        listed = run("workflow", "list")
        assert len(mock.calls) == 0
    assert listed.code == 4
    assert listed.err == (
        f"error: not logged in to Relay production ({PRO_API}) as profile 'default'\n"
        f"hint: set RELAY_API_KEY to an API token, or run `relay login`; {SANDBOX_BACK.replace('the sandbox', 'the local sandbox')}\n"
    )
    qa = run("-P", "qa", "workflow", "list")
    assert qa.code == 4
    assert qa.err.startswith(
        f"error: not logged in to Relay QA ({QA_API}) as profile 'qa'\nhint: set RELAY_API_KEY to an API token, or run `relay -P qa login`;"
    )

    back = run("profile", "use", "local")
    assert back.err == (
        "Now using profile local\n"
        "note: commands now go to the local sandbox (before: Relay production as profile 'default'); `relay profile use default` goes back\n"
    )
    assert run("workflow", "list").code == 0


def test_profile_set_on_a_fresh_machine_configures_the_default_profile_and_says_so(
    run: Any, isolated_env: Path, fresh: None
) -> None:
    result = run("profile", "set", "subscriber_id", "X")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile default\n" + TO_PRODUCTION)
    assert config_file(isolated_env).read_text().endswith('[profiles.default]\nsubscriber_id = "X"\n')


def test_profile_add_use_on_a_fresh_machine_names_the_new_target(run: Any, isolated_env: Path, fresh: None) -> None:
    result = run("profile", "add", "sb", "--host", "http://127.0.0.1:8080", "--use")
    assert result.err == (
        "Added profile sb and selected it\n"
        f"note: commands now go to http://127.0.0.1:8080 as profile 'sb' (before: the local sandbox); {SANDBOX_BACK}\n"
    )
    removed = run("profile", "remove", "sb")  # the file holds no profile again: back to the sandbox
    assert (
        removed.err
        == "Removed profile sb\nnote: commands now go to the local sandbox (before: http://127.0.0.1:8080 as profile 'sb')\n"
    )

    assert run("profile", "add", "a", "--env", "qa", "--use").code == 0
    assert run("profile", "add", "b", "--use").code == 0
    gone = run("profile", "remove", "b")  # to the default profile; no way "back" to a profile that is gone
    assert (
        gone.err
        == f"Removed profile b\nnote: commands now go to Relay production ({PRO_API}) as profile 'default' (before: Relay production as profile 'b')\n"
    )


def test_no_note_when_the_environment_decides_the_target(
    run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    monkeypatch.setenv("RELAY_PROFILE", "local")  # later commands keep going to the sandbox whatever the file says
    result = run("-P", "default", "profile", "set", "subscriber_id", "X")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile default\n")


def test_no_note_when_nothing_about_the_target_changed(run: Any, isolated_env: Path) -> None:
    assert run("profile", "add", "qa", "--env", "qa").err == "Added profile qa\n"  # RELAY_API_KEY: production already
    assert run("-P", "qa", "profile", "set", "subscriber_id", "Q").err == "Set subscriber_id on profile qa\n"
    assert run("profile", "set", "subscriber_id", "D").err == "Set subscriber_id on profile default\n"
