"""HTTP errors, transport failures, credentials and the RELAY_* connection variables, seen through
``relay workflow list -s SUB`` (and a create for a 400)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from relay_cli import __version__

from conftest import API, SUB, TOKEN

HOST = "https://all-main-pro-ibot.relaysvr.com"
AUTH_HINT = "hint: run `relay login`, or set RELAY_API_KEY to a valid token\n"
NET_HINT = "hint: check RELAY_HOST / the profile's host and your network\n"
CREATE = [
    "workflow",
    "create",
    "call",
    "--trigger",
    "inbound",
    "--name",
    "x",
    "--uri",
    "wss://h/p",
    "-i",
    "990007560045678",
    "-s",
    SUB,
]


def no_secrets(result: Any) -> None:
    assert TOKEN not in result.out
    assert TOKEN not in result.err
    assert "Traceback" not in result.err
    assert "\x1b" not in result.out + result.err


def listing_with(run: Any, outcome: Any, attempts: int = 1) -> tuple[Any, Any]:
    """Run ``workflow list -s SUB`` with GET /ibot/workflow answered by ``outcome`` (a response or an exception);
    ``attempts``: how often the client must have sent it (transient failures are retried)."""
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        route = mock.get("/ibot/workflow")
        if isinstance(outcome, Exception):
            route.mock(side_effect=outcome)
        else:
            route.mock(return_value=outcome)
        result = run("workflow", "list", "-s", SUB)
        assert route.call_count == attempts
        assert dict(route.calls.last.request.url.params) == {"subscriber_id": SUB}
    no_secrets(result)
    return result, mock


def catch_all(run: Any, *argv: str, answer: Any = None) -> tuple[Any, list[httpx.Request]]:
    """Run with every request to any host caught; return the result and the requests sent."""
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(return_value=answer or httpx.Response(200, json={"results": []}))
        result = run(*argv)
        requests = [call.request for call in mock.calls]
    no_secrets(result)
    return result, requests


# --- HTTP error statuses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (401, None, "Unauthorized"),
        (401, {"error": "invalid_token"}, "invalid_token"),
        (403, None, "Forbidden"),
        (403, {"error": "forbidden", "message": "not your account"}, "not your account (forbidden)"),
    ],
)
def test_auth_failures_exit_4_with_a_hint(run: Any, status: int, body: Any, text: str) -> None:
    response = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    result, _ = listing_with(run, response)
    assert result.code == 4
    assert result.out == ""
    if status == 401:  # RELAY_API_KEY is set (conftest): a rejected key is never refreshed, and says so
        assert result.err == (
            f"error: the Relay API refused GET /ibot/workflow: {text} (HTTP {status}): the key in RELAY_API_KEY is "
            "invalid or expired\nhint: set RELAY_API_KEY to a valid API token, or unset it and run `relay login`\n"
        )
    else:
        assert result.err == f"error: the Relay API refused GET /ibot/workflow: {text} (HTTP {status})\n" + AUTH_HINT
    assert "relay login" in result.err and "RELAY_API_KEY" in result.err


def test_404_is_exit_3(run: Any) -> None:
    result, _ = listing_with(run, httpx.Response(404))
    assert result.code == 3
    assert result.out == ""
    assert result.err == "error: the Relay API refused GET /ibot/workflow: Not Found (HTTP 404)\n"


def test_500_shows_the_server_message(run: Any) -> None:
    result, _ = listing_with(run, httpx.Response(500, json={"error": "boom", "message": "it broke"}))
    assert result.code == 1
    assert result.out == ""
    assert "it broke" in result.err
    assert result.err == "error: the Relay API refused GET /ibot/workflow: it broke (boom) (HTTP 500)\n"


def test_502_with_html_body(run: Any) -> None:
    result, _ = listing_with(run, httpx.Response(502, text="<html>bad gateway</html>"), attempts=4)
    assert result.code == 1
    assert result.err == "error: the Relay API refused GET /ibot/workflow: Bad Gateway (HTTP 502) (tried 4 times)\n"


def test_400_on_create_names_the_error(run: Any) -> None:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        route = mock.post("/ibot/workflow").mock(
            return_value=httpx.Response(400, json={"error": "invalid_install_user_id"})
        )
        result = run(*CREATE)
        assert route.call_count == 1
    no_secrets(result)
    assert result.code == 1
    assert result.out == ""
    assert "invalid_install_user_id" in result.err
    assert result.err == "error: the Relay API refused POST /ibot/workflow: invalid_install_user_id (HTTP 400)\n"


def test_400_with_message_and_error(run: Any) -> None:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.post("/ibot/workflow").mock(
            return_value=httpx.Response(400, json={"error": "invalid_install_user_id", "message": "no such user d1"})
        )
        result = run(*CREATE)
    assert result.code == 1
    assert (
        result.err
        == "error: the Relay API refused POST /ibot/workflow: no such user d1 (invalid_install_user_id) (HTTP 400)\n"
    )


# --- transport failures -----------------------------------------------------------------------------


def test_connection_refused(run: Any) -> None:
    result, _ = listing_with(run, httpx.ConnectError("[Errno 111] Connection refused"), attempts=4)
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"error: could not connect to {HOST}: connection refused (tried 4 times)\n" + NET_HINT
    assert len([line for line in result.err.splitlines() if line.startswith("error:")]) == 1
    assert result.err.count(HOST) == 1


def test_name_not_resolved(run: Any) -> None:
    result, _ = listing_with(run, httpx.ConnectError("[Errno -2] Name or service not known"), attempts=4)
    assert result.code == 1
    assert result.err == f"error: could not connect to {HOST}: host name not found (tried 4 times)\n" + NET_HINT


def test_a_connect_timeout_is_could_not_connect_and_retried(run: Any) -> None:
    result, _ = listing_with(run, httpx.ConnectTimeout("timed out"), attempts=4)
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"error: could not connect to {HOST}: the connection timed out (tried 4 times)\n" + NET_HINT


@pytest.mark.parametrize(("flag", "env", "seconds"), [([], None, "30"), (["--timeout", "2.5"], None, "2.5"),
                                                        ([], "7", "7"), (["--timeout=4"], "7", "4")])  # fmt: skip
def test_a_read_timeout_is_did_not_answer_and_not_retried(
    run: Any, monkeypatch: pytest.MonkeyPatch, flag: list[str], env: str | None, seconds: str
) -> None:
    """The server was reached and did not answer within the deadline: said so, and not sent again."""
    if env is not None:
        monkeypatch.setenv("RELAY_TIMEOUT", env)
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        route = mock.get("/ibot/workflow").mock(side_effect=httpx.ReadTimeout("read timed out"))
        result = run(*flag, "workflow", "list", "-s", SUB)
        assert route.call_count == 1
        timeout = route.calls.last.request.extensions["timeout"]
    no_secrets(result)
    assert result.code == 1
    assert result.err == (
        f"error: {HOST} did not answer within {seconds} s\n"
        "hint: if the server is only slow, give it longer with --timeout SECONDS or RELAY_TIMEOUT\n"
    )
    assert timeout["read"] == float(seconds) and timeout["connect"] == min(10.0, float(seconds))


@pytest.mark.parametrize(
    ("argv", "env", "option", "shown"),
    [
        (["--timeout", "0"], None, "--timeout", "'0.0'"),
        (["--timeout", "-3"], None, "--timeout", "'-3.0'"),
        (["--timeout", "100000"], None, "--timeout", "'100000.0'"),
        ([], "abc", "RELAY_TIMEOUT", "'abc'"),
        ([], "nan", "RELAY_TIMEOUT", "'nan'"),
        ([], "0", "RELAY_TIMEOUT", "'0'"),
        ([], "-1", "RELAY_TIMEOUT", "'-1'"),
    ],
)
def test_a_bad_timeout_is_refused(run: Any, monkeypatch: pytest.MonkeyPatch, argv: list[str], env: str | None,
                                  option: str, shown: str) -> None:  # fmt: skip
    if env is not None:
        monkeypatch.setenv("RELAY_TIMEOUT", env)
    result, requests = catch_all(run, *argv, "workflow", "list", "-s", SUB)
    assert (result.code, result.out, requests) == (2, "", [])
    assert result.err == (
        f"error: {option}: expected a number of seconds greater than 0 and at most 86400 (such as 30 or 2.5), got {shown}\n"
    )


def test_a_timeout_that_is_not_a_number_is_a_usage_error(run: Any) -> None:
    result, requests = catch_all(run, "--timeout", "soon", "workflow", "list", "-s", SUB)
    assert (result.code, result.out, requests) == (2, "", [])
    assert "'--timeout'" in result.err and "soon" in result.err


# --- credentials --------------------------------------------------------------------------------------


def test_no_api_key_and_no_stored_token(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_API_KEY")
    monkeypatch.setenv("RELAY_ENV", "pro")  # a target is chosen, so the local sandbox is not the default
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 4
    assert requests == []
    assert result.out == ""
    assert result.err == (
        f"error: not logged in to Relay production ({API}) as profile 'default'\n"
        "hint: set RELAY_API_KEY to an API token, or run `relay login`; `relay profile use local` returns to the local sandbox\n"
    )


def test_empty_api_key_is_no_key(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_API_KEY", "")
    monkeypatch.setenv("RELAY_ENV", "pro")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 4
    assert requests == []


def test_default_headers(run: Any) -> None:
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert len(requests) == 1
    request = requests[0]
    assert str(request.url) == f"{API}/ibot/workflow?subscriber_id={SUB}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"relay-cli/{__version__}"


def test_auth_method_token(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_AUTH_METHOD", "Token")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert [r.headers["Authorization"] for r in requests] == [f"Token {TOKEN}"]


def test_auth_method_with_a_space_is_refused(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_AUTH_METHOD", "Bearer x")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 2
    assert requests == []
    assert result.err.startswith("error: RELAY_AUTH_METHOD: ")


def test_extra_headers(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_HEADERS", '{"X-Extra": "1"}')
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert len(requests) == 1
    assert requests[0].headers["X-Extra"] == "1"
    assert requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert requests[0].headers["Accept"] == "application/json"


@pytest.mark.parametrize("value", ["notjson", "[1]", '"x"', '{"X-A": {"b": 1}}'])
def test_bad_extra_headers_are_refused(run: Any, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RELAY_HEADERS", value)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 2, (result.code, result.err)
    assert requests == []
    assert result.out == ""
    assert result.err == "error: RELAY_HEADERS: expected a JSON object of header names to values\n"


# --- where requests go ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("http://127.0.0.1:9999", "http://127.0.0.1:9999"),
        ("http://127.0.0.1:9999/", "http://127.0.0.1:9999"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("myhost.example.com", "https://myhost.example.com"),
        ("https://myhost.example.com:8443", "https://myhost.example.com:8443"),
    ],
)
def test_relay_host(run: Any, monkeypatch: pytest.MonkeyPatch, host: str, base: str) -> None:
    monkeypatch.setenv("RELAY_HOST", host)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert [str(r.url) for r in requests] == [f"{base}/ibot/workflow?subscriber_id={SUB}"]
    assert requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_relay_host_beats_relay_env(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ENV", "qa")
    monkeypatch.setenv("RELAY_HOST", "myhost.example.com")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert [str(r.url) for r in requests] == [f"https://myhost.example.com/ibot/workflow?subscriber_id={SUB}"]


@pytest.mark.parametrize(
    "host",
    ["http://example.com", "ftp://example.com", "https://", "https://example.com/?x=1", "http://127.0.0.1:notaport"],
)
def test_bad_relay_host_is_refused(run: Any, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("RELAY_HOST", host)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 2, (result.code, result.err)
    assert requests == []
    assert result.out == ""
    assert result.err.startswith("error: RELAY_HOST: ")
    assert result.err.count("\n") == 1


def test_relay_env_qa(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ENV", "qa")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert [str(r.url) for r in requests] == [
        f"https://all-main-qa-ibot.relaysvr.com/ibot/workflow?subscriber_id={SUB}"
    ]


def test_relay_env_pro_explicit(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ENV", "pro")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert [str(r.url) for r in requests] == [f"{API}/ibot/workflow?subscriber_id={SUB}"]


@pytest.mark.parametrize(
    ("env", "suggestion"), [("prod", "; did you mean 'pro'?"), ("QA", "; did you mean 'qa'?"), ("dev", "")]
)
def test_unknown_relay_env_is_refused(run: Any, monkeypatch: pytest.MonkeyPatch, env: str, suggestion: str) -> None:
    monkeypatch.setenv("RELAY_ENV", env)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 2
    assert requests == []
    assert result.out == ""
    assert result.err == f"error: RELAY_ENV: expected one of pro, qa, got {env!r}{suggestion}\n"


def test_connection_refused_names_the_configured_host(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_HOST", "http://127.0.0.1:9999")
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
        result = run("workflow", "list", "-s", SUB)
    no_secrets(result)
    assert result.code == 1
    assert (
        result.err
        == "error: could not connect to http://127.0.0.1:9999: connection refused (tried 4 times)\n" + NET_HINT
    )


def test_error_output_is_not_json_even_with_json_flag(run: Any) -> None:
    """Errors go to stderr; stdout stays empty so a pipe into a JSON parser sees nothing half-written."""
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(500, json={"message": "it broke"}))
        result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == 1
    assert result.out == ""
    assert result.err == "error: the Relay API refused GET /ibot/workflow: it broke (HTTP 500)\n"


# --- credentials: checked before anything is sent, never shown --------------------------------------------

MARK = "S3cretMark"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"{MARK}\n", "spaces or a line break at its start or end"),
        (f" {MARK}", "spaces or a line break at its start or end"),
        (f"{MARK} ", "spaces or a line break at its start or end"),
        (f"{MARK}\tx", "a control character (a line break, a tab, ...)"),
        (f"{MARK}\x1b[31m", "a control character (a line break, a tab, ...)"),
        (f"{MARK}\x7f", "a control character (a line break, a tab, ...)"),
        (f"s\u00e9{MARK}", "a non-ASCII character"),
        (f"{MARK}\U0001f511", "a non-ASCII character"),
        (f"Bearer {MARK}", "a space"),
    ],
)
def test_a_bad_api_key_is_refused_unsent_and_unshown(
    run: Any, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", value)
    for verbose in ([], ["--verbose"]):
        result, requests = catch_all(run, *verbose, "workflow", "list", "-s", SUB)
        assert (result.code, result.out, requests) == (2, "", [])
        assert result.err == (
            f"error: RELAY_API_KEY: expected an API token of printable ASCII characters, got a value with {problem} (not shown)\n"
            "hint: set it to the token alone, with no quotes, spaces or line breaks around it\n"
        )
        assert MARK not in result.err


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Key": f"{MARK}\n"}, "the value of header X-Key has spaces or a line break at its start or end; it is not shown"),
        ({"X-Key": f" {MARK}"}, "the value of header X-Key has spaces or a line break at its start or end; it is not shown"),
        ({"X-Key": f"a\r\nX-Injected: {MARK}"}, "the value of header X-Key has a control character (a line break, a tab, ...); it is not shown"),
        ({"X-Key": f"\u00e9{MARK}"}, "the value of header X-Key has a non-ASCII character; it is not shown"),
        ({"X-Ok": "1", f"X {MARK}": "v"}, "expected a JSON object of header names to values; header name number 2 is not a valid "
                                          "header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
        ({f"{MARK}:": "v"}, "expected a JSON object of header names to values; header name number 1 is not a valid header "
                            "name (letters, digits and !#$%&'*+-.^_`|~ only)"),
        ({"": "v"}, "expected a JSON object of header names to values; header name number 1 is not a valid header name "
                    "(letters, digits and !#$%&'*+-.^_`|~ only)"),
    ],
)  # fmt: skip
def test_bad_header_values_and_names_are_refused_unshown(
    run: Any, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("RELAY_HEADERS", json.dumps(headers))
    result, requests = catch_all(run, "--verbose", "workflow", "list", "-s", SUB)
    assert (result.code, result.out, requests) == (2, "", [])
    assert result.err.splitlines()[0] == f"error: RELAY_HEADERS: {message}"
    assert MARK not in result.err


@pytest.mark.parametrize(
    ("value", "problem"),
    [(f"Bearer {MARK}", "a space"), (f"Bear\n{MARK}", "a control character (a line break, a tab, ...)"),
     (f"B\u00e9{MARK}", "a non-ASCII character"), (f"Be:{MARK}", "a character not allowed in a word")],
)  # fmt: skip
def test_a_bad_auth_method_is_refused_unshown(
    run: Any, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("RELAY_AUTH_METHOD", value)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert (result.code, result.out, requests) == (2, "", [])
    assert (
        result.err
        == f"error: RELAY_AUTH_METHOD: expected one word such as Bearer, got a value with {problem} (not shown)\n"
    )


def test_a_damaged_stored_token_is_exit_4_unsent_and_unshown(
    run: Any, monkeypatch: pytest.MonkeyPatch, isolated_env: Any
) -> None:
    from relay_cli.auth.tokens import TokenStore

    monkeypatch.delenv("RELAY_API_KEY")
    monkeypatch.setenv("RELAY_ENV", "pro")
    TokenStore(isolated_env).save("default", API, {"access_token": f"{MARK}\n", "refresh_token": "r"})
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert (result.code, result.out, requests) == (4, "", [])
    assert result.err == (
        "error: the stored login of profile 'default' cannot be used: its access token has spaces or a line break at its "
        "start or end (not shown)\nhint: run `relay login` again, or set RELAY_API_KEY\n"
    )


def test_a_refreshed_token_that_cannot_be_sent_is_refused_unshown() -> None:
    from relay_cli.api.client import RelayClient
    from relay_cli.errors import AuthError

    with (
        respx.mock(base_url=API) as mock,
        RelayClient(API, token="old-token", user_agent="t", on_unauthorized=lambda: f"{MARK}\r\n") as client,
    ):
        route = mock.get("/ibot/workflow").mock(return_value=httpx.Response(401))
        with pytest.raises(AuthError) as caught:
            client.list_workflows(SUB)
    assert route.call_count == 1
    assert MARK not in caught.value.message
    assert caught.value.message == (
        f"the token for {API} cannot be sent: it has spaces or a line break at its start or end (not shown)"
    )


@pytest.mark.parametrize(
    "host", ["https://user:S3cretMark@example.com", "user:S3cretMark@example.com", "https://S3cretMark@example.com/x",
             "http://u:S3cretMark@[::1", "https://u:S3cretMark@example.com:notaport"],
)  # fmt: skip
def test_a_host_with_credentials_is_refused_unshown(run: Any, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("RELAY_HOST", host)
    for argv in (["workflow", "list", "-s", SUB], ["profile", "show"], ["env"]):
        result, requests = catch_all(run, *argv)
        assert (result.code, result.out, requests) == (2, "", [])
        assert result.err == (
            "error: RELAY_HOST: expected a host name or a base URL without a user name or password (user:password@host); "
            "the value is not shown, since it holds a credential\n"
            "hint: give the API token in RELAY_API_KEY, or log in with `relay login`\n"
        )


@pytest.mark.parametrize(
    "host", ["http://[::1", "http://[::1:8080/", "https://[zz]", "https://exa mple.com", "https://h\n.com"]
)
def test_a_malformed_host_is_exit_2_naming_relay_host(run: Any, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("RELAY_HOST", host)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert (result.code, result.out, requests) == (2, "", [])
    assert result.err.startswith("error: RELAY_HOST: expected a host name or a base URL")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["profile", "add", "p", "--host", "http://[::1"], ["profile", "set", "host", "http://[::1"],
                                  ["profile", "add", "p", "--host", "https://u:S3cretMark@h"]])  # fmt: skip
def test_a_malformed_host_in_a_profile_is_exit_2(run: Any, argv: list[str]) -> None:
    result, requests = catch_all(run, *argv)
    assert (result.code, result.out, requests) == (2, "", [])
    assert result.err.startswith("error: host: expected a host name or a base URL")
    assert MARK not in result.err


def test_a_server_message_that_quotes_the_token_is_masked(run: Any) -> None:
    answer = httpx.Response(400, json={"error": "bad", "message": f"token {TOKEN} is not for this account"})
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.get("/ibot/workflow").mock(return_value=answer)
        result = run("workflow", "list", "-s", SUB)
    assert result.code == 1
    assert (
        result.err
        == "error: the Relay API refused GET /ibot/workflow: token *** is not for this account (bad) (HTTP 400)\n"
    )


# --- redirects ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_naming_where_and_is_never_followed(run: Any, status: int) -> None:
    location = f"https://login.example.net/sso?next=/ibot&access_token={TOKEN}"
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        elsewhere = mock.route(host="login.example.net").mock(return_value=httpx.Response(200, json={"results": []}))
        route = mock.get(f"{API}/ibot/workflow").mock(
            return_value=httpx.Response(status, headers={"Location": location})
        )
        result = run("workflow", "list", "-s", SUB)
        assert (route.call_count, elsewhere.call_count) == (1, 0)
    no_secrets(result)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"error: {HOST} answered GET /ibot/workflow with HTTP {status}, a redirect to "
        "https://login.example.net/sso?next=/ibot&access_token=***, which relay does not follow: is a proxy or a login "
        "page in the way?\n"
    )


# --- every answer is checked against the shape its method needs -------------------------------------------------

W = {"workflow_id": "wf-1", "name": "w"}
#: a workflow whole, as install, uninstall and args set/unset send it back
WHOLE = {**W, "config": {"trigger": {"start": {"workflow": {"uri": "wss://h/w", "args": {}}}, "on_http": "POST"}}}
OTHER = {"workflow_id": "wf-9", "name": "other"}
#: method call → (HTTP method, path, a good answer and what the method returns from it, bad answers and the problem)
SHAPES: list[tuple[str, Any, str, str, Any, Any, list[tuple[Any, str]]]] = [
    ("list_workflows", lambda c: c.list_workflows(SUB), "GET", "/ibot/workflow", {"results": [W]}, [W],
     [(None, 'expected {"results": [workflow, ...]}, but the answer is null, not an object'),
      ([W], 'expected {"results": [workflow, ...]}, but the answer is a list, not an object'),
      ({"results": 5}, 'expected {"results": [workflow, ...]}, but results is a number, not a list'),
      ({"results": [W, "a"]}, 'expected {"results": [workflow, ...]}, but results[1] is a string, not an object'),
      ({"results": [{"workflow_id": ""}]}, 'expected {"results": [workflow, ...]}, but results[0].workflow_id is an empty string'),
      ({"results": [{"workflow_id": 7}]}, 'expected {"results": [workflow, ...]}, but results[0].workflow_id is a number, not a string'),
      ({"results": [{**W, "config": "{not json"}]}, 'expected {"results": [workflow, ...]}, but results[0].config is a string that is not JSON'),
      ({"results": [{**W, "config": "[1]"}]}, 'expected {"results": [workflow, ...]}, but results[0].config is a string holding a list, not an object'),
      ({}, 'expected {"results": [workflow, ...]}, but results is missing')]),
    ("list_workflows, config as text", lambda c: c.list_workflows(SUB), "GET", "/ibot/workflow",
     {"results": [{**W, "config": '{"trigger": {"on_http": "POST"}}'}]}, [{**W, "config": {"trigger": {"on_http": "POST"}}}],
     [({"results": [W, {**W, "config": 5}]}, 'expected {"results": [workflow, ...]}, but results[1].config is a number, not an object or a string')]),
    # where a workflow is installed is read by list, export and check and sent back by install and uninstall: a
    # string read as a list would be one device per character
    ("list_workflows, installs", lambda c: c.list_workflows(SUB), "GET", "/ibot/workflow",
     {"results": [{**W, "install": ["d1"], "install_rule": None}, {**W, "install": None, "install_rule": "urn:x"}]},
     [{**W, "install": ["d1"], "install_rule": None}, {**W, "install": None, "install_rule": "urn:x"}],
     [({"results": [{**W, "install": "d1"}]}, 'expected {"results": [workflow, ...]}, but results[0].install is a string, not a list'),
      ({"results": [{**W, "install": [1]}]}, 'expected {"results": [workflow, ...]}, but results[0].install[0] is a number, not a string'),
      ({"results": [{**W, "install_rule": 5}]},
       'expected {"results": [workflow, ...]}, but results[0].install_rule is a number, not a string or null')]),
    # a workflow changed and sent back whole must have come whole: else its trigger or args would be lost
    ("list_workflows, editing", lambda c: c.list_workflows(SUB, editing="w"), "GET", "/ibot/workflow",
     {"results": [WHOLE, OTHER]}, [WHOLE, OTHER],  # only the workflows "w" may name are checked
     [({"results": [W]}, 'expected {"results": [workflow, ...]}, but results[0].config is missing'),
      ({"results": [{**W, "config": {"trigger": "x"}}]},
       'expected {"results": [workflow, ...]}, but results[0].config.trigger is a string, not an object'),
      ({"results": [WHOLE, {**W, "workflow_id": "wf-2", "config": '{"trigger": {}}'}]},
       'expected {"results": [workflow, ...]}, but results[1].config.trigger.start is missing'),
      ({"results": [{**WHOLE, "config": {"trigger": {"start": {"workflow": {"uri": "wss://h/x", "args": [1]}}}}}]},
       'expected {"results": [workflow, ...]}, but results[0].config.trigger.start.workflow.args is a list, not an object')]),
    ("save_workflow", lambda c: c.save_workflow(SUB, {"name": "w", "workflow_id": "wf-1"}), "POST", "/ibot/workflow", [W], [W],
     [([], "expected [workflow, ...] (at least one), but the answer is an empty list"),
      ({"results": [W]}, "expected [workflow, ...] (at least one), but the answer is an object, not a list"),
      ([{"name": "w"}], "expected [workflow, ...] (at least one), but [0].workflow_id is missing"),
      ([{**W, "config": "null"}], "expected [workflow, ...] (at least one), but [0].config is a string holding null, not an object")]),
    ("device_ids", lambda c: c.device_ids(SUB), "GET", f"/ibot/subscriber/{SUB}/device_ids", {"devices": ["d1"]}, ["d1"],
     [({"devices": [1]}, 'expected {"devices": [string, ...]}, but devices[0] is a number, not a string'),
      (["d1"], 'expected {"devices": [string, ...]}, but the answer is a list, not an object')]),
    ("groups", lambda c: c.groups(SUB), "GET", "/ibot/groups", [{"group_id": "g"}], [{"group_id": "g"}],
     [({"results": []}, "expected [object, ...], but the answer is an object, not a list")]),
    ("authz_context", lambda c: c.authz_context(), "GET", "/ibot/authz_context", [{"subscriber_id": SUB}], [{"subscriber_id": SUB}],
     [({"subscriber_id": SUB}, "expected [object, ...], but the answer is an object, not a list")]),
    ("subscriber_info", lambda c: c.subscriber_info(SUB), "GET", f"/ibot/subscriber_info/{SUB}", {"capabilities": {}}, {"capabilities": {}},
     [([], "expected object, but the answer is a list, not an object")]),
    ("workflow_instances", lambda c: c.workflow_instances(SUB), "GET", "/ibot/workflow_instances",
     [{"instance_id": "i1", "workflow_id": "wf-1"}], [{"instance_id": "i1", "workflow_id": "wf-1"}],
     [({"results": []}, "expected [instance, ...], but the answer is an object, not a list"),
      # `instance stop` sends the id back in a DELETE: /ibot/workflow_instances/None or / must never be sent
      ([{"workflow_id": "wf-1"}], "expected [instance, ...], but [0].instance_id is missing"),
      ([{"instance_id": None}], "expected [instance, ...], but [0].instance_id is null, not a string"),
      ([{"instance_id": ""}], "expected [instance, ...], but [0].instance_id is an empty string")]),
    ("analytics_events", lambda c: c.analytics_events(SUB), "GET", "/ibot/workflow_analytics_events",
     {"data": [], "cursor": None}, {"data": [], "cursor": None},
     [([], 'expected {"data": [object, ...]}, but the answer is a list, not an object'),
      ({"data": [], "cursor": {}}, 'expected {"data": [object, ...]}, but cursor is an object, not a string or a number or null')]),
    ("geofences", lambda c: c.geofences(SUB), "GET", "/ibot/geofence", {"results": [{"geofence_id": "g"}]}, [{"geofence_id": "g"}],
     [([{"geofence_id": "g"}], 'expected {"results": [object, ...]}, but the answer is a list, not an object')]),
    ("custom_audio", lambda c: c.custom_audio(SUB), "GET", "/ibot/custom_audio", [{"id": "a"}], [{"id": "a"}],
     [({"results": []}, "expected [object, ...], but the answer is an object, not a list")]),
    ("nfc_tag", lambda c: c.nfc_tag(SUB, "t1"), "GET", "/ibot/relay_nfc_tag/t1", {"tag_id": "t1"}, {"tag_id": "t1"},
     [(None, "expected tag, but the answer is null, not an object"),
      # `tag update` and `tag delete` write once this lookup found a tag: an object that is not one finds none
      ({"results": 5}, "expected tag, but tag_id is missing"),
      ({"tag_id": 5}, "expected tag, but tag_id is a number, not a string")]),
]  # fmt: skip


def _client(**kw: Any) -> Any:
    from relay_cli.api.client import RelayClient

    return RelayClient(API, token=TOKEN, user_agent="t", **kw)


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "good", "returned", "bad"), SHAPES, ids=[s[0] for s in SHAPES]
)
def test_each_method_checks_the_shape_of_its_answer(name: str, call: Any, method: str, path: str, good: Any, returned: Any,
                                                     bad: list[tuple[Any, str]]) -> None:  # fmt: skip
    from relay_cli.errors import ApiError

    with respx.mock(base_url=API, assert_all_mocked=True) as mock, _client() as client:
        route = mock.route(method=method, path=path)
        route.mock(return_value=httpx.Response(200, json=good))
        assert call(client) == returned
        for answer, problem in bad:
            route.mock(return_value=httpx.Response(200, content=json.dumps(answer).encode()))
            with pytest.raises(ApiError) as caught:
                call(client)
            note = " (tried once; it may have been carried out: check before doing it again)" if method != "GET" else ""
            assert (
                caught.value.message
                == f"{API} answered {method} {path} with JSON of an unexpected shape: {problem}{note}"
            )
            assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        (
            httpx.Response(200, text="<!doctype html><title>Sign in</title>", headers={"Content-Type": "text/html"}),
            "text/html",
        ),
        (httpx.Response(200, text="<r/>", headers={"Content-Type": "application/xml"}), "application/xml"),
        (
            httpx.Response(200, content=b'{"results": [', headers={"Content-Type": "application/json"}),
            "a body that is not valid JSON (application/json, 13 bytes)",
        ),
        (
            httpx.Response(200, content=b"\xff\xfe\x00garbage"),
            "a body that is not valid JSON (no content type, 10 bytes)",
        ),
        (httpx.Response(200, content=b"[" * 100_000), "a body that is not valid JSON (no content type, 100000 bytes)"),
        (httpx.Response(200), "an empty body"),
        (httpx.Response(204), "an empty body"),
        (httpx.Response(200, content=b" \n "), "an empty body"),
    ],
)
def test_an_answer_that_is_not_json_is_an_error(answer: httpx.Response, found: str) -> None:
    from relay_cli.errors import ApiError

    with respx.mock(base_url=API) as mock, _client(host_question="is RELAY_HOST right?") as client:
        mock.get("/ibot/workflow").mock(return_value=answer)
        with pytest.raises(ApiError) as caught:
            client.list_workflows(SUB)
    assert caught.value.message == (
        f"{API} answered GET /ibot/workflow with HTTP {answer.status_code} and {found}, not the API's JSON: is RELAY_HOST right?"
    )


def test_json_under_another_content_type_is_read_by_its_body() -> None:
    """The reference CLI parses some answers (groups) itself: the server may label JSON otherwise."""
    with respx.mock(base_url=API) as mock, _client() as client:
        mock.get("/ibot/groups").mock(
            return_value=httpx.Response(200, text='[{"group_id": "g"}]', headers={"Content-Type": "text/plain"})
        )
        assert client.groups(SUB) == [{"group_id": "g"}]


@pytest.mark.parametrize("call", [lambda c: c.delete_workflow(SUB, "wf-1"), lambda c: c.stop_instance(SUB, "i-1"),
                                  lambda c: c.trigger_workflow(SUB, "wf-1", "u1", {}), lambda c: c.update_nfc_tag(SUB, "t1", {}),
                                  lambda c: c.delete_geofence(SUB, "g1")],
                         ids=["delete", "stop", "trigger", "tag update", "geofence delete"])  # fmt: skip
def test_endpoints_documented_to_answer_nothing_accept_an_empty_body_but_not_a_page(call: Any) -> None:
    from relay_cli.errors import ApiError

    with respx.mock(base_url=API) as mock, _client() as client:
        route = mock.route()
        for empty in (
            httpx.Response(204),
            httpx.Response(200),
            httpx.Response(200, json={}),
            httpx.Response(200, json={"ok": True}),
        ):
            route.mock(return_value=empty)
            assert call(client) is None
        route.mock(return_value=httpx.Response(200, text="<html>portal</html>", headers={"Content-Type": "text/html"}))
        with pytest.raises(ApiError) as caught:
            call(client)
        route.mock(return_value=httpx.Response(200, text="OK, done"))
        with pytest.raises(ApiError) as not_json:
            call(client)
    assert (
        "with HTTP 200 and text/html, not the API's JSON (tried once; it may have been carried out"
        in caught.value.message
    )
    assert "with HTTP 200 and a body that is not valid JSON (text/plain, 8 bytes)" in not_json.value.message


# --- the retry budget (a simulated clock) ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("timeout", "attempts", "sleeps"), [(30, 4, [0.5, 1.0, 2.0]), (1, 2, [0.5]), (2, 3, [0.5, 1.0])]
)
def test_retries_stop_at_the_budget_of_twice_the_deadline(
    monkeypatch: pytest.MonkeyPatch, timeout: float, attempts: int, sleeps: list[float]
) -> None:
    from relay_cli.api import client as client_module
    from relay_cli.errors import ApiError

    monkeypatch.setattr(client_module.random, "uniform", lambda a, b: b)
    clock = Clock()
    with respx.mock(base_url=API) as mock, _client(timeout=timeout, clock=clock, sleep=clock.sleep) as client:
        route = mock.get("/ibot/workflow").mock(return_value=httpx.Response(503))
        with pytest.raises(ApiError) as caught:
            client.list_workflows(SUB)
    assert route.call_count == attempts
    assert clock.sleeps == sleeps
    assert caught.value.message.endswith(f"(HTTP 503) (tried {attempts} times)")


def test_a_retry_after_past_the_budget_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from relay_cli.errors import ApiError

    clock = Clock()
    with respx.mock(base_url=API) as mock, _client(clock=clock, sleep=clock.sleep) as client:
        route = mock.get("/ibot/workflow").mock(return_value=httpx.Response(429, headers={"Retry-After": "40"}))
        with pytest.raises(ApiError) as caught:
            client.list_workflows(SUB)
    assert route.call_count == 2 and clock.sleeps == [40.0]  # 40 s fit in 60 s once, not twice
    assert caught.value.message == (
        "the Relay API refused GET /ibot/workflow: Too Many Requests (HTTP 429) (the server asks to retry after 40 s) "
        "(tried 2 times)"
    )


# --- one request path: the log stream refreshes a login like any request ------------------------------------------


def test_the_log_stream_refreshes_a_login_once_like_any_request() -> None:
    from relay_cli.errors import ApiAuthError

    refreshed: list[str] = []

    def refresh() -> str:
        refreshed.append("again")
        return "fresh-token"

    with respx.mock(base_url=API) as mock, _client(on_unauthorized=refresh) as client:
        route = mock.get("/ibot/workflowdebug").mock(
            side_effect=[httpx.Response(401), httpx.Response(200, content=b'{"message": "m"}\nnot json\n')]
        )
        assert list(client.workflow_logs(SUB, workflow_id="wf-1")) == [{"message": "m"}, {"message": "not json"}]
        assert [c.request.headers["Authorization"] for c in route.calls] == [f"Bearer {TOKEN}", "Bearer fresh-token"]
        assert dict(route.calls.last.request.url.params) == {"subscriber_id": SUB, "workflow_id": "wf-1"}
        route.mock(return_value=httpx.Response(401))
        with pytest.raises(ApiAuthError):  # a second 401 stands: the refresh is made once per request
            list(client.workflow_logs(SUB))
    assert refreshed == ["again", "again"]


def test_an_upload_never_refreshes_nor_follows_a_redirect(tmp_path: Any) -> None:
    from relay_cli.errors import ApiError

    path = tmp_path / "a.wav"
    path.write_bytes(b"x" * 10)
    signed = "https://bucket.s3.amazonaws.com/a.wav?X-Amz-Signature=sig"
    with respx.mock(assert_all_mocked=True) as mock, _client(on_unauthorized=lambda: "never") as client:
        moved = mock.put("https://bucket.s3.amazonaws.com/a.wav").mock(
            return_value=httpx.Response(
                307, headers={"Location": "https://other.example.com/a.wav?X-Amz-Signature=sig"}
            )
        )
        with pytest.raises(ApiError) as caught:
            client.upload_presigned(signed, str(path), 10)
        assert moved.call_count == 1
        assert "authorization" not in moved.calls.last.request.headers
    assert caught.value.message == (
        "uploading the file failed: https://bucket.s3.amazonaws.com answered PUT /a.wav with HTTP 307, a redirect to "
        "https://other.example.com/a.wav?X-Amz-Signature=***, which relay does not follow (tried once)"
    )


def test_the_shared_tls_context_verifies_and_honours_ssl_cert_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import ssl
    from pathlib import Path

    import certifi

    from relay_cli.api.deadline import tls_context

    assert tls_context() is tls_context()
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    own = tls_context()
    monkeypatch.delenv("SSL_CERT_FILE")
    assert own is not tls_context()


def test_attempts_are_counted_as_sent_a_refresh_included() -> None:
    from relay_cli.errors import ApiError

    with respx.mock(base_url=API) as mock, _client(on_unauthorized=lambda: "fresh", sleep=lambda s: None) as client:
        route = mock.get("/ibot/workflow").mock(side_effect=[httpx.Response(401)] + [httpx.Response(503)] * 9)
        with pytest.raises(ApiError) as caught:
            client.list_workflows(SUB)
    assert route.call_count == 5  # the refused one, then the four attempts a request gets
    assert (
        caught.value.message
        == "the Relay API refused GET /ibot/workflow: Service Unavailable (HTTP 503) (tried 5 times)"
    )


@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_profile_list_never_shows_a_password_written_into_the_file(run: Any, isolated_env: Any, fmt: list[str]) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text('[profiles.default]\nhost = "https://user:S3cretMark@example.com"\n')
    result, requests = catch_all(run, "profile", "list", *fmt)
    assert (result.code, requests) == (0, [])
    assert MARK not in result.out + result.err
    assert "https://***@example.com" in result.out
