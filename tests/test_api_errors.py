"""HTTP errors, transport failures, credentials and the RELAY_* connection variables, seen through
``relay workflow list -s SUB`` (and a create for a 400)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from relay_cli import __version__

from conftest import API, SUB, TOKEN

HOST = "all-main-pro-ibot.relaysvr.com"
AUTH_HINT = "hint: run `relay login`, or set RELAY_API_KEY to a valid token\n"
NET_HINT = "hint: check RELAY_HOST / the profile's host and your network\n"
CREATE = ["workflow", "create", "call", "--trigger", "inbound", "--name", "x", "--uri", "wss://h/p", "-i", "990007560045678", "-s", SUB]


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
        route = mock.post("/ibot/workflow").mock(return_value=httpx.Response(400, json={"error": "invalid_install_user_id"}))
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
    assert result.err == "error: the Relay API refused POST /ibot/workflow: no such user d1 (invalid_install_user_id) (HTTP 400)\n"


# --- transport failures -----------------------------------------------------------------------------


def test_connection_refused(run: Any) -> None:
    result, _ = listing_with(run, httpx.ConnectError("[Errno 111] Connection refused"), attempts=4)
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"error: could not reach {HOST}: connection refused (tried 4 times)\n" + NET_HINT
    assert len([line for line in result.err.splitlines() if line.startswith("error:")]) == 1
    assert result.err.count(HOST) == 1


def test_name_not_resolved(run: Any) -> None:
    result, _ = listing_with(run, httpx.ConnectError("[Errno -2] Name or service not known"), attempts=4)
    assert result.code == 1
    assert result.err == f"error: could not reach {HOST}: host name not found (tried 4 times)\n" + NET_HINT


@pytest.mark.parametrize("exc", [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("read timed out")], ids=["connect", "read"])
def test_timeout(run: Any, exc: Exception) -> None:
    result, _ = listing_with(run, exc, attempts=4)
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"error: could not reach {HOST}: timed out (tried 4 times)\n" + NET_HINT


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
    "host", ["http://example.com", "ftp://example.com", "https://", "https://example.com/?x=1", "http://127.0.0.1:notaport"]
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
    assert [str(r.url) for r in requests] == [f"https://all-main-qa-ibot.relaysvr.com/ibot/workflow?subscriber_id={SUB}"]


def test_relay_env_pro_explicit(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ENV", "pro")
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert [str(r.url) for r in requests] == [f"{API}/ibot/workflow?subscriber_id={SUB}"]


@pytest.mark.parametrize("env", ["prod", "QA", "dev"])
def test_unknown_relay_env_is_refused(run: Any, monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("RELAY_ENV", env)
    result, requests = catch_all(run, "workflow", "list", "-s", SUB)
    assert result.code == 2
    assert requests == []
    assert result.out == ""
    assert result.err == f"error: RELAY_ENV: expected one of pro, qa, got {env!r}\n"


def test_connection_refused_names_the_configured_host(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_HOST", "http://127.0.0.1:9999")
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
        result = run("workflow", "list", "-s", SUB)
    no_secrets(result)
    assert result.code == 1
    assert result.err == "error: could not reach 127.0.0.1: connection refused (tried 4 times)\n" + NET_HINT


def test_error_output_is_not_json_even_with_json_flag(run: Any) -> None:
    """Errors go to stderr; stdout stays empty so a pipe into a JSON parser sees nothing half-written."""
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(500, json={"message": "it broke"}))
        result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == 1
    assert result.out == ""
    assert result.err == "error: the Relay API refused GET /ibot/workflow: it broke (HTTP 500)\n"
