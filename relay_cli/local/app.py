"""The sandbox's WSGI application: the subset of the Relay REST API that ``relay`` calls.

Every answer is JSON (``Content-Type: application/json``); errors are ``{"error": ..., "message": ...}`` with the
status codes of the real service: 400 bad input, 401 bad or missing token, 404 unknown account / workflow /
instance / path, 405 wrong method, 408 a body that did not arrive within the server's time limit, 409 a custom audio
name taken, 413 body too large, 500 anything unexpected.
Custom audio files are PUT to a presigned URL on this server (``/_sandbox/upload/...``), which checks its HMAC
signature and expiry instead of the token, as object storage would.

The endpoints are the functions of ``handlers.py``, one per method and path, found through its ``ROUTES`` table;
this module checks the token, finds the route, calls the handler and writes its ``Response`` (``web.py``).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .handlers import ROUTES, UPLOAD_PREFIX
from .store import SandboxStore
from .web import (
    HEARTBEAT_INTERVAL,
    JSON,
    POLL_INTERVAL,
    HttpError,
    Options,
    Request,
    Response,
    Route,
    Shared,
    dumps,
    find_route,
    status_line,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment


def authorize(req: Request, token: str | None) -> None:
    """401 unless the request carries ``Authorization: <any scheme word> <token>`` (no check when ``token`` is None;
    a presigned upload carries its own signature instead)."""
    if token is None or req.path.startswith(UPLOAD_PREFIX):
        return
    header = req.header("Authorization") or ""
    parts = header.split(None, 1)
    given = parts[1].strip() if len(parts) == 2 else ""
    if not given or not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
        reason = "missing Authorization header" if not header else "invalid token"
        raise HttpError(401, "unauthorized", reason, headers=[("WWW-Authenticate", 'Bearer realm="relay-sandbox"')])


def answer(req: Request, store: SandboxStore, token: str | None, routes: Sequence[Route] = ROUTES) -> Response:
    """The response to ``req``: an error answer for a failed check, a 500 for anything unexpected."""
    try:
        authorize(req, token)
        route, req.path_params = find_route(routes, req.method, req.path)
        return route.handler(req, store)
    except HttpError as exc:
        return Response(exc.status, {"error": exc.error, "message": exc.message}, headers=exc.headers)
    except Exception as exc:  # noqa: BLE001 - the sandbox answers 500 rather than dropping the connection
        return Response(500, {"error": "internal_error", "message": f"{type(exc).__name__}: {exc}"})


def make_app(
    store: SandboxStore,
    *,
    token: str | None,
    follow_logs: bool = False,
    stop: threading.Event | None = None,
    poll_interval: float = POLL_INTERVAL,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
    background: bool | None = None,
    shared: Shared | None = None,
) -> WSGIApplication:
    """The WSGI application over ``store``.

    ``token``: when not None, every request needs ``Authorization: <scheme> <token>`` (any scheme word).
    ``follow_logs``: False → ``/ibot/workflowdebug`` answers the backlog and ends (in-process use); True → it
    keeps the stream open, polling the event log every ``poll_interval`` seconds (and writing a blank line every
    ``heartbeat_interval`` idle seconds, to notice a client that went away) until the client disconnects or
    ``stop`` is set.
    ``background`` (default: ``follow_logs``): the workflow conversations the sandbox plays outlive the request
    that started them. ``shared``: where the app keeps what its requests share (its conversations'
    ``Runtime``): the caller closes that runtime when it stops serving.
    """
    options = Options(
        follow_logs=follow_logs,
        stop=stop if stop is not None else threading.Event(),
        poll_interval=poll_interval,
        heartbeat_interval=heartbeat_interval,
        background=follow_logs if background is None else background,
        shared=shared if shared is not None else Shared(),
    )

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = answer(Request(environ, options), store, token)
        headers = [("Content-Type", JSON), *response.headers]
        if response.stream is not None:
            start_response(status_line(response.status), headers)
            return response.stream
        body = b"" if response.empty else dumps(response.body)
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line(response.status), headers)
        return [body] if body else []

    return app
