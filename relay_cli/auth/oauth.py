"""``relay login``'s I/O: the one-shot loopback listener, the browser, and the token endpoint over httpx.

The protocol itself (URLs, PKCE, state, claims) lives in ``relay_cli.core.oidc``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core import oidc
from ..errors import AuthError, NetworkError, UsageError

if TYPE_CHECKING:
    import httpx

    from ..api.verbose import HttpLog

#: how long to wait for the browser to come back (tests shrink it)
LOGIN_TIMEOUT = 180.0
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
    from http.server import HTTPServer

    class Server(HTTPServer):
        allow_reuse_address = True

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
        def do_GET(self) -> None:
            server = self.server
            status, text = 404, "Relay CLI: unknown path."
            try:
                code = oidc.parse_callback(self.path, path=server.callback_path, state=server.expected_state)  # type: ignore[attr-defined]  # set by wait_for_code
            except oidc.CallbackError as exc:
                server.outcome = exc  # type: ignore[attr-defined]  # our listener: see wait_for_code
                status, text = 400, "Relay CLI authorization failed. Please try again."
            else:
                if code is not None:
                    server.outcome = code  # type: ignore[attr-defined]  # our listener: see wait_for_code
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
    """Serve the listener until the redirect brings a code (or an error), or ``timeout`` seconds pass."""
    server.expected_state = state
    server.callback_path = path
    server.outcome = None
    deadline = time.monotonic() + timeout
    while server.outcome is None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AuthError(
                f"timed out after {timeout:.0f} s waiting for the browser to finish the login; nothing was stored",
                hint="run `relay login` again (with --no-browser to open the printed URL yourself)",
            )
        server.timeout = min(left, 0.5)
        server.handle_request()
    if isinstance(server.outcome, Exception):
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
    client = httpx.Client(timeout=timeout, event_hooks=hooks, headers={"Accept": "application/json"})
    deadline.install(client)
    return client


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


def _token_request(http: httpx.Client, url: str, form: dict[str, str], what: str) -> dict[str, Any]:
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
    say: Callable[[str], None] | None = None,
    request_timeout: float = HTTP_TIMEOUT,
) -> dict[str, Any]:
    """The whole authorization-code + PKCE flow; returns the token endpoint's answer. ``timeout``: how long to
    wait for the browser; ``request_timeout``: the deadline of the request to the token endpoint."""
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
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
) -> dict[str, Any]:
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
