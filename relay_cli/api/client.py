"""RelayClient: one method per Relay API endpoint (relay-api.md, "Requests"), over one ``httpx.Client``."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from ..core.workflow import normalize, trigger_body
from ..errors import ApiError
from .errors import raise_for_response, network_error

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

# --- retries (module attributes, so tests can shrink them or replace `wait`) -----------------------------
#: attempts per request, the first included
MAX_ATTEMPTS = 4
#: backoff before retry n (1-based): BACKOFF_BASE * 2**(n-1), at most BACKOFF_CAP, with "equal jitter"
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
#: a Retry-After longer than this is not waited for: the request fails at once
RETRY_AFTER_MAX = 60.0
RETRY_STATUSES = (429, 502, 503, 504)
#: failures that prove the request never reached the server: safe to retry even a create
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def wait(seconds: float) -> None:
    """How the client sleeps between attempts (tests replace it)."""
    time.sleep(seconds)


def backoff(retry: int) -> float:
    """The pause before retry number ``retry`` (1-based): exponential, capped, with jitter in its upper half."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (retry - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    from datetime import datetime, timezone

    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class RelayClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        auth_method: str = "Bearer",
        user_agent: str,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_write: Callable[[str, str], None] | None = None,
        max_attempts: int | None = None,
        sleep: Callable[[float], None] | None = None,
        on_unauthorized: Callable[[], str | None] | None = None,
        api_key_source: str | None = None,
        log: Any = None,
    ) -> None:
        """``on_write(method, path)`` is called after every successful request that changes data.
        ``max_attempts`` / ``sleep``: override the module's ``MAX_ATTEMPTS`` / ``wait`` (tests).
        ``on_unauthorized()``: called once on the first 401; a new token it returns replaces the old one and the
        request is sent again (a stored login's refresh). ``api_key_source``: the token is an API key from
        there (never refreshed): a 401 says the key is invalid. ``log``: an ``HttpLog`` (``--verbose``)."""
        self._on_unauthorized = on_unauthorized
        self._api_key_source = api_key_source
        self._auth_method = auth_method
        self._on_write = on_write
        self._max_attempts = max_attempts
        self._wait = sleep
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).host
        default_headers = {"Accept": "application/json", "User-Agent": user_agent}
        default_headers.update(headers or {})
        #: never sent to another host (a presigned upload URL): the credentials and the profile's own headers
        self._private_headers = {"authorization", *(name.lower() for name in headers or {})}
        if token is not None:
            default_headers["Authorization"] = f"{auth_method} {token}"
        hooks = {"request": [log.request], "response": [log.response]} if log is not None else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=default_headers, timeout=timeout, transport=transport, event_hooks=hooks
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _idempotent(self, method: str, path: str, body: Any) -> bool:
        """May this request be sent twice? GET, DELETE and PUT, and a save that replaces a given ``workflow_id``."""
        if method in ("GET", "DELETE", "PUT"):
            return True
        return method == "POST" and path == "/ibot/workflow" and isinstance(body, dict) and bool(body.get("workflow_id"))

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Send one request, retrying what is safe to retry (see ``_idempotent`` and ``NEVER_SENT``).

        Retried: connection failures, 502/503/504 and 429 (after its Retry-After, else after an exponential
        backoff with jitter), at most ``MAX_ATTEMPTS`` attempts in all. A create (a POST with no workflow_id,
        or a trigger) is retried only after a failure that proves it never reached the server."""
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if body is not None:
            kwargs["json"] = body
        idempotent = self._idempotent(method, path, body)
        attempts = max(1, self._max_attempts if self._max_attempts is not None else MAX_ATTEMPTS)
        pause = self._wait if self._wait is not None else wait
        maybe_done = False  # may an attempt so far have been carried out by the server?
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            last = attempt >= attempts
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, NEVER_SENT)
                maybe_done = maybe_done or not never_sent
                if not last and (idempotent or never_sent):
                    pause(backoff(attempt))
                    continue
                err = network_error(exc, self.host)
                if attempt > 1 or not (idempotent or never_sent):
                    err = self._gave_up(err, method, attempt, maybe_done, idempotent or never_sent)
                raise err from None
            status = response.status_code
            if status == 401 and not refreshed and self._on_unauthorized is not None:
                refreshed = True  # a 401 is refused before anything is done: sending again is safe
                token = self._on_unauthorized()
                if token:
                    self._http.headers["Authorization"] = f"{self._auth_method} {token}"
                    attempt -= 1  # the refresh does not use up an attempt
                    continue
            if status == 401:
                self._raise_key_invalid(response)
            delay = None
            if status in RETRY_STATUSES:
                maybe_done = maybe_done or status in (502, 504)
                delay = retry_after(response) if status in (429, 503) else None
                if idempotent and not last and (delay is None or delay <= RETRY_AFTER_MAX):
                    pause(backoff(attempt) if delay is None else delay)
                    continue
            if method == "DELETE" and maybe_done and status == 404:
                response = httpx.Response(204, request=response.request)  # an earlier attempt deleted it
            try:
                raise_for_response(response)
            except ApiError as err:
                if delay is not None and delay > RETRY_AFTER_MAX:
                    err.message += f" (the server asks to retry after {delay:.0f} s)"
                    err.args = (err.message,)
                if attempt > 1 or (status in RETRY_STATUSES and not idempotent):
                    maybe_done = maybe_done or status == 500
                    raise self._gave_up(err, method, attempt, maybe_done, idempotent) from None
                raise
            break
        if method != "GET" and self._on_write is not None:
            self._on_write(method, path)
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _raise_key_invalid(self, response: httpx.Response) -> None:
        """A rejected API key (``RELAY_API_KEY``) is never refreshed: say plainly that the key is invalid."""
        if self._api_key_source is None:
            return
        from ..errors import ApiAuthError

        try:
            raise_for_response(response)
        except ApiAuthError as err:
            err.message = f"{err.message}: the key in {self._api_key_source} is invalid or expired"
            err.args = (err.message,)
            err.hint = f"set {self._api_key_source} to a valid API token, or unset it and run `relay login`"
            raise

    @staticmethod
    def _gave_up(err: Any, method: str, attempts: int, maybe_done: bool, retryable: bool) -> Any:
        """The final error of a request, saying how often it was sent and whether it may have been carried out."""
        notes = ["tried once" if attempts == 1 else f"tried {attempts} times"]
        if method != "GET":
            if maybe_done:
                notes.append("it may have been carried out: check before doing it again")
            else:
                notes.append("nothing was changed")
            if not retryable:
                notes.append("not sent again, since only a request that provably never reached the server is repeated")
        err.message = f"{err.message} ({'; '.join(notes)})"
        err.args = (err.message,)
        err.attempts = attempts
        err.maybe_done = maybe_done
        return err

    # --- workflows -----------------------------------------------------------------------------

    def list_workflows(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/workflow", params={"subscriber_id": subscriber_id})
        results = data.get("results", []) if isinstance(data, dict) else data or []
        return [normalize(wf) for wf in results if isinstance(wf, dict)]

    def save_workflow(self, subscriber_id: str, workflow: dict[str, Any]) -> list[dict[str, Any]]:
        """Create (no ``workflow_id``) or replace (with one). Returns the saved workflow(s)."""
        data = self._request("POST", "/ibot/workflow", params={"subscriber_id": subscriber_id}, body=workflow)
        if isinstance(data, dict):
            data = data.get("results", [data])
        return [normalize(wf) for wf in data or [] if isinstance(wf, dict)]

    def delete_workflow(self, subscriber_id: str, workflow_id: str) -> None:
        self._request("DELETE", f"/ibot/workflow/{_seg(workflow_id)}", params={"subscriber_id": subscriber_id})

    def trigger_workflow(self, subscriber_id: str, workflow_id: str, user_id: str, args: dict[str, Any]) -> None:
        body = trigger_body(user_id, args)
        self._request(
            "POST",
            f"/ibot/workflow/{_seg(workflow_id)}",
            params={"subscriber_id": subscriber_id, "user_id": user_id},
            body=body,
        )

    # --- instances, logs, analytics ------------------------------------------------------------

    def workflow_instances(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/workflow_instances", params={"subscriber_id": subscriber_id})
        return list(data or [])

    def stop_instance(self, subscriber_id: str, instance_id: str) -> None:
        self._request(
            "DELETE", f"/ibot/workflow_instances/{_seg(instance_id)}", params={"subscriber_id": subscriber_id}
        )

    def workflow_logs(
        self, subscriber_id: str, *, workflow_id: str | None = None, user_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream the realtime log: one JSON object per line, until the server closes the stream."""
        params = {"subscriber_id": subscriber_id, "workflow_id": workflow_id, "user_id": user_id}
        params = {k: v for k, v in params.items() if v is not None}
        refreshed = False
        try:
            while True:
                with self._http.stream(
                    "GET", "/ibot/workflowdebug", params=params, timeout=httpx.Timeout(None, connect=10.0)
                ) as response:
                    if response.is_error:
                        response.read()
                        if response.status_code == 401 and not refreshed and self._on_unauthorized is not None:
                            refreshed = True
                            token = self._on_unauthorized()
                            if token:
                                self._http.headers["Authorization"] = f"{self._auth_method} {token}"
                                continue
                        if response.status_code == 401:
                            self._raise_key_invalid(response)
                        raise_for_response(response)
                    for line in response.iter_lines():
                        line = line.strip()
                        if not line:
                            continue
                        try:
                            yield json.loads(line)
                        except ValueError:
                            yield {"message": line}
                    return
        except httpx.TransportError as exc:
            raise network_error(exc, self.host) from None

    def analytics_events(self, subscriber_id: str, **query: Any) -> dict[str, Any]:
        params = {"subscriber_id": subscriber_id, **query}
        data = self._request("GET", "/ibot/workflow_analytics_events", params=params)
        return data if isinstance(data, dict) else {"data": data or []}

    # --- account -------------------------------------------------------------------------------

    def device_ids(self, subscriber_id: str) -> list[str]:
        data = self._request("GET", f"/ibot/subscriber/{_seg(subscriber_id)}/device_ids")
        return list((data or {}).get("devices", []))

    def groups(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/groups", params={"subscriber_id": subscriber_id})
        return list(data or [])

    def subscriber_info(self, subscriber_id: str) -> dict[str, Any]:
        return self._request("GET", f"/ibot/subscriber_info/{_seg(subscriber_id)}") or {}

    def authz_context(self) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/authz_context")
        if isinstance(data, dict):
            data = [data]
        return list(data or [])

    # --- geofences, venues and positions -----------------------------------------------------------

    def geofences(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/geofence", params={"subscriber_id": subscriber_id})
        return _results(data)

    def create_geofence(self, subscriber_id: str, body: dict[str, Any]) -> dict[str, Any]:
        data = self._request("POST", "/ibot/geofence", params={"subscriber_id": subscriber_id}, body=body)
        return data if isinstance(data, dict) else {}

    def delete_geofence(self, subscriber_id: str, geofence_id: str) -> None:
        self._request("DELETE", f"/ibot/geofence/{_seg(geofence_id)}", params={"subscriber_id": subscriber_id})

    def venues(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/indoor_venue", params={"subscriber_id": subscriber_id})
        return _results(data)

    def positions(self, subscriber_id: str, venue_id: str) -> list[dict[str, Any]]:
        data = self._request(
            "GET", f"/ibot/indoor_position/{_seg(venue_id)}", params={"subscriber_id": subscriber_id}
        )
        return _results(data)

    # --- NFC tag configurations ----------------------------------------------------------------

    def nfc_tags(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/relay_nfc_tag", params={"subscriber_id": subscriber_id})
        return _results(data)

    def nfc_tag(self, subscriber_id: str, tag_id: str) -> dict[str, Any]:
        data = self._request("GET", f"/ibot/relay_nfc_tag/{_seg(tag_id)}", params={"subscriber_id": subscriber_id})
        return data if isinstance(data, dict) else {}

    def create_nfc_tag(self, subscriber_id: str, body: dict[str, Any]) -> dict[str, Any]:
        data = self._request("POST", "/ibot/relay_nfc_tag", params={"subscriber_id": subscriber_id}, body=body)
        return data if isinstance(data, dict) else {}

    def update_nfc_tag(self, subscriber_id: str, tag_id: str, body: dict[str, Any]) -> None:
        self._request(
            "PUT", f"/ibot/relay_nfc_tag/{_seg(tag_id)}", params={"subscriber_id": subscriber_id}, body=body
        )

    def delete_nfc_tag(self, subscriber_id: str, tag_id: str) -> None:
        self._request("DELETE", f"/ibot/relay_nfc_tag/{_seg(tag_id)}", params={"subscriber_id": subscriber_id})

    # --- users ---------------------------------------------------------------------------------

    def user_profiles(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/user_profile", params={"subscriber_id": subscriber_id})
        return _results(data)

    def audit_events(self, subscriber_id: str, **query: Any) -> dict[str, Any]:
        """One page of ``GET /ibot/audit``: ``{"data": [...], "cursor": ...}``."""
        data = self._request("GET", "/ibot/audit", params={"subscriber_id": subscriber_id, **query})
        return data if isinstance(data, dict) else {"data": data or []}

    # --- custom audio --------------------------------------------------------------------------------

    def custom_audio(self, subscriber_id: str) -> list[dict[str, Any]]:
        data = self._request("GET", "/ibot/custom_audio", params={"subscriber_id": subscriber_id})
        return _results(data)

    def create_custom_audio(self, subscriber_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``{"result": {"id", ...}, "s3_upload_url": ...}``: the record, and where to PUT the file."""
        data = self._request("POST", "/ibot/custom_audio", params={"subscriber_id": subscriber_id}, body=body)
        return data if isinstance(data, dict) else {}

    def delete_custom_audio(self, subscriber_id: str, audio_id: str) -> None:
        self._request("DELETE", f"/ibot/custom_audio/{_seg(audio_id)}", params={"subscriber_id": subscriber_id})

    def upload_presigned(
        self,
        url: str,
        path: str,
        size: int,
        *,
        content_type: str = "audio/wave",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """PUT the file at ``path`` (``size`` bytes) to a presigned ``url``, streamed; ``progress(sent)`` is
        called with the bytes sent so far (from 0 again on each attempt).

        The URL is another host (object storage) that trusts its own signature: our Authorization header and
        the profile's extra headers are removed from the request (same client, so same transport and --verbose
        hooks). Connection failures and 500/502/503/504 are retried (a PUT of the same bytes is idempotent; S3
        asks for 500 to be retried too); each attempt reads the file again."""
        attempts = max(1, self._max_attempts if self._max_attempts is not None else MAX_ATTEMPTS)
        pause = self._wait if self._wait is not None else wait
        host = httpx.URL(url).host or url
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= attempts
            tried = "tried once" if attempt == 1 else f"tried {attempt} times"
            request = self._http.build_request(
                "PUT",
                url,
                content=_file_chunks(path, progress),
                headers={"Content-Type": content_type, "Content-Length": str(size)},
            )
            for name in self._private_headers:
                request.headers.pop(name, None)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                if not last:
                    pause(backoff(attempt))
                    continue
                err = network_error(exc, host)
                err.message = f"uploading the file failed: {err.message} ({tried})"
                err.args = (err.message,)
                raise err from None
            except OSError as exc:  # the file went away or became unreadable since it was checked
                from ..errors import UsageError

                raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})", option="--file") from None
            status = response.status_code
            if status in (500, 502, 503, 504) and not last:
                pause(backoff(attempt))
                continue
            if status >= 400:
                reason = _storage_error(response) or response.reason_phrase
                raise ApiError(f"uploading the file to {host} failed: HTTP {status} {reason} ({tried})", status=status)
            return


def _file_chunks(path: str, progress: Callable[[int], None] | None, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    with open(path, "rb") as handle:
        if progress is not None:
            progress(0)
        while chunk := handle.read(size):
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(sent)


def _storage_error(response: httpx.Response) -> str | None:
    """The ``<Code>`` and ``<Message>`` of an object store's XML error (S3: SignatureDoesNotMatch, AccessDenied,
    "Request has expired"), or a JSON ``error``/``message``; None when the body says neither."""
    import re

    text = response.text[:4096]
    found = [re.search(rf"<{tag}>([^<]{{1,300}})</{tag}>", text) for tag in ("Code", "Message")]
    parts = [m.group(1).strip() for m in found if m is not None]
    if not parts and "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
    return ": ".join(parts) or None


def _results(data: Any) -> list[dict[str, Any]]:
    """The list in ``{"results": [...]}`` (or a bare list), objects only."""
    items = data.get("results", []) if isinstance(data, dict) else data or []
    return [item for item in items if isinstance(item, dict)]
