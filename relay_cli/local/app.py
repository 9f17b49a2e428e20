"""The sandbox's WSGI application: the subset of the Relay REST API that ``relay`` calls (relay-api.md, "Requests").

Every answer is JSON (``Content-Type: application/json``); errors are ``{"error": ..., "message": ...}`` with the
status codes of the real service: 400 bad input, 401 bad or missing token, 404 unknown account / workflow /
instance / path, 405 wrong method, 408 a body that did not arrive within the server's time limit, 409 a custom audio
name taken, 413 body too large, 500 anything unexpected.
Custom audio files are PUT to a presigned URL on this server (``/_sandbox/upload/...``), which checks its HMAC
signature and expiry instead of the token, as object storage would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlencode

from .store import SandboxStore

MAX_BODY = 1 << 20
#: custom audio: the largest file the presigned upload takes, and how long its URL stays valid (seconds)
MAX_UPLOAD = 64 << 20
UPLOAD_TTL = 900
UPLOAD_PREFIX = "/_sandbox/upload/custom_audio/"
POLL_INTERVAL = 0.5
HEARTBEAT_INTERVAL = 2.0
JSON = "application/json"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HttpError(Exception):
    """An error answer: status, the ``error`` code and a ``message`` for people."""

    def __init__(self, status: int, error: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or []


def bad_request(message: str, error: str = "invalid_request") -> HttpError:
    return HttpError(400, error, message)


def not_found(message: str) -> HttpError:
    return HttpError(404, "not_found", message)


# --- requests ----------------------------------------------------------------------------------------


class Request:
    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = _path_of(environ)
        self.query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        self._body: bytes | None = None

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self.environ.get(key)
        return None if value is None else str(value)

    def body(self) -> bytes:
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise bad_request("Content-Length is not a number") from None
            if length > MAX_BODY:
                raise HttpError(413, "payload_too_large", f"the body is larger than {MAX_BODY} bytes")
            self._body = read_input(self.environ, length) if length > 0 else b""
        return self._body

    def json(self) -> Any:
        raw = self.body()
        if not raw.strip():
            raise bad_request("expected a JSON body, got an empty one")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request(f"malformed JSON body: {exc}") from None

    def param(self, name: str) -> str | None:
        value = self.query.get(name)
        return value if value else None


def read_input(environ: dict[str, Any], size: int) -> bytes:
    """Up to ``size`` bytes of the request body (fewer at its end). ``relay server`` bounds the time a request may
    take to arrive; a body that misses it is 408 ``request_timeout``."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        return bytes(stream.read(size))
    except TimeoutError:
        raise HttpError(408, "request_timeout", "the request body did not arrive in full in time") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _path_of(environ: dict[str, Any]) -> str:
    path = str(environ.get("PATH_INFO") or "/")
    try:  # PEP 3333: PATH_INFO is bytes decoded as latin-1; undo that to get the UTF-8 text
        path = path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return path


# --- validation of bodies ------------------------------------------------------------------------------


