"""RelayClient: one method per Relay API endpoint, over one ``httpx.Client``.

Every request goes through one path, ``RelayClient._send`` — the JSON calls, the realtime log stream and the
upload to object storage alike:

- a deadline per attempt (``timeout``, 30 s unless ``--timeout`` / ``RELAY_TIMEOUT`` say otherwise) that
  covers connecting, sending and the whole answer however slowly its bytes come (``api.deadline``); the body
  of the realtime log stream is the one thing left unbounded, by design;
- retries of what is safe to retry (see ``_idempotent`` and ``NEVER_SENT``), at most ``MAX_ATTEMPTS``
  attempts, all of them and the waits between them within ``BUDGET_FACTOR`` times the deadline. A request
  that reached the server and got no answer within the deadline is not sent again: the deadline is how long
  the user said they would wait;
- one refresh of a stored login after a 401 (``on_unauthorized``);
- the answer checked before anything uses it: a 3xx is an error naming its Location (redirects are never
  followed, so credentials never go to another host), at most ``MAX_BODY`` bytes are read, and the body must
  be JSON of the shape the method names (``api.shapes``); only the endpoints documented to answer nothing
  (delete, trigger, stop, tag update) accept an empty body;
- every failure mapped to one exception of ``relay_cli.errors``, with the token and the extra header values
  masked wherever they might appear.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from ..core import redact
from ..core.workflow import trigger_body
from ..errors import ApiError, AuthError, RelayError, UsageError
from ..jsontypes import JSONObject, JSONValue
from . import deadline as deadlines, shapes
from .errors import detail, http_error, network_error

if TYPE_CHECKING:
    from ..jsontypes import JSONObject, JSONValue
    from .verbose import HttpLog

T = TypeVar("T")
R = TypeVar("R")
#: the values of a query string, as httpx takes them (None: the parameter is left out)
Params = Mapping[str, str | int | float | bool | None]

#: seconds one attempt may take, from connecting to the last byte of the answer
DEFAULT_TIMEOUT = 30.0
#: seconds to open a connection (within the deadline)
CONNECT_TIMEOUT = 10.0

# --- retries (module attributes, so tests can shrink them or replace `wait`) -----------------------------
#: attempts per request, the first included
MAX_ATTEMPTS = 4
#: backoff before retry n (1-based): BACKOFF_BASE * 2**(n-1), at most BACKOFF_CAP, with "equal jitter"
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
#: a Retry-After longer than this is not waited for: the request fails at once
RETRY_AFTER_MAX = 60.0
#: all attempts of one request and the waits between them end within this many times the deadline
BUDGET_FACTOR = 2.0
RETRY_STATUSES = (429, 502, 503, 504)
#: an upload to object storage is retried after a 500 too (S3 asks for it)
UPLOAD_RETRY_STATUSES = (500, 502, 503, 504)
#: what a 403 of a presigned upload means: the URL's signature, not our login (S3 answers 403 to an expired URL and
#: to a request whose time is too far from its own)
UPLOAD_REFUSED_HINT = (
    "the upload URL the API gave is valid for a few minutes, and the storage checks this machine's clock: run the "
    "command again for a new URL, and check the clock if it is refused again"
)
#: failures that prove the request never reached the server: safe to retry even a create
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# --- answers ----------------------------------------------------------------------------------------------
#: the most of a successful answer that is read (10,000 workflows as benchmarks/startup.py makes them: 3.4 MiB)
MAX_BODY = 64 * 1024 * 1024
#: the most of an error answer that is read (for its "error" and "message")
MAX_ERROR_BODY = 64 * 1024
#: the longest line of the realtime log stream
MAX_LOG_LINE = 1024 * 1024
#: seconds a sandbox's event stream may stay silent (it sends a blank line every 2 s while conversations run)
SANDBOX_IDLE = 30.0
#: content types that are never the API's JSON, whatever the body holds (a proxy's or a login portal's page).
#: Other types are judged by the body: the reference CLI's own code expects JSON under other content types.
NOT_JSON = ("text/html", "application/xhtml+xml", "text/xml", "application/xml")


def wait(seconds: float) -> None:
    """How the client sleeps between attempts (tests replace it)."""
    time.sleep(seconds)


def backoff(retry: int) -> float:
    """The pause before retry number ``retry`` (1-based): exponential, capped, with jitter in its upper half."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (retry - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # nan is unreadable
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    from datetime import datetime

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, without user info: how messages name a server."""
    parts = urlsplit(url)
    return redact.url(f"{parts.scheme}://{parts.netloc}")


def _cut(text: str, limit: int = 300) -> str:
    """A server-provided text cut to ``limit`` characters (``output`` escapes what a terminal would act on)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _TooBig(Exception):
    pass


@dataclass
class _Call:
    """One request, as ``_send`` carries it out."""

    method: str
    #: a path under the base URL, or (``upload``) an absolute URL
    url: str
    #: the query string: by name (None leaves one out), or pairs in order (``relay api``: repeated keys)
    params: Params | list[tuple[str, str]] | None = None
    #: the JSON body
    body: JSONValue = None
    #: a streamed request body, made anew for each attempt
    content: Callable[[], Iterator[bytes]] | None = None
    headers: dict[str, str] | None = None
    #: may it be sent twice?
    idempotent: bool = True
    #: to another host (a presigned URL): our credentials and extra headers are removed, no 401 refresh
    upload: bool = False
    #: the open response is returned once its status is checked (the realtime log stream)
    stream: bool = False
    #: a request body given as bytes (``relay api --input``)
    data: bytes | None = None
    #: the answer is returned as it came, whatever its status (``RawAnswer``), once retries are done
    raw: bool = False
    #: a stream's reads: None waits for ever (the log stream), else each read's time limit in seconds
    stream_read: float | None = None


