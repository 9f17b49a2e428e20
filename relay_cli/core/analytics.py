"""Analytics events (``GET /ibot/workflow_analytics_events``): the query, the time bounds, cursor paging and how
an event's content is shown. Pure: the one request is a callable the caller passes in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from ..errors import ApiError
from ..jsontypes import JSONObject, JSONValue

#: the reference CLI's default for ``--limit``
DEFAULT_LIMIT = 20
SOURCE_TYPES = ("system", "user")
#: content types whose content is JSON text (the reference parses these two)
JSON_CONTENT_TYPES = ("application/json", "application/vnd.relay.tasks.parameters.v2+json")

_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class BadTime(ValueError):
    """A --oldest/--latest value that is none of the accepted forms."""


def parse_time(value: str, *, now: datetime | None = None) -> str:
    """The query value for ``--oldest``/``--latest``.

    Accepted: an ISO 8601 date or date-time (without a zone it is UTC, the zone the events' own timestamps
    are in), a duration ago (``30m``, ``2h``, ``7d``, ``1w``), or Unix seconds (sent as given). The result
    is ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, or the digits unchanged."""
    text = value.strip()
    if not text:
        raise BadTime("expected a time, got an empty value")
    if text.isdigit():
        return text
    match = _RELATIVE.fullmatch(text.lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        when = (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
        return _iso(when)
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise BadTime(
            f"expected an ISO 8601 time (2026-11-23T09:30:00Z, 2026-11-23), a duration ago (30m, 2h, 7d, 1w) "
            f"or Unix seconds, got {value!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _iso(when)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _comparable(value: str) -> float:
    if value.isdigit():
        return float(value)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def check_bounds(oldest: str | None, latest: str | None) -> None:
    """Raises BadTime when the window is empty (``oldest`` after ``latest``)."""
    if oldest is not None and latest is not None and _comparable(oldest) > _comparable(latest):
        raise BadTime(f"the oldest time ({oldest}) is after the latest ({latest})")


def build_query(
    *,
    category: str | None = None,
    workflow_id: str | None = None,
    instance_id: str | None = None,
    user_id: str | None = None,
    source_type: str | None = None,
    oldest: str | None = None,
    latest: str | None = None,
) -> dict[str, str]:
    """The filters, named and ordered as the reference CLI sends them (``subscriber_id``, ``limit`` and
    ``cursor`` are added by the caller and by ``collect``)."""
    pairs = [
        ("workflow_id", workflow_id),
        ("workflow_instance_id", instance_id),
        ("user_id", user_id),
        ("source_type", source_type),
        ("category", category),
        ("oldest", oldest),
        ("latest", latest),
    ]
    return {key: value for key, value in pairs if value}


class CursorLoop(ApiError):
    """The server sent a cursor it had already sent, or page after page with no events and always a new cursor:
    paging would never end (exit 1, like any API failure)."""


#: pages in a row that hold no event but name a next one, after which paging stops as endless (the real API
#: ends with an empty cursor; each page costs a request, so this bounds a server that never does)
EMPTY_PAGES_MAX = 20


def collect(
    fetch: Callable[[dict[str, str | int]], JSONValue],
    query: Mapping[str, str | int],
    *,
    limit: int | None,
    cursor: str | None = None,
) -> tuple[list[JSONObject], str | None]:
    """Events page after page: ``fetch(query)`` returns ``{"data": [...], "cursor": ...}``.

    With ``limit``, each request asks for the events still wanted (``limit=N``) and paging stops once there
    are ``limit`` of them; without, it stops when the cursor is empty. Returns the events and the cursor of
    the next page (None when there is none)."""
    events: list[JSONObject] = []
    seen: set[str] = set()
    empty = 0  # pages in a row without an event
    while True:
        page_query = dict(query)
        if limit is not None:
            page_query["limit"] = limit - len(events)
        if cursor:
            page_query["cursor"] = cursor
        page = fetch(page_query) or {}
        data = page.get("data") if isinstance(page, dict) else page
        before = len(events)
        events.extend(e for e in (data if isinstance(data, list) else ()) if isinstance(e, dict))
        empty = empty + 1 if len(events) == before else 0
        next_cursor = page.get("cursor") if isinstance(page, dict) else None
        cursor = str(next_cursor) if next_cursor else None
        if limit is not None and len(events) >= limit:
            return events[:limit], cursor
        if cursor is None:
            return events, None
        if cursor in seen:
            raise CursorLoop(f"the server sent the analytics cursor {cursor!r} twice; stopped paging")
        if empty >= EMPTY_PAGES_MAX:
            raise CursorLoop(
                f"the server sent {empty} pages in a row with no events, each naming a next page; stopped paging at "
                f"the cursor {cursor!r}"
            )
        seen.add(cursor)


def content_text(event: JSONObject, *, parse: bool = True) -> str:
    """An event's content for a table cell: JSON content types as compact one-line JSON when ``parse``."""
    content = event.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        return json.dumps(content, separators=(", ", ": "), ensure_ascii=False)
    if parse and event.get("content_type") in JSON_CONTENT_TYPES:
        try:
            return json.dumps(json.loads(content), separators=(", ", ": "), ensure_ascii=False)
        except ValueError:
            return content
    return content
