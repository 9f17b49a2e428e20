"""Login (PKCE against a test OpenID provider on loopback), token storage, refresh on 401, and the account commands."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import stat
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import keyring
import pytest
import respx
from keyring.backend import KeyringBackend

from conftest import API, SUB, free_port

SECRET = "SECRET-abc123-TOKEN"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    return f"{b64({'alg': 'none'})}.{b64(claims)}.sig"


ID_TOKEN = jwt(
    {"preferred_username": "uuid-1", "email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace"}
)


class Provider:
    """A small OpenID provider: /auth redirects with code+state, /token checks the PKCE verifier."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[str, str]] = {}
        self.grants: list[dict[str, str]] = []
        self.logouts: list[dict[str, str]] = []
        self.access = SECRET
        self.refresh = "SECRET-refresh-1"
        self.refreshed_access = "fresh-access-2"
        #: answer POSTs (token, logout) one byte every 50 ms, for at most 6 s: a read never waits long
        self.trickle = False
        self.stop = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                assert parts.path.endswith("/protocol/openid-connect/auth")
                assert q["response_type"] == "code" and q["code_challenge_method"] == "S256"
                assert q["scope"] == "openid profile offline_access"
                code = f"code-{len(provider.codes)}"
                provider.codes[code] = q
                target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                self._send(302, {}, {"Location": target})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if provider.trickle:
                    provider.grants.append(form)
                    self.wfile.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    )
                    for _ in range(120):
                        if provider.stop.wait(0.05):
                            return
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    return
                if self.path.endswith("/logout"):
                    provider.logouts.append(form)
                    self._send(204, {})
                    return
                provider.grants.append(form)
                if form["grant_type"] == "authorization_code":
                    asked = provider.codes.pop(form["code"], None)
                    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
                    ok = asked and base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == asked["code_challenge"]
                    if (
                        not ok
                        or asked["redirect_uri"] != form["redirect_uri"]
                        or asked["client_id"] != form["client_id"]
                    ):
                        self._send(400, {"error": "invalid_grant"})
                        return
                    refresh = provider.refresh if form["client_id"] == "test-cli" else "SDK-REFRESH-9"
                    self._send(200, {"access_token": provider.access, "refresh_token": refresh, "id_token": ID_TOKEN})
                elif form["grant_type"] == "refresh_token" and form["refresh_token"] == provider.refresh:
                    self._send(200, {"access_token": provider.refreshed_access, "refresh_token": "SECRET-refresh-2"})
                else:
                    self._send(400, {"error": "invalid_grant"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/Test"
        # shutdown() returns once serve_forever next looks: every 50 ms, not the default half second
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.data.pop((service, username), None)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Any:
    p = Provider()
    monkeypatch.delenv("RELAY_API_KEY")
    monkeypatch.setenv("RELAY_AUTH_ISSUER", p.issuer)
    monkeypatch.setenv("RELAY_AUTH_CLIENT_ID", "test-cli")
    monkeypatch.setenv("RELAY_AUTH_SDK_CLIENT_ID", "test-sdk")
    monkeypatch.setenv("RELAY_AUTH_REDIRECT_URI", f"http://127.0.0.1:{free_port()}/authorization-code/callback")
    monkeypatch.setattr("relay_cli.auth.oauth.LOGIN_TIMEOUT", 5.0)
    yield p
    p.close()


def _browse(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except Exception:  # noqa: BLE001 - a stand-in browser: the test reads the listener's side
        pass


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """In place of a browser: a thread GETs the URL (following the redirect to our listener)."""
    opened: list[str] = []

    def fake_open(url: str) -> bool:
        opened.append(url)
        threading.Thread(target=_browse, args=(url,), daemon=True).start()
        return True

    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", fake_open)
    return opened


@pytest.fixture
def memory_keyring() -> Any:
    previous = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(previous)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.get("/ibot/authz_context").mock(
            return_value=httpx.Response(200, json=[{"subscriber_id": SUB, "name": "Acme"}])
        )
        mock.get(f"/ibot/subscriber_info/{SUB}").mock(
            return_value=httpx.Response(
                200, json={"capabilities": {"workflow_sdk": True, "calling": False, "other": True}}
            )
        )
        yield mock


def config_text(config: Any) -> str:
    return "".join(p.read_text() for p in config.glob("*.toml"))


def test_pkce_login_end_to_end_then_refresh_on_401(
    run: Any, provider: Any, browser: Any, memory_keyring: Any, api: Any, isolated_env: Any
) -> None:
    result = run("login")
    assert result.code == 0, result.err
    assert browser and browser[0].startswith(provider.issuer + "/protocol/openid-connect/auth?")
    assert "ada@example.com" in result.err
    # a fresh machine: the sandbox was the target until now, and the change is announced
    assert result.err.splitlines()[-2] == (
        f"note: commands now go to Relay production ({API}) as profile 'default' (before: the local sandbox); "
        "`relay profile use local` returns to the sandbox"
    )
    stored = json.loads(memory_keyring.data[("relay-cli", f"default@{API}")])
    assert stored["access_token"] == SECRET and stored["refresh_token"] == "SECRET-refresh-1"
    text = config_text(isolated_env)
    assert SECRET not in text and "refresh" not in text
    assert f'subscriber_id = "{SUB}"' in text and 'current_profile = "default"' in text
    assert not (isolated_env / "credentials.json").exists()
    assert api.routes[1].calls.last.request.headers["Authorization"] == f"Bearer {SECRET}"

    # the API answers 401 once: one refresh, the request sent again with the new token
    seen: list[str] = []

    def devices(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if len(seen) == 1 else 200, json={"devices": ["d1"]})

    api.get(f"/ibot/subscriber/{SUB}/device_ids").mock(side_effect=devices)
    result = run("devices", "--json")
    assert result.code == 0, result.err
    assert result.json() == ["d1"]
    assert seen == [f"Bearer {SECRET}", "Bearer fresh-access-2"]
    assert [g["grant_type"] for g in provider.grants] == ["authorization_code", "refresh_token"]
    stored = json.loads(memory_keyring.data[("relay-cli", f"default@{API}")])
    assert stored["access_token"] == "fresh-access-2" and stored["id_token"] == ID_TOKEN

    # whoami reads the id token's claims
    result = run("whoami", "--json")
    assert result.code == 0, result.err
    assert result.json() == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "user_id": "uuid-1",
        "default_account": SUB,
        "capabilities": {"workflow_sdk": True, "calling": False},
    }

    # a second 401 after the refresh: exit 4 with the hint
    api.get(f"/ibot/subscriber/{SUB}/device_ids").mock(return_value=httpx.Response(401, json={"error": "unauthorized"}))
    result = run("devices")
    assert result.code == 4
    assert "relay login" in result.err

    # logout: ends the session at the issuer, forgets the tokens
    result = run("logout")
    assert result.code == 0, result.err
    assert provider.logouts and provider.logouts[0]["client_id"] == "test-cli"
    assert memory_keyring.data == {}
    assert run("devices").code == 4


def test_an_issuer_that_trickles_holds_a_refresh_and_a_logout_for_the_deadline_only(
    run: Any, provider: Any, browser: Any, memory_keyring: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    assert run("login").code == 0
    provider.trickle = True
    monkeypatch.setenv("RELAY_TIMEOUT", "0.5")
    api.get(f"/ibot/subscriber/{SUB}/device_ids").mock(return_value=httpx.Response(401, json={"error": "unauthorized"}))
    started = time.monotonic()
    result = run("devices")
    took = time.monotonic() - started
    assert result.code == 4, result.err  # the refresh failed in time: the 401 stands
    assert "relay login" in result.err
    assert [g["grant_type"] for g in provider.grants][-1] == "refresh_token"
    assert took < 3, took  # the issuer would trickle for 6 s
    started = time.monotonic()
    result = run("logout")
    took = time.monotonic() - started
    assert result.code == 0, result.err
    assert memory_keyring.data == {}
    assert took < 3, took


def test_file_fallback_without_keyring(run: Any, provider: Any, browser: Any, api: Any, isolated_env: Any) -> None:
    result = run("login")
    assert result.code == 0, result.err
    path = isolated_env / "credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert result.err.count("no usable keyring") == 1 and str(path) in result.err
    assert json.loads(path.read_text())[f"default@{API}"]["access_token"] == SECRET
    assert SECRET not in config_text(isolated_env)
    again = run("--verbose", "login")
    assert again.code == 0 and "no usable keyring" not in again.err  # said once
    assert "code_verifier=***" in again.err and "grant_type=authorization_code" in again.err
    assert SECRET not in again.err + again.out and "SECRET-refresh" not in again.err
    shown = run("profile", "show", "--json")
    assert shown.json()["token"]["source"] == f"credentials file {path}"
    assert run("logout").code == 0
    assert not path.exists()


def test_the_fallback_note_is_escaped(
    run: Any, provider: Any, browser: Any, api: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The note names the file; a directory name that would drive the terminal is shown escaped, as every line."""
    config = tmp_path / "conf\x1b[31m\u202e"
    monkeypatch.setenv("RELAY_CONFIG_DIR", str(config))
    result = run("login")
    assert result.code == 0, result.err
    [note] = [line for line in result.err.splitlines() if "no usable keyring" in line]
    assert note == (
        f"note: no usable keyring on this system; tokens are stored in {tmp_path}/conf\\x1b[31m\\u202e/credentials.json "
        "(readable only by you, mode 0600)"
    )
    assert (config / "credentials.json").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes and owners")
@pytest.mark.parametrize(
    ("mode", "owner", "problem", "fix"),
    [
        (0o644, None, "readable by others (mode 0644)", "make it yours alone (chmod 600 {path}), or remove it"),
        (0o640, None, "readable by others (mode 0640)", "make it yours alone (chmod 600 {path}), or remove it"),
        (0o666, None, "writable by others (mode 0666)", "remove it and log in again (its tokens may not be yours)"),
        (0o620, None, "writable by others (mode 0620)", "remove it and log in again (its tokens may not be yours)"),
        (0o600, 4242, "owned by another user (uid 4242)", "remove it (it is not yours) and log in again"),
    ],
)
def test_a_credentials_file_others_can_read_or_write_or_own_is_refused(
    run: Any, isolated_env: Any, monkeypatch: pytest.MonkeyPatch, mode: int, owner: int | None, problem: str, fix: str
) -> None:
    """As OpenSSH refuses a private key others can read: the tokens in it are not used (exit 2, nothing sent), and
    the file is left as it is."""
    monkeypatch.delenv("RELAY_API_KEY")
    isolated_env.mkdir(parents=True)
    path = isolated_env / "credentials.json"
    path.write_text(json.dumps({f"default@{API}": {"access_token": SECRET}}))
    path.chmod(mode)
    if owner is not None:
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(path, owner, -1)
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": []}))
        result = run("-P", "default", "workflow", "list", "-s", SUB)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: {path} is {problem}: it holds login tokens, so relay does not use it\nhint: {fix.format(path=path)}\n"
    )
    assert mock.calls.call_count == 0
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.stat().st_uid == (
        owner if owner is not None else os.getuid()
    )


def test_no_browser_prints_the_url(
    run: Any, provider: Any, memory_keyring: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    from relay_cli.output import Output

    def no_browser(url: str) -> bool:
        raise AssertionError("no browser with --no-browser")

    class Person(io.StringIO):
        """stderr as the person reads it: a line that is a URL is opened in the browser by hand."""

        captured = sys.stderr

        def write(self, text: str) -> int:
            self.captured.write(text)
            if text.startswith("http"):
                threading.Thread(target=_browse, args=(text.strip(),), daemon=True).start()
            return len(text)

    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", no_browser)
    result = run("login", "--no-browser", out=Output(stderr=Person()))
    assert result.code == 0, result.err
    assert "Open this URL in a browser" in result.err


def redirect_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["redirect_uri"][0]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_request_with_a_wrong_state_is_answered_400_and_the_login_goes_on(
    run: Any, provider: Any, memory_keyring: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any local process or web page can send the listener a request: one with another state (and a code, or an
    error) is answered 400 and ignored, and the browser's redirect that follows completes the login."""
    statuses: list[int] = []

    def forged_then_real(url: str) -> bool:
        def go() -> None:
            statuses.append(status_of(f"{redirect_of(url)}?code=forged&state=forged"))
            statuses.append(status_of(f"{redirect_of(url)}?error=access_denied&state=forged"))
            _browse(url)

        threading.Thread(target=go, daemon=True).start()
        return True

    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", forged_then_real)
    result = run("login")
    assert result.code == 0, result.err
    assert statuses == [400, 400]
    assert [g["code"] for g in provider.grants] != ["forged"] and len(provider.grants) == 1
    assert json.loads(memory_keyring.data[("relay-cli", f"default@{API}")])["access_token"] == SECRET


def test_requests_with_a_wrong_state_alone_end_in_the_timeout_not_sooner(
    run: Any, provider: Any, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay_cli.auth.oauth.LOGIN_TIMEOUT", 1.0)

    def forged(url: str) -> bool:
        threading.Thread(target=_browse, args=(f"{redirect_of(url)}?code=x&state=forged",), daemon=True).start()
        return True

    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", forged)
    began = time.monotonic()
    result = run("login")
    assert result.code == 4 and time.monotonic() - began >= 1.0
    assert (
        "error: timed out after 1 s waiting for the browser to finish the login (1 request with another login's state "
        "was ignored); nothing was stored\n"
    ) in result.err
    assert memory_keyring.data == {} and provider.grants == []


@pytest.fixture
def idle_connections() -> Any:
    """Connections a test opens to the listener and sends nothing on; closed after 4 s at the latest (so that a
    listener that waits on them cannot hold the test for ever), and at the end."""
    opened: list[socket.socket] = []
    closer = threading.Timer(4.0, lambda: [sock.close() for sock in opened])
    closer.start()
    yield opened
    closer.cancel()
    for sock in opened:
        sock.close()


def test_an_idle_connection_does_not_hold_login_past_its_limit(
    run: Any, provider: Any, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch, idle_connections: Any
) -> None:
    monkeypatch.setattr("relay_cli.auth.oauth.LOGIN_TIMEOUT", 1.0)

    def idle(url: str) -> bool:
        port = urlsplit(redirect_of(url)).port
        idle_connections.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        return False

    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", idle)
    began = time.monotonic()
    result = run("login")
    waited = time.monotonic() - began
    assert result.code == 4 and "timed out after 1 s" in result.err
    assert waited < 2.5, f"login ended after {waited:.1f} s"


def test_an_idle_connection_neither_keeps_the_redirect_out_nor_stays_open(
    run: Any, provider: Any, memory_keyring: Any, api: Any, monkeypatch: pytest.MonkeyPatch, idle_connections: Any
) -> None:
    """An idle connection first (a browser's preconnect, a port scan): the redirect after it completes the login at
    once, and the idle one is closed by the listener after its read timeout."""
    monkeypatch.setattr("relay_cli.auth.oauth.CONNECTION_TIMEOUT", 0.3)
    closed_after: list[float] = []

    def idle_then_real(url: str) -> bool:
        sock = socket.create_connection(("127.0.0.1", urlsplit(redirect_of(url)).port), timeout=5)
        idle_connections.append(sock)
        opened = time.monotonic()

        def watch() -> None:
            with contextlib.suppress(OSError):
                if sock.recv(1) == b"":
                    closed_after.append(time.monotonic() - opened)

        threading.Thread(target=watch, daemon=True).start()
        threading.Thread(target=_browse, args=(url,), daemon=True).start()
        return True

    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", idle_then_real)
    began = time.monotonic()
    result = run("login")
    assert result.code == 0, result.err
    assert time.monotonic() - began < 2.5
    deadline = time.monotonic() + 3
    while not closed_after and time.monotonic() < deadline:
        time.sleep(0.02)
    assert closed_after and closed_after[0] < 2.0, closed_after


def test_timeout(run: Any, provider: Any, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("relay_cli.auth.oauth.LOGIN_TIMEOUT", 1.0)
    monkeypatch.setattr("relay_cli.auth.oauth.open_browser", lambda url: False)
    result = run("login")
    assert result.code == 4
    assert "timed out" in result.err and memory_keyring.data == {}


def test_login_refusals(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("login")  # RELAY_API_KEY is set by conftest
    assert result.code == 2 and "RELAY_API_KEY" in result.err
    monkeypatch.delenv("RELAY_API_KEY")
    result = run("-P", "local", "login")
    assert result.code == 2 and "nothing to log in to" in result.err


def test_api_key_is_never_refreshed(run: Any, provider: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_API_KEY", SECRET)
    with respx.mock(base_url=API) as mock:
        mock.get("/ibot/groups").mock(return_value=httpx.Response(401))
        result = run("group", "list", "-s", SUB)
    assert result.code == 4
    assert "RELAY_API_KEY is invalid" in result.err
    assert provider.grants == []


def test_token_generate_prints_only_the_sdk_refresh_token(
    run: Any, provider: Any, browser: Any, memory_keyring: Any
) -> None:
    result = run("token", "generate")
    assert result.code == 0, result.err
    assert result.out == "SDK-REFRESH-9\n"
    assert "client_id=test-sdk" in browser[0]
    assert memory_keyring.data == {}  # an SDK token is not the CLI's login


def test_verbose_redacts(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_API_KEY", SECRET)
    with respx.mock(base_url=API) as mock:
        mock.get("/ibot/groups").mock(return_value=httpx.Response(200, json=[]))
        result = run("--verbose", "group", "list", "-s", SUB)
    assert result.code == 0
    assert f"> GET {API}/ibot/groups?subscriber_id={SUB}" in result.err
    assert "authorization: Bearer ***" in result.err
    assert "< 200 OK GET" in result.err
    assert SECRET not in result.err + result.out


def test_subscriber_and_env(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch, isolated_env: Any) -> None:
    assert run("subscriber", "get", "--json").json() == {
        "subscriber_id": SUB,
        "source": "server (your login's default account)",
    }
    assert run("subscriber", "list", "--json").json() == [{"subscriber_id": SUB, "name": "Acme"}]
    result = run("subscriber", "set", "ABC")
    assert result.code == 0, result.err
    assert run("subscriber", "get", "--json").json() == {"subscriber_id": "ABC", "source": "profile default"}
    assert run("subscriber", "set", " ").code == 2
    assert run("-P", "local", "subscriber", "set", "X").code == 2
    monkeypatch.setenv("RELAY_HEADERS", json.dumps({"X-Secret": SECRET}))
    monkeypatch.setenv("RELAY_API_KEY", SECRET)
    result = run("env", "--process", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["api"] == {"value": API, "source": "default"}
    assert data["token"]["source"] == "env RELAY_API_KEY"
    assert data["process"]["RELAY_API_KEY"] == "***" and data["process"]["RELAY_HEADERS"] == "***"
    assert SECRET not in result.out


# --- logout tells the truth -------------------------------------------------------------------------

ENTRY = f"default@{API}"
STORED = {"access_token": SECRET, "refresh_token": "SECRET-refresh-1", "issuer": "", "client_id": "test-cli"}
STILL_STORED_HINT = "hint: the login is still stored and still used: "


def stored_login(provider: Any) -> str:
    return json.dumps({**STORED, "issuer": provider.issuer})


class RefusingKeyring(MemoryKeyring):
    """A keyring that holds the login but refuses to delete it (a locked keychain, a denied access), and
    whose error repeats what it holds: the CLI must not pass that on."""

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        raise PasswordDeleteError(f"access denied to {self.data[(service, username)]}")


class ForgetfulKeyring(MemoryKeyring):
    """A keyring that accepts the delete and keeps the entry."""

    def delete_password(self, service: str, username: str) -> None:
        pass


@pytest.fixture
def use_keyring() -> Any:
    previous = keyring.get_keyring()

    def _use(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield _use
    keyring.set_keyring(previous)


def still_used(run: Any, api: Any) -> None:
    """The login left behind is still what commands send."""
    route = api.get(f"/ibot/subscriber/{SUB}/device_ids").mock(
        return_value=httpx.Response(200, json={"devices": ["d1"]})
    )
    assert run("-P", "default", "devices", "-s", SUB, "--json").code == 0
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {SECRET}"


def test_logout_deletes_the_keyring_entry_and_says_so(run: Any, provider: Any, use_keyring: Any, api: Any) -> None:
    kr = use_keyring(MemoryKeyring())
    kr.data[("relay-cli", ENTRY)] = stored_login(provider)
    result = run("logout")
    assert (result.code, result.out, result.err) == (0, "", f"Logged out of {API} (profile default).\n")
    assert kr.data == {} and len(provider.logouts) == 1
    again = run("logout")
    assert (again.code, again.err) == (0, f"Not logged in to {API} (profile default): nothing to do.\n")


def test_logout_when_the_keyring_refuses_to_delete_is_exit_1(
    run: Any, provider: Any, use_keyring: Any, api: Any
) -> None:
    kr = use_keyring(RefusingKeyring())
    kr.data[("relay-cli", ENTRY)] = stored_login(provider)
    result = run("logout")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"error: not logged out of {API} (profile default): the issuer ended the session, but the keyring refused to "
        f"delete entry '{ENTRY}' of service 'relay-cli' (PasswordDeleteError: access denied to ***)\n"
        f"{STILL_STORED_HINT}delete that entry with your system's keyring tool (or `keyring del relay-cli '{ENTRY}'` "
        "from the keyring package), then run `relay logout` again\n"
    )
    assert SECRET not in result.err and "SECRET-refresh" not in result.err
    assert ("relay-cli", ENTRY) in kr.data
    still_used(run, api)


def test_logout_when_the_keyring_keeps_the_entry_is_exit_1(run: Any, provider: Any, use_keyring: Any, api: Any) -> None:
    kr = use_keyring(ForgetfulKeyring())
    kr.data[("relay-cli", ENTRY)] = stored_login(provider)
    result = run("logout")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(
        f"error: not logged out of {API} (profile default): the issuer ended the session, but the keyring still holds "
        f"entry '{ENTRY}' of service 'relay-cli' after deleting it\n{STILL_STORED_HINT}"
    )
    still_used(run, api)


@pytest.mark.parametrize("others", [False, True], ids=["only-entry", "with-another-profile"])
def test_logout_when_the_credentials_file_cannot_be_rewritten_is_exit_1(
    run: Any, provider: Any, api: Any, isolated_env: Any, others: bool
) -> None:
    """No usable keyring (conftest's null backend): the login is in credentials.json, which cannot be changed
    (a read-only file system): removed as a whole when this was its only entry, else rewritten."""
    import errno
    import pathlib

    path = isolated_env / "credentials.json"
    content = {ENTRY: json.loads(stored_login(provider))}
    if others:
        content["qa@https://qa.example.com"] = {"access_token": "OTHER-TOKEN"}
    isolated_env.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content), encoding="utf-8")
    path.chmod(0o600)  # as relay writes it (others' access to it is refused)
    before = path.read_bytes()

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    with pytest.MonkeyPatch.context() as faults:
        faults.setattr("relay_cli.config.store.atomic_write", read_only)
        faults.setattr(pathlib.Path, "unlink", read_only)
        result = run("logout")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"error: not logged out of {API} (profile default): the issuer ended the session, but {path} could not be "
        f"rewritten (Read-only file system)\n"
        f'{STILL_STORED_HINT}remove the entry "{ENTRY}" from {path} (or the whole file), then run `relay logout` again\n'
    )
    assert SECRET not in result.err
    assert path.read_bytes() == before