@dataclass(frozen=True)
class _Answer:
    """The answer to a call, once ``_send`` has checked its status (and retried what it may): a success, or (for
    ``raw``) whatever came; its body read (at most ``MAX_BODY`` bytes; empty for a stream, which is open)."""

    call: _Call
    response: httpx.Response
    body: bytes
    #: how messages name the server
    where: str
    #: how many times the request was sent
    attempt: int


@dataclass(frozen=True)
class RawAnswer:
    """An answer as it came (``RelayClient.request``): status, reason, headers in order, and the body's bytes
    (at most ``MAX_BODY``; of an error answer, at most ``MAX_ERROR_BODY``)."""

    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    method: str
    path: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Listing(list["JSONObject"]):
    """The workflows of ``GET /ibot/workflow``, and the paging markers its answer carried (``paging``: empty when
    nothing says there is more)."""

    paging: list[str]
    #: "https://host answered GET /ibot/workflow", for messages
    where: str

    def __init__(self, items: Iterable[JSONObject] = ()) -> None:
        super().__init__(items)
        self.paging = []
        self.where = "GET /ibot/workflow"
        #: the workflows the answer held (more than the listing has when it was read for a few: ``holding``)
        self.total = len(self)

    def require_whole(self, subscriber_id: str, action: str) -> None:
        """An ``ApiError`` (exit 1) when the answer carried paging markers: ``action`` (what would be done on the
        strength of the whole listing) is refused while nothing proves that the listing holds the whole account."""
        if self.paging:
            raise ApiError(
                f"{self.where} with paging markers ({', '.join(self.paging)}), so it may hold only part of account "
                f"{subscriber_id}; {action}",
                hint="relay does not follow paging it does not know (Relay's paging of this listing is not "
                "public); nothing was changed",
            )


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
        timeout: float = DEFAULT_TIMEOUT,
        on_write: Callable[[str, str], None] | None = None,
        max_attempts: int | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        on_unauthorized: Callable[[], str | None] | None = None,
        api_key_source: str | None = None,
        log: HttpLog | None = None,
        label: str | None = None,
        host_question: str | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        """``timeout``: the deadline of one attempt, in seconds. ``on_write(method, path)`` is called after every
        successful request that changes data. ``max_attempts`` / ``sleep`` / ``clock``: override the module's
        ``MAX_ATTEMPTS`` / ``wait`` / ``time.monotonic`` for the retry budget (tests).
        ``on_unauthorized()``: called once on the first 401; a new token it returns replaces the old one and the
        request is sent again (a stored login's refresh). ``api_key_source``: the token is an API key from
        there (never refreshed): a 401 says the key is invalid. ``log``: an ``HttpLog`` (``--verbose``).
        ``label``: how messages name the server (default: its ``scheme://host``). ``host_question``: what an
        error asks when an answer is not the API's ("is RELAY_HOST right?"). ``notice(text)``: told what the user
        should know about an answer that is used all the same (a listing with paging markers)."""
        self._notice = notice
        self._noticed_paging = False
        self._on_unauthorized = on_unauthorized
        self._api_key_source = api_key_source
        self._auth_method = auth_method
        self._on_write = on_write
        self._max_attempts = max_attempts
        self._wait = sleep
        self._clock = clock or time.monotonic
        self.timeout = float(timeout)
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).host
        self.origin = label or _origin(self.base_url)
        self._host_question = host_question
        #: values masked in every message: the token(s) and the extra header values
        self._secrets: set[str] = {str(v) for v in (headers or {}).values()}
        default_headers = {"Accept": "application/json", "User-Agent": user_agent}
        default_headers.update(headers or {})
        #: never sent to another host (a presigned upload URL): the credentials and the profile's own headers
        self._private_headers = {"authorization", *(name.lower() for name in headers or {})}
        if token is not None:
            default_headers["Authorization"] = self._authorization(token)
        if log is not None:
            log.protect(self._private_headers, self._secrets)
        hooks: dict[str, list[Callable[..., object]]] = {}
        if log is not None:
            hooks = {"request": [log.request], "response": [log.response]}
        # the network, through transports that keep each request's deadline (a test's or the sandbox's as given)
        network = deadlines.client_options() if transport is None else deadlines.ClientOptions(transport=transport)
        self._http = httpx.Client(base_url=self.base_url, headers=default_headers, event_hooks=hooks, **network)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the request path ----------------------------------------------------------------------------

    def _authorization(self, token: str) -> str:
        """The Authorization header for ``token``, which is checked first: httpx's own error for a bad value
        would quote it whole."""
        problem = redact.value_problem(token, spaces=False)
        if problem:
            raise AuthError(
                f"the token for {self.origin} cannot be sent: it has {problem} (not shown)",
                hint="set RELAY_API_KEY to a valid token, or run `relay login` again",
            )
        self._secrets.add(token)
        return f"{self._auth_method} {token}"

    def _idempotent(self, method: str, path: str, body: JSONValue) -> bool:
        """May this request be sent twice? GET, DELETE and PUT, and a save that replaces a given ``workflow_id``."""
        if method in ("GET", "DELETE", "PUT"):
            return True
        return (
            method == "POST" and path == "/ibot/workflow" and isinstance(body, dict) and bool(body.get("workflow_id"))
        )

    def _call(self, method: str, path: str, params: Params | None, body: JSONValue) -> _Call:
        return _Call(method, path, params=params, body=body, idempotent=self._idempotent(method, path, body))

    def _json(
        self, method: str, path: str, expect: shapes.Shape[T], *, params: Params | None = None, body: JSONValue = None
    ) -> T:
        """A request to the API whose answer must be JSON of the shape ``expect``: that JSON."""
        return self._answer(self._call(method, path, params, body), lambda answer: self._decode(answer, expect))

    def _converted(
        self,
        method: str,
        path: str,
        expect: shapes.Shape[T],
        convert: Callable[[T], R],
        *,
        params: Params | None = None,
        body: JSONValue = None,
    ) -> R:
        """``_json``, and the JSON turned into what the caller needs by ``convert``, which may find it unusable
        (``shapes.Mismatch``): an answer of an unexpected shape, like one ``expect`` refuses."""

        def read(answer: _Answer) -> R:
            value = self._decode(answer, expect)
            try:
                return convert(value)
            except shapes.Mismatch as mismatch:
                raise self._unexpected(answer, expect, str(mismatch)) from None

        return self._answer(self._call(method, path, params, body), read)

    def _write(self, method: str, path: str, *, params: Params | None = None, body: JSONValue = None) -> None:
        """A request whose answer needs to say nothing: an empty body, or any JSON."""
        self._answer(self._call(method, path, params, body), lambda answer: self._parsed(answer, empty=True))

    def _answer(self, call: _Call, read: Callable[[_Answer], R]) -> R:
        """Carry out ``call`` and make of its answer what ``read`` makes; an ApiError there is an answer that is not
        the API's, which a write may have been carried out all the same. Then ``on_write`` of a write."""
        answer = self._send(call)
        try:
            result = read(answer)
        except ApiError as err:
            raise self._fail(err, call, answer.attempt, True, True, always=call.method != "GET") from None
        if call.method != "GET" and self._on_write is not None:
            self._on_write(call.method, call.url)
        return result

    def _send(self, call: _Call) -> _Answer:
        """Carry out ``call`` (see the module's docstring): its answer, a success (or, ``raw``, whatever came once
        retries are done); a stream's response is open."""
        attempts = max(1, self._max_attempts if self._max_attempts is not None else MAX_ATTEMPTS)
        pause = self._wait if self._wait is not None else wait
        clock = self._clock
        budget_end = clock() + self.timeout * BUDGET_FACTOR
        where = _origin(call.url) if call.upload else self.origin
        attempt = 0
        refreshed = False
        maybe_done = False  # may an attempt so far have been carried out by the server?

        def fits(delay: float) -> bool:
            """Is there an attempt left, and time in the budget to wait ``delay`` and try again?"""
            return attempt < attempts and clock() + delay + min(self.timeout, 1.0) <= budget_end

        while True:
            attempt += 1
            allowed = max(0.001, min(self.timeout, budget_end - clock()))
            try:
                response, body = self._exchange(call, allowed)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, NEVER_SENT)
                maybe_done = maybe_done or not never_sent
                # reached, and no answer within the deadline: not sent again (the deadline is the user's)
                timed_out = isinstance(exc, httpx.TimeoutException) and not never_sent
                retryable = call.idempotent or never_sent
                wait_for = backoff(attempt)
                if retryable and not timed_out and fits(wait_for):
                    pause(wait_for)
                    continue
                raise self._fail(network_error(exc, where, allowed), call, attempt, maybe_done, retryable) from None
            except _TooBig:
                err = ApiError(
                    f"{where} answered {call.method} {self._path(call)} with more than {MAX_BODY // 2**20} MiB; "
                    f"relay reads at most {MAX_BODY // 2**20} MiB of an answer"
                )
                raise self._fail(err, call, attempt, True, True, always=call.method != "GET") from None
            except OSError as exc:  # the file to upload went away or became unreadable
                if call.content is None:
                    raise
                raise UsageError(f"cannot read the file to upload ({exc.strerror or exc})", option="--file") from None
            status = response.status_code
            if status == 401 and not call.upload and not refreshed and self._on_unauthorized is not None:
                refreshed = True  # a 401 is refused before anything is done: sending again is safe
                token = self._on_unauthorized()
                if token:
                    self._http.headers["Authorization"] = self._authorization(token)
                    attempts += 1  # the refused attempt does not use up a retry (and is still counted as sent)
                    continue
            if 300 <= status < 400:  # a write answered "see other" may well have been carried out
                err = self._redirect(call, response, where)
                raise self._fail(err, call, attempt, True, True, always=call.method != "GET") from None
            if status >= 400:
                retry_statuses = UPLOAD_RETRY_STATUSES if call.upload else RETRY_STATUSES
                delay: float | None = None
                if status in retry_statuses:
                    maybe_done = maybe_done or status in (500, 502, 504)
                    delay = retry_after(response) if status in (429, 503) else None
                    wanted = backoff(attempt) if delay is None else delay
                    if call.idempotent and (delay is None or delay <= RETRY_AFTER_MAX) and fits(wanted):
                        pause(wanted)
                        continue
                if call.raw:
                    return _Answer(call, response, body, where, attempt)
                if not (call.method == "DELETE" and maybe_done and status == 404):  # else an earlier attempt did it
                    err = self._status_error(call, response, body, where)
                    if delay is not None and call.idempotent and attempt < attempts:
                        err.message += f" (the server asks to retry after {delay:.0f} s)"
                    if attempt > 1 or call.upload or (status in retry_statuses and not call.idempotent):
                        maybe_done = maybe_done or status == 500
                        raise self._fail(err, call, attempt, maybe_done, call.idempotent) from None
                    raise self._masked(err) from None
                body = b""
            if call.stream:
                return _Answer(call, self._open_stream(call, response, where), b"", where, attempt)
            if call.upload:
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if kind in ("text/html", "application/xhtml+xml"):  # a portal's or a proxy's page: nothing was stored
                    err = ApiError(
                        f"{where} answered {call.method} {self._path(call)} with HTTP {status} and {_cut(kind, 60)}, "
                        "not object storage's answer",
                        status=status,
                    )
                    raise self._fail(err, call, attempt, True, True) from None
            return _Answer(call, response, body, where, attempt)

    def _exchange(self, call: _Call, allowed: float) -> tuple[httpx.Response, bytes]:
        """One attempt within ``allowed`` seconds: send, and read the answer (bounded) unless it is a stream."""
        at = time.monotonic() + allowed
        # a stream's reads have no timeout of their own: until its headers are in, the deadline bounds them
        read = call.stream_read if call.stream else allowed
        timeout = httpx.Timeout(allowed, connect=min(CONNECT_TIMEOUT, allowed), read=read)
        given = call.params or {}
        # a list of pairs (`relay api`: repeated keys, in order) is sent as it is
        params: list[tuple[str, str | int | float | bool | None]]
        params = list(given) if isinstance(given, list) else [(k, v) for k, v in given.items() if v is not None]
        with deadlines.deadline(at):
            request = self._http.build_request(
                call.method,
                call.url,
                params=params or None,
                json=call.body,
                content=call.data if call.data is not None else call.content() if call.content is not None else None,
                headers=call.headers,
                timeout=timeout,
            )
            if call.upload:
                for name in self._private_headers:
                    request.headers.pop(name, None)
            response = self._http.send(request, stream=True)
            keep_open = call.stream and response.is_success
            try:
                if keep_open:
                    return response, b""
                success = response.is_success
                body = _read(response, at, MAX_BODY if success else MAX_ERROR_BODY, cut=not success)
            finally:
                if not keep_open:
                    response.close()
        return response, body

    @staticmethod
    def _raw(answer: _Answer) -> RawAnswer:
        call, response, body = answer.call, answer.response, answer.body
        return RawAnswer(
            response.status_code,
            response.reason_phrase,
            response.http_version,
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers.raw],
            body,
            call.method,
            response.request.url.raw_path.decode("ascii", "replace"),
        )

    @staticmethod
    def _path(call: _Call) -> str:
        return urlsplit(call.url).path if call.upload else call.url

    def _suspect_host(self) -> str:
        return f": {self._host_question}" if self._host_question else ""

    def _redirect(self, call: _Call, response: httpx.Response, where: str) -> ApiError:
        """A 3xx: never followed (the credentials would go along); the error names where it pointed."""
        status = response.status_code
        what = f"{call.method} {self._path(call)}"
        location = response.headers.get("Location", "")
        question = "" if call.upload else self._suspect_host()  # an upload's URL came from the API, not RELAY_HOST
        if not location:
            return ApiError(f"{where} answered {what} with HTTP {status} (a redirect) but no Location{question}",
                            status=status)  # fmt: skip
        try:
            target = redact.url(str(response.request.url.join(location)))
        except (httpx.InvalidURL, ValueError, TypeError):
            target = redact.url(location)
        return ApiError(
            f"{where} answered {what} with HTTP {status}, a redirect to {_cut(target)}, which relay does not "
            f"follow{question}",
            status=status,
        )

    def _status_error(self, call: _Call, response: httpx.Response, body: bytes, where: str) -> ApiError:
        status = response.status_code
        if call.upload:
            reason = _storage_error(response, body) or response.reason_phrase
            return ApiError(f"uploading the file to {where} failed: HTTP {status} {_cut(reason)}", status=status)
        return self._refused(call.method, response.request.url.path, status, response.reason_phrase, body)

    def _refused(self, method: str, path: str, status: int, reason: str, body: bytes) -> ApiError:
        """The error for an API answer with a 4xx or 5xx status (``api.errors.http_error``, and what a 401 says of
        an API key)."""
        err = http_error(method, path, status, reason, body)
        err.message = _cut(err.message, 1000)
        if status == 401 and self._api_key_source is not None:
            err.message = f"{err.message}: the key in {self._api_key_source} is invalid or expired"
            err.hint = f"set {self._api_key_source} to a valid API token, or unset it and run `relay login`"
        return err

    def refused(self, answer: RawAnswer) -> ApiError:
        """What every command says of ``answer`` (from ``request``) when its status is 4xx or 5xx, its exit code
        the same: 4 on 401/403, 3 on 404, else 1."""
        path = answer.path.split("?", 1)[0]
        err = self._refused(answer.method, path, answer.status, answer.reason, answer.body)
        self._masked(err)  # in place
        return err

    def _decode(self, answer: _Answer, expect: shapes.Shape[T]) -> T:
        """The JSON of a successful answer, checked against ``expect``; an ApiError when it is not that."""
        value = self._parsed(answer, empty=False)
        if expect.ok(value):
            return value
        raise self._unexpected(answer, expect, expect.problem(value, ""))

    def _unexpected(self, answer: _Answer, expect: shapes.Shape[object], problem: str | None) -> ApiError:
        return ApiError(
            f"{answer.where} answered {answer.call.method} {self._path(answer.call)} with JSON of an unexpected "
            f"shape: expected {expect.text}, but {problem}{self._suspect_host()}",
            status=answer.response.status_code,
        )

    def _parsed(self, answer: _Answer, *, empty: bool) -> JSONValue:
        """The JSON of a successful answer (``empty``: an empty body is taken, as None); an ApiError when it is not
        JSON."""
        response, body = answer.response, answer.body
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not body or body.isspace():
            if empty:
                return None
            found = "an empty body"
        elif kind in NOT_JSON:
            found = _cut(kind, 60)
        else:
            try:
                value: JSONValue = shapes.loads(body)
            except (ValueError, RecursionError):
                found = f"a body that is not valid JSON ({_cut(kind, 60) or 'no content type'}, {len(body)} bytes)"
            else:
                return value
        raise ApiError(
            f"{answer.where} answered {answer.call.method} {self._path(answer.call)} with HTTP "
            f"{response.status_code} and {found}, not the API's JSON{self._suspect_host()}",
            status=response.status_code,
        )

    def _open_stream(self, call: _Call, response: httpx.Response, where: str) -> httpx.Response:
        """The checks a stream's headers can pass: it must not be a web page."""
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind in NOT_JSON:
            response.close()
            raise self._masked(ApiError(
                f"{where} answered {call.method} {self._path(call)} with HTTP {response.status_code} and "
                f"{_cut(kind, 60)}, not the API's JSON lines{self._suspect_host()}",
                status=response.status_code,
            ))  # fmt: skip
        return response

    def _masked(self, err: RelayError) -> RelayError:
        """``err`` with every known secret masked in its message and hint."""
        err.message = redact.known(err.message, self._secrets)
        err.args = (err.message,)
        if err.hint:
            err.hint = redact.known(err.hint, self._secrets)
        return err

    def _fail(
        self, err: RelayError, call: _Call, attempts: int, maybe_done: bool, retryable: bool, *, always: bool = False
    ) -> RelayError:
        """The final error of a request. After a retry, or for a write, it says how often the request was sent
        and whether it may have been carried out."""
        tried = "tried once" if attempts == 1 else f"tried {attempts} times"
        if call.upload:
            prefix = "" if err.message.startswith("uploading the file") else "uploading the file failed: "
            err.message = f"{prefix}{err.message} ({tried})"
            # the other hints name our own host's settings and login; this URL came from the API, signed
            err.hint = UPLOAD_REFUSED_HINT if isinstance(err, ApiError) and err.status == 403 else None
        elif attempts > 1 or not retryable or always:
            notes = [tried]
            if call.method != "GET":
                if maybe_done:
                    notes.append("it may have been carried out: check before doing it again")
                else:
                    notes.append("nothing was changed")
                if not retryable:
                    notes.append(
                        "not sent again, since only a request that provably never reached the server is repeated"
                    )
            err.message = f"{err.message} ({'; '.join(notes)})"
        err.maybe_done = maybe_done  # type: ignore[attr-defined]
        return self._masked(err)

    # --- any endpoint (`relay api`) -------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: JSONValue = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> RawAnswer:
        """One request to any endpoint of the API, through the same path as every other (deadline, retries,
        the 401 refresh, no redirect followed, bounded reads, redaction), its answer returned as it came,
        whatever its status: the caller decides what a 404 means. ``path`` is an absolute path on the API's host
        (``/ibot/...``); anything that would name another host is refused before anything is sent, so the
        credentials never leave it. Network failures, redirects and answers over ``MAX_BODY`` raise as usual."""
        if not path.startswith("/") or path.startswith("//") or "\\" in path:
            raise UsageError(f"expected an absolute path on the API's host, got {path!r}", option="PATH")
        if httpx.URL(self.base_url + path).host != self.host:  # a path httpx would read as naming a host
            raise UsageError(f"expected a path on {self.origin}, got {path!r}", option="PATH")
        call = _Call(
            method.upper(),
            path,
            params=params,
            body=json_body,
            data=data,
            headers=headers,
            idempotent=self._idempotent(method.upper(), path.split("?", 1)[0], json_body),
            raw=True,
        )
        # the answer is the caller's to judge, and it is a write's success only when its status says so
        answer = self._raw(self._send(call))
        if answer.ok and call.method != "GET" and self._on_write is not None:
            self._on_write(call.method, call.url)
        return answer

    # --- workflows -----------------------------------------------------------------------------

    def list_workflows(
        self, subscriber_id: str, *, editing: str | None = None, holding: tuple[str, ...] | None = None
    ) -> Listing:
        """The account's workflows, each ``config`` an object (one sent as a JSON string is parsed).

        ``holding``: the caller reads only the workflows whose JSON text holds one of these words, and sends none
        back (the checks of ``create``: the workflows of its name, the call workflows). Those are decoded and
        checked, the others left undecoded where the answer has the plain form ``{"results": [...]}``
        (``shapes.scan_listing``); else all are decoded and checked as always, and only the configs sent as text
        that hold a word are parsed. The listing has those workflows, or more; ``Listing.total`` counts all.

        ``editing``: the exact id or name of a workflow the caller changes and sends back whole (``install``,
        ``uninstall``, ``args set``/``unset``): the workflow it names must have the shape ``shapes.EDITABLE``,
        else the answer is refused like any malformed one.

        An answer with paging markers (``shapes.paging_markers``) is returned as it is, its markers in
        ``Listing.paging``, and ``notice`` is told (once per client); a caller that writes on the strength of
        the whole listing (``apply``'s creates and deletes, ``create --unique``) refuses such a listing:
        ``Listing.require_whole``."""
        params = {"subscriber_id": subscriber_id}

        def convert(data: shapes.Results) -> Listing:
            workflows = shapes.parse_configs(data["results"], "results", holding=holding)
            if editing is not None:
                shapes.editable(workflows, editing, "results")
            listing = Listing(workflows)
            listing.paging = shapes.paging_markers(data, len(workflows))
            listing.where = f"{self.origin} answered GET /ibot/workflow"
            return listing

        def read(answer: _Answer) -> Listing:
            kind = answer.response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            found = shapes.scan_listing(answer.body, holding) if holding is not None and kind not in NOT_JSON else None
            if found is not None:
                listing = Listing(found[0])
                listing.total = found[1]
                listing.where = f"{self.origin} answered GET /ibot/workflow"
                return listing
            value = self._decode(answer, shapes.WORKFLOWS)
            try:
                return convert(value)
            except shapes.Mismatch as mismatch:
                raise self._unexpected(answer, shapes.WORKFLOWS, str(mismatch)) from None

        listing = self._answer(self._call("GET", "/ibot/workflow", params, None), read)
        if listing.paging and self._notice is not None and not self._noticed_paging:
            self._noticed_paging = True
            self._notice(
                f"{listing.where} with paging markers ({', '.join(listing.paging)}): the {len(listing)} "
                f"workflow{'s' if len(listing) != 1 else ''} it holds may be only part of account {subscriber_id} "
                "(relay reads one page: Relay's paging of this listing is not public)"
            )
        return listing

    def save_workflow(self, subscriber_id: str, workflow: JSONObject) -> list[JSONObject]:
        """Create (no ``workflow_id``) or replace (with one). Returns the saved workflow(s)."""
        params = {"subscriber_id": subscriber_id}
        convert = lambda data: shapes.parse_configs(data, "")  # noqa: E731
        return self._converted("POST", "/ibot/workflow", shapes.SAVED, convert, params=params, body=workflow)

    def delete_workflow(self, subscriber_id: str, workflow_id: str) -> None:
        self._write("DELETE", f"/ibot/workflow/{_seg(workflow_id)}", params={"subscriber_id": subscriber_id})

    def trigger_workflow(self, subscriber_id: str, workflow_id: str, user_id: str, args: JSONObject) -> None:
        body = trigger_body(user_id, args)
        params = {"subscriber_id": subscriber_id, "user_id": user_id}
        self._write("POST", f"/ibot/workflow/{_seg(workflow_id)}", params=params, body=body)

    # --- instances, logs, analytics ------------------------------------------------------------

    def workflow_instances(self, subscriber_id: str) -> list[JSONObject]:
        return list(
            self._json("GET", "/ibot/workflow_instances", shapes.INSTANCES, params={"subscriber_id": subscriber_id})
        )

    def stop_instance(self, subscriber_id: str, instance_id: str) -> None:
        path = f"/ibot/workflow_instances/{_seg(instance_id)}"
        self._write("DELETE", path, params={"subscriber_id": subscriber_id})

    def workflow_logs(
        self,
        subscriber_id: str,
        *,
        workflow_id: str | None = None,
        user_id: str | None = None,
        until: float | None = None,
    ) -> Generator[JSONValue, None, None]:
        """Stream the realtime log: one JSON value per line (a line that is not JSON comes as
        ``{"message": line}``), until the server closes the stream. Only the connection and the headers are
        bounded by the deadline: the stream is long-lived by design. ``until`` (a ``time.monotonic()`` time):
        the stream ends there, quietly, whatever the server still sends (a look at what the log holds now)."""
        params = {"subscriber_id": subscriber_id, "workflow_id": workflow_id, "user_id": user_id}
        left = None if until is None else max(0.01, until - time.monotonic())
        response = self._send(
            _Call("GET", "/ibot/workflowdebug", params=params, stream=True, stream_read=left)
        ).response
        try:
            for raw in _lines(response, MAX_LOG_LINE):
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    try:
                        yield shapes.loads(line)
                    except (ValueError, RecursionError):
                        yield {"message": line}
                if until is not None and time.monotonic() >= until:
                    return
        except httpx.ReadTimeout as exc:
            if until is None:
                raise self._masked(network_error(exc, self.origin)) from None
        except httpx.TransportError as exc:
            raise self._masked(network_error(exc, self.origin)) from None
        except _TooBig:
            raise self._masked(ApiError(
                f"{self.origin} sent a log line longer than {MAX_LOG_LINE // 2**20} MiB on GET /ibot/workflowdebug; "
                "the stream was closed"
            )) from None  # fmt: skip
        finally:
            response.close()

    def sandbox_info(self) -> JSONObject:
        """``GET /_sandbox/info``: what a sandbox says it is (docs/sandbox.md); Relay itself answers 404."""
        return dict(self._json("GET", "/_sandbox/info", shapes.OBJECT))

    def sandbox_devices(self, subscriber_id: str) -> dict[str, str]:
        """``GET /_sandbox/devices``: a sandbox's devices, id → name (docs/sandbox.md); Relay itself answers 404."""
        params = {"subscriber_id": subscriber_id}
        data = self._json("GET", "/_sandbox/devices", shapes.NAMED_DEVICES, params=params)
        return {str(d["device_id"]): str(d["name"]) for d in data["devices"]}

    def sandbox_stream(self, path: str, subscriber_id: str, body: JSONObject) -> Iterator[JSONValue]:
        """``POST /_sandbox/events`` or ``/_sandbox/tick``: the JSON values of the answer's lines as they come
        (blank lines, the server's heartbeats, are skipped). Each read waits at most SANDBOX_IDLE seconds."""
        call = _Call(
            "POST",
            path,
            params={"subscriber_id": subscriber_id},
            body=body,
            idempotent=False,
            stream=True,
            stream_read=SANDBOX_IDLE,
        )
        response = self._send(call).response
        try:
            for raw in _lines(response, MAX_LOG_LINE):
                if raw.strip():
                    try:
                        yield shapes.loads(raw)
                    except (ValueError, RecursionError):
                        raise self._masked(
                            ApiError(f"{self.origin} answered POST {path} with a line that is not JSON")
                        ) from None
        except httpx.TransportError as exc:
            raise self._masked(network_error(exc, self.origin, SANDBOX_IDLE)) from None
        except _TooBig:
            raise self._masked(ApiError(f"{self.origin} sent a line longer than {MAX_LOG_LINE // 2**20} MiB")) from None
        finally:
            response.close()

    def analytics_events(self, subscriber_id: str, **query: str | int) -> JSONObject:
        """One page of ``GET /ibot/workflow_analytics_events``: ``{"data": [...], "cursor": ...}``."""
        params = {"subscriber_id": subscriber_id, **query}
        return dict(self._json("GET", "/ibot/workflow_analytics_events", shapes.PAGE, params=params))

    # --- account -------------------------------------------------------------------------------

    def device_ids(self, subscriber_id: str) -> list[str]:
        return self.devices(subscriber_id)[0]

    def devices(self, subscriber_id: str) -> tuple[list[str], dict[str, str]]:
        """The account's device ids, and their names where the answer gives them: the sandbox's does (its
        ``names``, device id → name); Relay's gives ids only. Names that are not strings are left out."""
        data = self._json("GET", f"/ibot/subscriber/{_seg(subscriber_id)}/device_ids", shapes.DEVICES)
        given = data.get("names")
        names = {k: v for k, v in given.items() if isinstance(v, str)} if isinstance(given, dict) else {}
        return list(data["devices"]), names

    def groups(self, subscriber_id: str) -> list[JSONObject]:
        return list(self._json("GET", "/ibot/groups", shapes.OBJECTS, params={"subscriber_id": subscriber_id}))

    def subscriber_info(self, subscriber_id: str) -> JSONObject:
        return dict(self._json("GET", f"/ibot/subscriber_info/{_seg(subscriber_id)}", shapes.OBJECT))

    def authz_context(self) -> list[JSONObject]:
        return list(self._json("GET", "/ibot/authz_context", shapes.OBJECTS))

    # --- geofences, venues and positions -----------------------------------------------------------

    def geofences(self, subscriber_id: str) -> list[JSONObject]:
        return self._results("/ibot/geofence", subscriber_id)

    def create_geofence(self, subscriber_id: str, body: JSONObject) -> JSONObject:
        params = {"subscriber_id": subscriber_id}
        return dict(self._json("POST", "/ibot/geofence", shapes.OBJECT, params=params, body=body))

    def delete_geofence(self, subscriber_id: str, geofence_id: str) -> None:
        self._write("DELETE", f"/ibot/geofence/{_seg(geofence_id)}", params={"subscriber_id": subscriber_id})

    def venues(self, subscriber_id: str) -> list[JSONObject]:
        return self._results("/ibot/indoor_venue", subscriber_id)

    def positions(self, subscriber_id: str, venue_id: str) -> list[JSONObject]:
        return self._results(f"/ibot/indoor_position/{_seg(venue_id)}", subscriber_id)

    # --- NFC tag configurations ----------------------------------------------------------------

    def nfc_tags(self, subscriber_id: str) -> list[JSONObject]:
        return self._results("/ibot/relay_nfc_tag", subscriber_id)

    def nfc_tag(self, subscriber_id: str, tag_id: str) -> JSONObject:
        path = f"/ibot/relay_nfc_tag/{_seg(tag_id)}"
        return dict(self._json("GET", path, shapes.TAG, params={"subscriber_id": subscriber_id}))

    def create_nfc_tag(self, subscriber_id: str, body: JSONObject) -> JSONObject:
        params = {"subscriber_id": subscriber_id}
        return dict(self._json("POST", "/ibot/relay_nfc_tag", shapes.OBJECT, params=params, body=body))

    def update_nfc_tag(self, subscriber_id: str, tag_id: str, body: JSONObject) -> None:
        path = f"/ibot/relay_nfc_tag/{_seg(tag_id)}"
        self._write("PUT", path, params={"subscriber_id": subscriber_id}, body=body)

    def delete_nfc_tag(self, subscriber_id: str, tag_id: str) -> None:
        self._write("DELETE", f"/ibot/relay_nfc_tag/{_seg(tag_id)}", params={"subscriber_id": subscriber_id})

    # --- users ---------------------------------------------------------------------------------

    def user_profiles(self, subscriber_id: str) -> list[JSONObject]:
        return self._results("/ibot/user_profile", subscriber_id)

    def audit_events(self, subscriber_id: str, **query: str | int) -> JSONObject:
        """One page of ``GET /ibot/audit``: ``{"data": [...], "cursor": ...}``."""
        return dict(self._json("GET", "/ibot/audit", shapes.PAGE, params={"subscriber_id": subscriber_id, **query}))

    # --- custom audio --------------------------------------------------------------------------------

    def custom_audio(self, subscriber_id: str) -> list[JSONObject]:
        """A bare list, as the API answers it."""
        return list(self._json("GET", "/ibot/custom_audio", shapes.OBJECTS, params={"subscriber_id": subscriber_id}))

    def create_custom_audio(self, subscriber_id: str, body: JSONObject) -> JSONObject:
        """``{"result": {"id", ...}, "s3_upload_url": ...}``: the record, and where to PUT the file. The caller
        checks that both fields are there, so that it can remove a record that came without an upload URL
        (``upload_presigned`` refuses one that is not an absolute http(s) URL)."""
        params = {"subscriber_id": subscriber_id}
        return dict(self._json("POST", "/ibot/custom_audio", shapes.AUDIO_CREATED, params=params, body=body))

    def delete_custom_audio(self, subscriber_id: str, audio_id: str) -> None:
        self._write("DELETE", f"/ibot/custom_audio/{_seg(audio_id)}", params={"subscriber_id": subscriber_id})

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
        asks for 500 to be retried too); each attempt reads the file again. A ``url`` that is not an absolute
        http(s) URL is an ApiError, before anything is sent: taken as a path, it would go to the API's host."""
        try:
            parts = urlsplit(url)
            absolute = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:  # a malformed host ("http://[::1")
            absolute = False
        if not absolute:
            raise self._masked(ApiError(
                f"the upload URL from {self.origin} is not an absolute http or https URL; nothing was uploaded"
            ))  # fmt: skip
        self._send(_Call(
            "PUT", url, content=lambda: _file_chunks(path, progress), upload=True,
            headers={"Content-Type": content_type, "Content-Length": str(size)},
        ))  # fmt: skip

    def _results(self, path: str, subscriber_id: str) -> list[JSONObject]:
        """The list in a ``{"results": [...]}`` answer."""
        return list(self._json("GET", path, shapes.RESULTS, params={"subscriber_id": subscriber_id})["results"])


