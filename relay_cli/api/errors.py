"""HTTP answers and transport failures → the exceptions of ``relay_cli.errors``."""

from __future__ import annotations

import json

import httpx

from ..errors import ApiAuthError, ApiError, ApiNotFoundError, NetworkError
from ..jsontypes import JSONValue

AUTH_HINT = "run `relay login`, or set RELAY_API_KEY to a valid token"
CONNECT_HINT = "check RELAY_HOST / the profile's host and your network"
TIMEOUT_HINT = "if the server is only slow, give it longer with --timeout SECONDS or RELAY_TIMEOUT"


def detail(body: bytes) -> tuple[str | None, str | None]:
    """The ``error`` and ``message`` of an API error body (``{"error": ..., "message": ...}``), when it has them."""
    try:
        data: JSONValue = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    error = data.get("error")
    message = data.get("message")
    return (str(error) if error else None), (str(message) if message else None)


def http_error(method: str, path: str, status: int, reason: str, body: bytes) -> ApiError:
    """The error for an answer with a 4xx or 5xx status."""
    error, message = detail(body)
    text = message or error or (reason or "error")
    if error and message and error not in message:
        text = f"{message} ({error})"
    full = f"the Relay API refused {method} {path}: {text} (HTTP {status})"
    if status in (401, 403):
        return ApiAuthError(full, status=status, error=error, hint=AUTH_HINT, detail=message)
    if status == 404:
        return ApiNotFoundError(full, status=status, error=error, detail=message)
    return ApiError(full, status=status, error=error, detail=message)


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text or "resolve" in text:
        return "host name not found"
    if "refused" in text:
        return "connection refused"
    if "reset" in text:
        return "connection reset"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return f"TLS failed ({exc})"
    return str(exc) or type(exc).__name__


def network_error(exc: httpx.TransportError, host: str, timeout: float | None = None) -> NetworkError:
    """The error for a request that got no (complete) answer. Three cases the user must tell apart:
    the connection could not be made (nothing was sent), the server was reached but did not answer within the
    deadline, and the connection broke while the answer was awaited."""
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return NetworkError(f"could not connect to {host}: the connection timed out", hint=CONNECT_HINT)
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"could not connect to {host}: {_reason(exc) or 'connection failed'}", hint=CONNECT_HINT)
    if isinstance(exc, httpx.TimeoutException):
        within = f" within {timeout:g} s" if timeout is not None else " in time"
        return NetworkError(f"{host} did not answer{within}", hint=TIMEOUT_HINT)
    if isinstance(exc, httpx.LocalProtocolError):
        # httpx's text quotes the offending header value, which may be a credential: never shown
        return NetworkError(f"could not send the request to {host}: a header is malformed (its value is not shown)")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        text = str(exc)
        if "without sending a response" in text or not text:
            reason = "the server closed it without answering"
        else:
            reason = _reason(exc)
        return NetworkError(
            f"the connection to {host} broke before the answer was complete ({reason})", hint=CONNECT_HINT
        )
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return NetworkError(f"could not reach {host}: {what}", hint=CONNECT_HINT)
