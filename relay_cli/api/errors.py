"""HTTP answers and transport failures → the exceptions of ``relay_cli.errors``."""

from __future__ import annotations

import httpx

from ..errors import ApiAuthError, ApiError, ApiNotFoundError, NetworkError

AUTH_HINT = "run `relay login`, or set RELAY_API_KEY to a valid token"


def _detail(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    message = body.get("message")
    return (str(error) if error else None), (str(message) if message else None)


def raise_for_response(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    error, message = _detail(response)
    what = f"{response.request.method} {response.request.url.path}"
    text = message or error or (response.reason_phrase or "error")
    if error and message and error not in message:
        text = f"{message} ({error})"
    full = f"the Relay API refused {what}: {text} (HTTP {status})"
    if status in (401, 403):
        raise ApiAuthError(full, status=status, error=error, hint=AUTH_HINT)
    if status == 404:
        raise ApiNotFoundError(full, status=status, error=error)
    raise ApiError(full, status=status, error=error)


def network_error(exc: httpx.TransportError, host: str) -> NetworkError:
    if isinstance(exc, httpx.TimeoutException):
        reason = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text or "resolve" in text:
            reason = "host name not found"
        elif "refused" in text:
            reason = "connection refused"
        else:
            reason = f"connection failed ({exc})" if str(exc) else "connection failed"
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return NetworkError(f"could not reach {host}: {reason}", hint="check RELAY_HOST / the profile's host and your network")