def _read(response: httpx.Response, at: float, limit: int, *, cut: bool) -> bytes:
    """The answer's body, at most ``limit`` bytes (decoded): more is ``_TooBig``, or (``cut``) cut off there.
    Past the deadline ``at`` (a transport of a test or the sandbox, which the network backend does not see) it
    is a ``ReadTimeout``, like a slow socket."""
    declared = response.headers.get("Content-Length", "")
    if not cut and declared.isdigit() and int(declared) > limit:
        raise _TooBig
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if cut:
                return b"".join(chunks)[:limit]
            raise _TooBig
        if time.monotonic() > at:
            raise httpx.ReadTimeout("the request's deadline has passed", request=response.request)
    return b"".join(chunks)


def _lines(response: httpx.Response, limit: int) -> Iterator[bytes]:
    """The lines of a streamed body; a line longer than ``limit`` bytes is ``_TooBig`` (as soon as that many
    bytes of it have come). Linear however the line is cut up: the pieces of an unfinished line are kept in a list
    and joined once, when its newline comes, and only each new piece is searched for newlines (adding every piece
    to the line so far and splitting that again took time quadratic in the length of a line that trickles in)."""
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            size += end - start
            if size > limit:
                raise _TooBig
            parts.append(chunk[start:end])
            yield b"".join(parts)
            parts, size = [], 0
            start = end + 1
        if start < len(chunk):
            size += len(chunk) - start
            if size > limit:
                raise _TooBig
            parts.append(chunk[start:] if start else chunk)
    if parts:
        yield b"".join(parts)


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


def _storage_error(response: httpx.Response, body: bytes) -> str | None:
    """The ``<Code>`` and ``<Message>`` of an object store's XML error (S3: SignatureDoesNotMatch, AccessDenied,
    "Request has expired"), or a JSON ``error``/``message``; None when the body says neither."""
    import re

    text = body[:4096].decode("utf-8", "replace")
    found = [re.search(rf"<{tag}>([^<]{{1,300}})</{tag}>", text) for tag in ("Code", "Message")]
    parts = [m.group(1).strip() for m in found if m is not None]
    if not parts and "json" in response.headers.get("content-type", ""):
        error, message = detail(body)
        parts = [p for p in (error, message) if p]
    return ": ".join(parts) or None
