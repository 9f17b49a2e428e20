"""``relay login``'s I/O: the one-shot loopback listener, the browser, and the token endpoint over httpx.

The protocol itself (URLs, PKCE, state, claims) lives in ``relay_cli.core.oidc``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core import oidc
from ..errors import AuthError, NetworkError, UsageError
from ..jsontypes import JSONObject

if TYPE_CHECKING:
    import httpx

    from ..api.verbose import HttpLog

#: how long to wait for the browser to come back (tests shrink it)
LOGIN_TIMEOUT = 180.0
#: seconds a connection to the listener has to send its request (a browser sends it at once)
CONNECTION_TIMEOUT = 10.0
#: connections the listener serves at once; more are closed unanswered
MAX_CONNECTIONS = 16
#: the deadline of one request to the issuer, from connecting to the last byte of the answer, when the caller
#: gives none (commands give theirs: ``--timeout`` / ``RELAY_TIMEOUT``)
HTTP_TIMEOUT = 30.0

_PAGE = "<!doctype html><html><body><h4>{}</h4><script>window.close()</script></body></html>"


def open_browser(url: str) -> bool:
    """Open ``url`` in the user's browser; False when no browser can be opened (tests replace this)."""
    import webbrowser

    try:
        return bool(webbrowser.open(url, new=1, autoraise=True))
    except Exception:  # noqa: BLE001 - a launcher may fail in any way; the caller prints the URL instead
        return False