def validate_workflow(body: Any) -> dict[str, Any]:
    """The body of ``POST /ibot/workflow``, checked; returns a copy whose ``config`` is an object.

    Raises ``HttpError`` 400 ``invalid_request`` with a message naming the first problem.
    """
    if not isinstance(body, dict):
        raise bad_request(f"expected a Workflow JSON object, got {_kind(body)}")
    if "workflow_id" in body and (not isinstance(body["workflow_id"], str) or not body["workflow_id"]):
        raise bad_request("workflow_id must be a non-empty string")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name must be a non-empty string")
    if "options" in body and not isinstance(body["options"], dict):
        raise bad_request(f"options must be an object, got {_kind(body['options'])}")
    config = body.get("config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            raise bad_request("config is a string that is not JSON") from None
    if not isinstance(config, dict):
        raise bad_request(f"config must be an object, got {_kind(config)}")
    trigger = config.get("trigger")
    if not isinstance(trigger, dict):
        raise bad_request("config.trigger must be an object")
    start = trigger.get("start")
    if not isinstance(start, dict) or not isinstance(start.get("workflow"), dict):
        raise bad_request("config.trigger.start.workflow must be an object")
    workflow = start["workflow"]
    if not isinstance(workflow.get("uri"), str):
        raise bad_request("config.trigger.start.workflow.uri must be a string")
    if "args" in workflow and not isinstance(workflow["args"], dict):
        raise bad_request("config.trigger.start.workflow.args must be an object")
    on_keys = sorted(key for key in trigger if key.startswith("on_"))
    if len(on_keys) != 1:
        found = ", ".join(on_keys) if on_keys else "none"
        raise bad_request(f"config.trigger must have exactly one on_* trigger key, found {found}")
    if "install" in body:
        install = body["install"]
        if not isinstance(install, list) or not all(isinstance(item, str) for item in install):
            raise bad_request("install must be a list of strings")
    if "install_rule" in body and not isinstance(body["install_rule"], str):
        raise bad_request("install_rule must be a string")
    return {**body, "config": config}


def validate_trigger(body: Any) -> tuple[list[str], dict[str, Any]]:
    """The body of ``POST /ibot/workflow/{id}``: returns (target_device_ids, action_args)."""
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {_kind(body)}")
    action = body.get("action")
    if action != "invoke":
        raise bad_request(f"action must be \"invoke\", got {json.dumps(action)}")
    targets = body.get("target_device_ids", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise bad_request("target_device_ids must be a list of strings")
    args = body.get("action_args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise bad_request("action_args must be an object")
    return targets, args


def validate_geofence(body: Any) -> dict[str, Any]:
    """The body of ``POST /ibot/geofence``: ``{label, radius}`` with ``address`` or ``lat`` and ``long``."""
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {_kind(body)}")
    if not isinstance(body.get("label"), str) or not body["label"].strip():
        raise bad_request("label must be a non-empty string")
    radius = body.get("radius")
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or radius <= 0:
        raise bad_request("radius must be a positive number")
    out: dict[str, Any] = {"label": body["label"], "radius": radius}
    if "address" in body:
        if not isinstance(body["address"], str) or not body["address"].strip():
            raise bad_request("address must be a non-empty string")
        out["address"] = body["address"]
        return out
    for key, limit in (("lat", 90), ("long", 180)):
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -limit <= value <= limit:
            raise bad_request(f"{key} must be a number between -{limit} and {limit} (or give an address)")
        out[key] = value
    return out


def validate_tag(body: Any) -> dict[str, str]:
    """The body of ``POST /ibot/relay_nfc_tag`` and ``PUT /ibot/relay_nfc_tag/{id}``: ``{"content": {...}}``."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
        raise bad_request("expected a JSON object with a content object")
    content = body["content"]
    if not all(isinstance(v, str) for v in content.values()):
        raise bad_request("content values must be strings")
    for key in ("type", "category", "label"):
        if not content.get(key):
            raise bad_request(f"content.{key} must be a non-empty string")
    return dict(content)


def validate_audio(body: Any, sub: str) -> str:
    """The body of ``POST /ibot/custom_audio``: ``{"audio_format": "wave", "subscriber_id", "short_name"}``;
    returns the short name."""
    if not isinstance(body, dict):
        raise bad_request("expected a JSON object")
    if body.get("audio_format") != "wave":
        raise bad_request(f"audio_format must be \"wave\", got {body.get('audio_format')!r}")
    if body.get("subscriber_id") != sub:
        raise bad_request("subscriber_id in the body must match the subscriber_id query parameter")
    name = body.get("short_name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("short_name must be a non-empty string")
    return name


#: analytics pages: the size when the request gives no ``limit``, and the most one page holds
PAGE_SIZE = 100


def _page_limit(value: str | None) -> int:
    if value is None:
        return PAGE_SIZE
    if not value.isdigit() or int(value) < 1:
        raise bad_request(f"limit must be a whole number, 1 or more, got {value!r}")
    return min(int(value), PAGE_SIZE)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _cursor_offset(value: str | None) -> int:
    if not value:
        return 0
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        kind, _, offset = text.partition(":")
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise bad_request(f"cursor {value!r} is not one this server sent")


def _page(req: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"data": [...], "cursor": ...}``: the page of ``items`` the request's ``limit`` and ``cursor`` select."""
    limit = _page_limit(req.param("limit"))
    start = _cursor_offset(req.param("cursor"))
    more = start + limit < len(items)
    return {"data": items[start:start + limit], "cursor": _cursor(start + limit) if more else None}


def _time_bound(value: str | None, name: str) -> str | None:
    """``oldest``/``latest`` as a comparable ``YYYY-MM-DDTHH:MM:SS...`` string: ISO 8601 or Unix seconds."""
    if value is None:
        return None
    try:
        when = (datetime.fromtimestamp(int(value), timezone.utc) if value.isdigit()
                else datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError):
        raise bad_request(f"{name} must be an ISO 8601 time or Unix seconds, got {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# --- the application -----------------------------------------------------------------------------------


class Response:
    def __init__(self, status: int = 200, body: Any = None, *, empty: bool = False,
                 stream: Iterator[bytes] | None = None, headers: list[tuple[str, str]] | None = None) -> None:
        self.status = status
        self.body = body
        self.empty = empty
        self.stream = stream
        self.headers = headers or []


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(", ", ": ")).encode("ascii")


def _log_line(event: dict[str, Any]) -> bytes:
    record = {
        "level": event["level"],
        "timestamp": event["timestamp"],
        "message": event["message"],
        "context": {
            "subscriber_id": event["subscriber_id"],
            "user_id": event["user_id"],
            "workflow_id": event["workflow_id"],
        },
    }
    return json.dumps(record, ensure_ascii=True).encode("ascii") + b"\n"


def make_app(
    store: SandboxStore,
    *,
    token: str | None,
    follow_logs: bool = False,
    stop: threading.Event | None = None,
    poll_interval: float = POLL_INTERVAL,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
) -> WSGIApp:
    """The WSGI application over ``store``.

    ``token``: when not None, every request needs ``Authorization: <scheme> <token>`` (any scheme word).
    ``follow_logs``: False → ``/ibot/workflowdebug`` answers the backlog and ends (in-process use); True → it
    keeps the stream open, polling the event log every ``poll_interval`` seconds (and writing a blank line every
    ``heartbeat_interval`` idle seconds, to notice a client that went away) until the client disconnects or
    ``stop`` is set.
    """
    stop_event = stop if stop is not None else threading.Event()

    # --- helpers ---------------------------------------------------------------------------------

    def subscriber(req: Request) -> str:
        sub = req.param("subscriber_id")
        if sub is None:
            raise bad_request("missing the subscriber_id query parameter")
        return known_subscriber(sub)

    def known_subscriber(sub: str) -> str:
        if store.account(sub) is None:
            raise not_found(f"no account with subscriber_id {sub!r}")
        return sub

    def check_install(sub: str, workflow: dict[str, Any]) -> None:
        install = workflow.get("install") or []
        devices = store.devices(sub)
        unknown = [d for d in install if d not in devices]
        if unknown:
            raise HttpError(
                400,
                "invalid_install_user_id",
                f"not a device or user of account {sub}: {', '.join(unknown)}",
            )

    # --- handlers --------------------------------------------------------------------------------

    def list_workflows(req: Request) -> Response:
        sub = subscriber(req)
        return Response(200, {"results": store.list_workflows(sub)})

    def save_workflow(req: Request) -> Response:
        sub = subscriber(req)
        workflow = validate_workflow(req.json())
        check_install(sub, workflow)
        workflow_id = workflow.get("workflow_id")
        if workflow_id is None:
            saved = store.create_workflow(sub, workflow)
        else:
            saved = store.replace_workflow(sub, workflow_id, workflow)
            if saved is None:
                raise not_found(f"no workflow {workflow_id!r} in account {sub}")
        return Response(200, [saved])

    def delete_workflow(req: Request, workflow_id: str) -> Response:
        sub = subscriber(req)
        if not store.delete_workflow(sub, workflow_id):
            raise not_found(f"no workflow {workflow_id!r} in account {sub}")
        return Response(204, empty=True)

    def trigger_workflow(req: Request, workflow_id: str) -> Response:
        sub = subscriber(req)
        targets, args = validate_trigger(req.json())
        user_id = req.param("user_id") or (targets[0] if targets else None)
        if user_id is None:
            raise bad_request("missing the user_id query parameter")
        if store.trigger(sub, workflow_id, user_id, args, targets) is None:
            raise not_found(f"no workflow {workflow_id!r} in account {sub}")
        return Response(200, empty=True)

    def list_instances(req: Request) -> Response:
        sub = subscriber(req)
        keys = ("instance_id", "subscriber_id", "triggering_user_id", "workflow_id", "workflow_uri")
        return Response(200, [{k: row[k] for k in keys} for row in store.list_instances(sub)])

    def stop_instance(req: Request, instance_id: str) -> Response:
        sub = subscriber(req)
        if not store.end_instance(sub, instance_id):
            raise not_found(f"no running workflow instance {instance_id!r} in account {sub}")
        return Response(204, empty=True)

    def workflow_logs(req: Request) -> Response:
        sub = subscriber(req)
        workflow_id = req.param("workflow_id")
        user_id = req.param("user_id")
        last = store.last_event_id(sub)
        backlog = store.events(sub, workflow_id=workflow_id, user_id=user_id, upto=last)
        chunk = b"".join(_log_line(e) for e in backlog)
        if not follow_logs:
            return Response(200, stream=iter([chunk] if chunk else []), headers=[("Content-Length", str(len(chunk)))])
        return Response(200, stream=follow(sub, workflow_id, user_id, last, chunk))

    def follow(sub: str, workflow_id: str | None, user_id: str | None, last: int, first: bytes) -> Iterator[bytes]:
        # The first chunk, even empty, makes the server send the headers at once.
        yield first
        idle = 0.0
        while not stop_event.wait(poll_interval):
            # The cursor is the account's newest event id, so rows filtered out are never scanned twice.
            newest = store.last_event_id(sub)
            rows = store.events(sub, after=last, workflow_id=workflow_id, user_id=user_id, upto=newest) if newest > last else []
            last = max(last, newest)
            if rows:
                idle = 0.0
                yield b"".join(_log_line(e) for e in rows)
                continue
            idle += poll_interval
            if idle >= heartbeat_interval:  # a blank line: lets the server notice a client that went away
                idle = 0.0
                yield b"\n"

    def analytics(req: Request) -> Response:
        """Reference-shaped ``workflow`` events: a ``start`` per instance, and a ``terminate`` once it ended."""
        sub = subscriber(req)
        filters = {k: req.param(k) for k in ("workflow_id", "workflow_instance_id", "user_id", "category", "source_type")}
        data = []
        for inst in store.list_instances(sub, running_only=False):
            commands: list[tuple[str, str, dict[str, Any]]] = [
                ("start", inst["started_at"], {"command": "start", "workflow_uri": inst["workflow_uri"]})
            ]
            if inst["ended_at"]:
                commands.append((
                    "terminate",
                    inst["ended_at"],
                    {
                        "command": "terminate",
                        "workflow_uri": inst["workflow_uri"],
                        "end_time": inst["ended_at"],
                        "terminate_reason": "stopped",
                    },
                ))
            for command, timestamp, content in commands:
                event = {
                    "id": f"{inst['instance_id']}:{command}",
                    "sub_id": sub,
                    "subscriber_id": sub,
                    "workflow_id": inst["workflow_id"],
                    "workflow_instance_id": inst["instance_id"],
                    "user_id": inst["triggering_user_id"],
                    "source_type": "system",
                    "category": "workflow",
                    "timestamp": timestamp,
                    "content_type": JSON,
                    "content": json.dumps(content),
                }
                if all(v is None or event.get(k) == v for k, v in filters.items()):
                    data.append(event)
        oldest, latest = _time_bound(req.param("oldest"), "oldest"), _time_bound(req.param("latest"), "latest")
        data = [e for e in data if (oldest is None or e["timestamp"] >= oldest) and (latest is None or e["timestamp"] <= latest)]
        data.sort(key=lambda e: (e["timestamp"], e["id"]), reverse=True)  # newest first
        return Response(200, _page(req, data))

    def device_ids(req: Request, sub: str) -> Response:
        known_subscriber(sub)
        return Response(200, {"devices": store.device_ids(sub)})

    def groups(req: Request) -> Response:
        sub = subscriber(req)
        return Response(200, store.groups(sub))

    def subscriber_info(req: Request, sub: str) -> Response:
        account = store.account(sub)
        if account is None:
            raise not_found(f"no account with subscriber_id {sub!r}")
        return Response(200, account)

    def authz_context(req: Request) -> Response:
        return Response(200, [{"subscriber_id": a["subscriber_id"]} for a in store.accounts()])

    # --- geofences, venues, positions, NFC tags, user profiles --------------------------------------

    def list_geofences(req: Request) -> Response:
        return Response(200, {"results": store.resources("geofence", subscriber(req))})

    def create_geofence(req: Request) -> Response:
        sub = subscriber(req)
        body = validate_geofence(req.json())
        geofence = {"geofence_id": "gf_" + secrets.token_hex(8), "address": "", "lat": "", "long": "", **body}
        for key in ("lat", "long"):
            geofence[key] = str(geofence[key])
        return Response(200, store.put_resource("geofence", sub, geofence["geofence_id"], geofence))

    def delete_geofence(req: Request, geofence_id: str) -> Response:
        sub = subscriber(req)
        if not store.delete_resource("geofence", sub, geofence_id):
            raise not_found(f"no geofence {geofence_id!r} in account {sub}")
        return Response(204, empty=True)

    def list_venues(req: Request) -> Response:
        return Response(200, {"results": store.resources("venue", subscriber(req))})

    def list_positions(req: Request, venue_id: str) -> Response:
        sub = subscriber(req)
        if store.resource("venue", sub, venue_id) is None:
            raise not_found(f"no venue {venue_id!r} in account {sub}")
        positions = [p for p in store.resources("position", sub) if p.get("venue_id") == venue_id]
        return Response(200, {"results": positions})

    def list_tags(req: Request) -> Response:
        return Response(200, {"results": store.resources("nfc_tag", subscriber(req))})

    def create_tag(req: Request) -> Response:
        sub = subscriber(req)
        content = validate_tag(req.json())
        tag = {"tag_id": "tag_" + secrets.token_hex(8), "subscriber_id": sub, "uid": "", "counter": 0, "content": content}
        return Response(200, store.put_resource("nfc_tag", sub, tag["tag_id"], tag))

    def get_tag(req: Request, tag_id: str) -> Response:
        sub = subscriber(req)
        tag = store.resource("nfc_tag", sub, tag_id)
        if tag is None:
            raise not_found(f"no NFC tag {tag_id!r} in account {sub}")
        return Response(200, tag)

    def update_tag(req: Request, tag_id: str) -> Response:
        sub = subscriber(req)
        content = validate_tag(req.json())
        tag = store.resource("nfc_tag", sub, tag_id)
        if tag is None:
            raise not_found(f"no NFC tag {tag_id!r} in account {sub}")
        store.put_resource("nfc_tag", sub, tag_id, {**tag, "content": content})
        return Response(204, empty=True)

    def delete_tag(req: Request, tag_id: str) -> Response:
        sub = subscriber(req)
        if not store.delete_resource("nfc_tag", sub, tag_id):
            raise not_found(f"no NFC tag {tag_id!r} in account {sub}")
        return Response(204, empty=True)

    def list_user_profiles(req: Request) -> Response:
        return Response(200, {"results": store.resources("user_profile", subscriber(req))})

    def audit(req: Request) -> Response:
        """Audit events, newest first, paged like the analytics: filtered by event_type, action, user_id (the
        ``id`` in an event's JSON ``data``), oldest and latest."""
        sub = subscriber(req)
        oldest, latest = _time_bound(req.param("oldest"), "oldest"), _time_bound(req.param("latest"), "latest")
        wanted = {k: req.param(k) for k in ("event_type", "action")}
        user = req.param("user_id")
        data = []
        for event in store.resources("audit", sub):
            if any(v is not None and event.get(k) != v for k, v in wanted.items()):
                continue
            if user is not None and json.loads(event.get("data") or "{}").get("id") != user:
                continue
            stamp = event["timestamp_action"]
            if (oldest is not None and stamp < oldest) or (latest is not None and stamp > latest):
                continue
            data.append({k: event[k] for k in ("audit_id", "action", "data", "timestamp_action")})
        data.sort(key=lambda e: (e["timestamp_action"], e["audit_id"]), reverse=True)
        return Response(200, _page(req, data))

    upload_key = secrets.token_bytes(32)  # signs this server's presigned upload URLs

    def upload_signature(sub: str, audio_id: str, expires: str) -> str:
        return hmac.new(upload_key, f"{sub}\n{audio_id}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def list_audio(req: Request) -> Response:
        return Response(200, store.resources("custom_audio", subscriber(req)))  # a bare list, as the API answers

    def create_audio(req: Request) -> Response:
        """The record, and a presigned URL (on this server) to PUT the file to: no Authorization needed there."""
        sub = subscriber(req)
        name = validate_audio(req.json(), sub)
        for existing in store.resources("custom_audio", sub):
            if existing.get("short_name") == name:
                raise HttpError(409, "conflict", f"an audio file named {name!r} exists already (id {existing['id']})")
        audio = {"id": "au_" + secrets.token_hex(8), "subscriber_id": sub, "audio_format": "wave", "short_name": name}
        store.put_resource("custom_audio", sub, audio["id"], audio)
        expires = str(int(time.time()) + UPLOAD_TTL)
        query = urlencode({
            "subscriber_id": sub, "expires": expires, "signature": upload_signature(sub, audio["id"], expires)
        })
        scheme = req.environ.get("wsgi.url_scheme", "http")
        host = req.header("Host") or f"{req.environ.get('SERVER_NAME')}:{req.environ.get('SERVER_PORT')}"
        return Response(200, {"result": audio, "s3_upload_url": f"{scheme}://{host}{UPLOAD_PREFIX}{audio['id']}?{query}"})

    def upload_audio(req: Request, audio_id: str) -> Response:
        """The presigned PUT: checked by its signature and expiry; the bytes are counted and hashed, not kept."""
        sub, expires, signature = req.param("subscriber_id"), req.param("expires"), req.param("signature") or ""
        if (
            sub is None or expires is None or not expires.isdigit()
            or not hmac.compare_digest(signature, upload_signature(sub, audio_id, expires))
        ):
            raise HttpError(403, "forbidden", "the upload URL's signature is not valid")
        if int(expires) < time.time():
            raise HttpError(403, "forbidden", "the upload URL has expired")
        if store.resource("custom_audio", sub, audio_id) is None:
            raise not_found(f"no custom audio {audio_id!r} in account {sub}")
        length_header = req.header("Content-Length")
        if length_header is None or not length_header.isdigit():
            raise HttpError(411, "length_required", "the upload needs a Content-Length header")
        length = int(length_header)
        if length > MAX_UPLOAD:
            raise HttpError(413, "payload_too_large", f"the file is larger than {MAX_UPLOAD} bytes")
        digest, received = hashlib.sha256(), 0
        while received < length:
            chunk = read_input(req.environ, min(1 << 16, length - received))
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
        if received != length:
            raise bad_request(f"the body has {received} bytes, Content-Length says {length}")
        upload = {"size": received, "sha256": digest.hexdigest(), "content_type": req.header("Content-Type")}
        store.put_resource("custom_audio_file", sub, audio_id, upload)
        return Response(200, empty=True)

    def delete_audio(req: Request, audio_id: str) -> Response:
        sub = subscriber(req)
        if not store.delete_resource("custom_audio", sub, audio_id):
            raise not_found(f"no custom audio {audio_id!r} in account {sub}")
        store.delete_resource("custom_audio_file", sub, audio_id)
        return Response(204, empty=True)

    seg = r"([^/]+)"
    routes: list[tuple[re.Pattern[str], dict[str, Callable[..., Response]]]] = [
        (re.compile(r"/ibot/workflow"), {"GET": list_workflows, "POST": save_workflow}),
        (re.compile(rf"/ibot/workflow/{seg}"), {"DELETE": delete_workflow, "POST": trigger_workflow}),
        (re.compile(r"/ibot/workflow_instances"), {"GET": list_instances}),
        (re.compile(rf"/ibot/workflow_instances/{seg}"), {"DELETE": stop_instance}),
        (re.compile(r"/ibot/workflowdebug"), {"GET": workflow_logs}),
        (re.compile(r"/ibot/workflow_analytics_events"), {"GET": analytics}),
        (re.compile(rf"/ibot/subscriber/{seg}/device_ids"), {"GET": device_ids}),
        (re.compile(r"/ibot/groups"), {"GET": groups}),
        (re.compile(rf"/ibot/subscriber_info/{seg}"), {"GET": subscriber_info}),
        (re.compile(r"/ibot/authz_context"), {"GET": authz_context}),
        (re.compile(r"/ibot/geofence"), {"GET": list_geofences, "POST": create_geofence}),
        (re.compile(rf"/ibot/geofence/{seg}"), {"DELETE": delete_geofence}),
        (re.compile(r"/ibot/indoor_venue"), {"GET": list_venues}),
        (re.compile(rf"/ibot/indoor_position/{seg}"), {"GET": list_positions}),
        (re.compile(r"/ibot/relay_nfc_tag"), {"GET": list_tags, "POST": create_tag}),
        (re.compile(rf"/ibot/relay_nfc_tag/{seg}"), {"GET": get_tag, "PUT": update_tag, "DELETE": delete_tag}),
        (re.compile(r"/ibot/user_profile"), {"GET": list_user_profiles}),
        (re.compile(r"/ibot/audit"), {"GET": audit}),
        (re.compile(r"/ibot/custom_audio"), {"GET": list_audio, "POST": create_audio}),
        (re.compile(rf"/ibot/custom_audio/{seg}"), {"DELETE": delete_audio}),
        (re.compile(rf"{UPLOAD_PREFIX}{seg}"), {"PUT": upload_audio}),
    ]

    def authorize(req: Request) -> None:
        if token is None or req.path.startswith(UPLOAD_PREFIX):  # a presigned upload carries its own signature
            return
        header = req.header("Authorization") or ""
        parts = header.split(None, 1)
        given = parts[1].strip() if len(parts) == 2 else ""
        if not given or not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            reason = "missing Authorization header" if not header else "invalid token"
            raise HttpError(401, "unauthorized", reason, headers=[("WWW-Authenticate", 'Bearer realm="relay-sandbox"')])

    def dispatch(req: Request) -> Response:
        authorize(req)
        for pattern, methods in routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            handler = methods.get(req.method)
            if handler is None:
                allow = ", ".join(methods)
                raise HttpError(405, "method_not_allowed", f"{req.method} is not allowed on {req.path}; use {allow}",
                                headers=[("Allow", allow)])
            return handler(req, *match.groups())
        raise not_found(f"no such endpoint: {req.path}")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = Request(environ)
        try:
            response = dispatch(req)
        except HttpError as exc:
            response = Response(exc.status, {"error": exc.error, "message": exc.message}, headers=exc.headers)
        except Exception as exc:  # noqa: BLE001 - the sandbox answers 500 rather than dropping the connection
            response = Response(500, {"error": "internal_error", "message": f"{type(exc).__name__}: {exc}"})
        headers = [("Content-Type", JSON), *response.headers]
        if response.stream is not None:
            start_response(_status_line(response.status), headers)
            return response.stream
        body = b"" if response.empty else _dumps(response.body)
        headers.append(("Content-Length", str(len(body))))
        start_response(_status_line(response.status), headers)
        return [body] if body else []

    return app