def _listener(port: int) -> Any:
    """The one-shot listener on 127.0.0.1:``port``. Each connection is served by a thread of its own, which has
    ``CONNECTION_TIMEOUT`` seconds to receive its request, so an idle connection (a browser's preconnect, a port
    scan, a stalled client) neither keeps the redirect out nor holds the login past its limit; at most
    ``MAX_CONNECTIONS`` are served at once (the rest are closed)."""
    import threading
    from http.server import ThreadingHTTPServer

    class Server(ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True
        expected_state = ""
        callback_path = ""
        outcome: str | BaseException | None = None
        ignored = 0  # requests with a wrong state

        def __init__(self, *args: Any) -> None:
            self.guard = threading.Lock()
            self.open = 0
            self.done = threading.Event()
            super().__init__(*args)

        def verify_request(self, request: Any, client_address: Any) -> bool:
            with self.guard:
                if self.open >= MAX_CONNECTIONS:
                    return False
                self.open += 1
                return True

        def shutdown_request(self, request: Any) -> None:
            with self.guard:
                self.open -= 1
            super().shutdown_request(request)

        def settle(self, outcome: str | BaseException) -> None:
            with self.guard:
                if self.outcome is None:
                    self.outcome = outcome
                    self.done.set()

    try:
        return Server(("127.0.0.1", port), _handler_class())
    except OSError as exc:
        raise AuthError(
            f"cannot listen on 127.0.0.1:{port} for the login redirect: {exc.strerror or exc}",
            hint="is another `relay login` running? Set auth_redirect_uri (RELAY_AUTH_REDIRECT_URI) to use another port",
        ) from None


def _handler_class() -> Any:
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.connection.settimeout(CONNECTION_TIMEOUT)  # each read and write of the connection

        def do_GET(self) -> None:
            server: Any = self.server  # the Server of _listener
            status, text = 404, "Relay CLI: unknown path."
            try:
                code = oidc.parse_callback(self.path, path=server.callback_path, state=server.expected_state)
            except oidc.WrongState:
                with server.guard:
                    server.ignored += 1
                status, text = 400, "Relay CLI: this is not the login in progress; it goes on. Nothing was stored."
            except oidc.CallbackError as exc:
                server.settle(exc)
                status, text = 400, "Relay CLI authorization failed. Please try again."
            else:
                if code is not None:
                    server.settle(code)
                    status, text = 200, "Relay CLI authorization complete. You can close this tab."
            body = _PAGE.format(text).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # the request line holds the code: never log it
            pass

    return Handler


def wait_for_code(server: Any, *, state: str, path: str, timeout: float) -> str:
    """Serve the listener until the redirect of this login brings a code (or the issuer's error), or ``timeout``
    seconds pass, whatever other connections and requests come meanwhile: requests with another ``state`` are
    answered 400 and ignored, idle connections are dropped by their own threads."""
    server.expected_state = state
    server.callback_path = path
    deadline = time.monotonic() + timeout
    while not server.done.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            ignored = server.ignored
            note = (
                f" ({ignored} request{'s' if ignored != 1 else ''} with another login's state "
                f"{'was' if ignored == 1 else 'were'} ignored)"
                if ignored
                else ""
            )
            raise AuthError(
                f"timed out after {timeout:.0f} s waiting for the browser to finish the login{note}; nothing was stored",
                hint="run `relay login` again (with --no-browser to open the printed URL yourself)",
            )
        server.timeout = min(left, 0.2)
        server.handle_request()  # accepts one connection (its thread serves it), or returns after server.timeout
    if isinstance(server.outcome, BaseException):
        raise server.outcome
    return str(server.outcome)


def http_client(log: HttpLog | None = None, timeout: float = HTTP_TIMEOUT) -> httpx.Client:
    """A client for the issuer whose requests each end within ``timeout`` seconds (``_post``), however slowly
    the issuer sends its answer."""
    import httpx

    from ..api import deadline

    hooks: dict[str, list[Callable[..., Any]]] = {}
    if log is not None:
        hooks = {"request": [log.request], "response": [log.response]}
    return httpx.Client(
        timeout=timeout, event_hooks=hooks, headers={"Accept": "application/json"}, **deadline.client_options()
    )


def _post(http: httpx.Client, url: str, form: dict[str, str]) -> httpx.Response:
    """POST ``form``, the whole answer read within the client's timeout (an overall deadline, as for the API)."""
    import httpx

    from ..api import deadline

    timeout = http.timeout.read if http.timeout.read is not None else HTTP_TIMEOUT
    host = httpx.URL(url).host
    try:
        with deadline.deadline(time.monotonic() + timeout):
            return http.post(url, data=form)
    except httpx.TransportError as exc:
        from ..api.errors import network_error

        raise network_error(exc, host, timeout) from None


def _token_request(http: httpx.Client, url: str, form: dict[str, str], what: str) -> JSONObject:
    response = _post(http, url, form)
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400 or not isinstance(data, dict) or not data.get("access_token"):
        detail = ""
        if isinstance(data, dict) and (data.get("error_description") or data.get("error")):
            detail = f": {data.get('error_description') or data.get('error')}"
        raise AuthError(
            f"the issuer refused the {what}{detail} (HTTP {response.status_code})", hint="run `relay login`"
        )
    return data


def login(
    *,
    issuer: str,
    client_id: str,
    redirect_uri: str,
    browser: bool = True,
    timeout: float | None = None,
    log: HttpLog | None = None,
    say: Callable[[str], None],
    request_timeout: float = HTTP_TIMEOUT,
) -> JSONObject:
    """The whole authorization-code + PKCE flow; returns the token endpoint's answer. ``timeout``: how long to
    wait for the browser; ``request_timeout``: the deadline of the request to the token endpoint; ``say``: where
    the lines for the person go (the command's ``Output.message``)."""
    port, path = oidc.listen_address(redirect_uri)
    verifier = oidc.new_verifier()
    state = oidc.new_state()
    url = oidc.authorize_url(
        issuer, client_id=client_id, redirect_uri=redirect_uri, state=state, code_challenge=oidc.challenge(verifier)
    )
    server = _listener(port)
    try:
        if browser and open_browser(url):
            say("Opening your browser to log in. If it does not open, visit this URL:")
        else:
            say("Open this URL in a browser to log in:")
        say(url)
        code = wait_for_code(server, state=state, path=path, timeout=LOGIN_TIMEOUT if timeout is None else timeout)
    finally:
        server.server_close()
    with http_client(log, request_timeout) as http:
        grant = oidc.code_grant(client_id=client_id, code=code, redirect_uri=redirect_uri, verifier=verifier)
        tokens = _token_request(http, oidc.endpoints(issuer).token, grant, "authorization code")
    return tokens


def refresh(
    *, issuer: str, client_id: str, refresh_token: str, log: HttpLog | None = None, timeout: float = HTTP_TIMEOUT
) -> JSONObject:
    with http_client(log, timeout) as http:
        grant = oidc.refresh_grant(client_id=client_id, refresh_token=refresh_token)
        return _token_request(http, oidc.endpoints(issuer).token, grant, "token refresh")


def end_session(
    *, issuer: str, client_id: str, refresh_token: str, log: HttpLog | None = None, timeout: float = HTTP_TIMEOUT
) -> bool:
    """Best effort: end the session at the issuer (Keycloak's back-channel logout). True when it agreed."""
    import httpx

    try:
        with http_client(log, timeout) as http:
            response = _post(
                http, oidc.endpoints(issuer).logout, {"client_id": client_id, "refresh_token": refresh_token}
            )
    except (httpx.HTTPError, NetworkError, UsageError):
        return False
    return response.status_code < 400
