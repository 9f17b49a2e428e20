"""The sandbox's endpoints: one function per method and path, ``handler(request, store) -> Response``, and
``ROUTES``, the table ``app.make_app`` dispatches on (the Relay API; docs/relay-api-more.md for the endpoints beyond workflows).

Each handler checks the request (query, JSON body) before it reads or writes the store, and answers the exact
shapes and status codes of the real service; a problem is an ``HttpError`` (400 bad input, 404 unknown account or
object, 409 a custom audio name taken, 403 a bad upload signature, ...), which ``app`` turns into the JSON error
answer. A handler can be called directly, without WSGI: ``list_workflows(Request(environ), store)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from ..core.kinds import json_kind as kind
from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from .store import Event, SandboxStore
from .web import JSON, HttpError, Request, Response, Route, bad_request, not_found, read_input

#: custom audio: the largest file the presigned upload takes, and how long its URL stays valid (seconds)
MAX_UPLOAD = 64 << 20
UPLOAD_TTL = 900
UPLOAD_PREFIX = "/_sandbox/upload/custom_audio/"


# --- validation of bodies ------------------------------------------------------------------------------


def validate_workflow(body: JSONValue) -> JSONObject:
    """The body of ``POST /ibot/workflow``, checked; returns a copy whose ``config`` is an object.

    Raises ``HttpError`` 400 ``invalid_request`` with a message naming the first problem.
    """
    if not isinstance(body, dict):
        raise bad_request(f"expected a Workflow JSON object, got {kind(body)}")
    if "workflow_id" in body and (not isinstance(wid := body["workflow_id"], str) or not wid):
        raise bad_request("workflow_id must be a non-empty string")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name must be a non-empty string")
    if "options" in body and not isinstance(body["options"], dict):
        raise bad_request(f"options must be an object, got {kind(body['options'])}")
    config = body.get("config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            raise bad_request("config is a string that is not JSON") from None
    if not isinstance(config, dict):
        raise bad_request(f"config must be an object, got {kind(config)}")
    trigger = config.get("trigger")
    if not isinstance(trigger, dict):
        raise bad_request("config.trigger must be an object")
    start = trigger.get("start")
    workflow = start.get("workflow") if isinstance(start, dict) else None
    if not isinstance(workflow, dict):
        raise bad_request("config.trigger.start.workflow must be an object")
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


def validate_trigger(body: JSONValue) -> tuple[list[str], JSONObject]:
    """The body of ``POST /ibot/workflow/{id}``: returns (target_device_ids, action_args)."""
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {kind(body)}")
    action = body.get("action")
    if action != "invoke":
        raise bad_request(f'action must be "invoke", got {json.dumps(action)}')
    targets = body.get("target_device_ids", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise bad_request("target_device_ids must be a list of strings")
    ids = [t for t in targets if isinstance(t, str)]  # each one, as checked
    args = body.get("action_args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise bad_request("action_args must be an object")
    return ids, args


def validate_geofence(body: JSONValue) -> JSONObject:
    """The body of ``POST /ibot/geofence``: ``{label, radius}`` with ``address`` or ``lat`` and ``long``."""
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {kind(body)}")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise bad_request("label must be a non-empty string")
    radius = body.get("radius")
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or radius <= 0:
        raise bad_request("radius must be a positive number")
    out: JSONObject = {"label": label, "radius": radius}
    if "address" in body:
        address = body["address"]
        if not isinstance(address, str) or not address.strip():
            raise bad_request("address must be a non-empty string")
        out["address"] = address
        return out
    for key, limit in (("lat", 90), ("long", 180)):
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -limit <= value <= limit:
            raise bad_request(f"{key} must be a number between -{limit} and {limit} (or give an address)")
        out[key] = value
    return out


def validate_tag(body: JSONValue) -> JSONObject:
    """The body of ``POST /ibot/relay_nfc_tag`` and ``PUT /ibot/relay_nfc_tag/{id}``: ``{"content": {...}}``."""
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        raise bad_request("expected a JSON object with a content object")
    if not all(isinstance(v, str) for v in content.values()):
        raise bad_request("content values must be strings")
    for key in ("type", "category", "label"):
        if not content.get(key):
            raise bad_request(f"content.{key} must be a non-empty string")
    return dict(content)


def validate_audio(body: JSONValue, sub: str) -> str:
    """The body of ``POST /ibot/custom_audio``: ``{"audio_format": "wave", "subscriber_id", "short_name"}``;
    returns the short name."""
    if not isinstance(body, dict):
        raise bad_request("expected a JSON object")
    if body.get("audio_format") != "wave":
        raise bad_request(f'audio_format must be "wave", got {body.get("audio_format")!r}')
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


def _page(req: Request, items: Sequence[object]) -> dict[str, object]:
    """``{"data": [...], "cursor": ...}``: the page of ``items`` the request's ``limit`` and ``cursor`` select."""
    limit = _page_limit(req.param("limit"))
    start = _cursor_offset(req.param("cursor"))
    more = start + limit < len(items)
    return {"data": items[start : start + limit], "cursor": _cursor(start + limit) if more else None}


def _time_bound(value: str | None, name: str) -> str | None:
    """``oldest``/``latest`` as a comparable ``YYYY-MM-DDTHH:MM:SS...`` string: ISO 8601 or Unix seconds."""
    if value is None:
        return None
    try:
        when = (
            datetime.fromtimestamp(int(value), UTC)
            if value.isdigit()
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except (ValueError, OverflowError, OSError):
        raise bad_request(f"{name} must be an ISO 8601 time or Unix seconds, got {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _log_line(event: Event) -> bytes:
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


# --- account checks shared by the handlers ---------------------------------------------------------------


def subscriber(req: Request, store: SandboxStore) -> str:
    """The ``subscriber_id`` query parameter: 400 when missing, 404 when the sandbox has no such account."""
    sub = req.param("subscriber_id")
    if sub is None:
        raise bad_request("missing the subscriber_id query parameter")
    return known_subscriber(sub, store)


def known_subscriber(sub: str, store: SandboxStore) -> str:
    if store.account(sub) is None:
        raise not_found(f"no account with subscriber_id {sub!r}")
    return sub


def check_install(sub: str, workflow: JSONObject, store: SandboxStore) -> None:
    """400 ``invalid_install_user_id`` naming every id in ``install`` that is not a device of the account."""
    install = workflow.get("install")  # a list of strings, or none: validate_workflow
    devices = store.devices(sub)
    unknown = [str(d) for d in (install if isinstance(install, list) else ()) if d not in devices]
    if unknown:
        raise HttpError(
            400,
            "invalid_install_user_id",
            f"not a device or user of account {sub}: {', '.join(unknown)}",
        )


# --- workflows, instances, logs, analytics -----------------------------------------------------------------


def list_workflows(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/workflow``: ``{"results": [...]}``, oldest first."""
    sub = subscriber(req, store)
    return Response(200, {"results": store.list_workflows(sub)})


def save_workflow(req: Request, store: SandboxStore) -> Response:
    """``POST /ibot/workflow``: a new workflow, or (with ``workflow_id`` in the body) the whole of one replaced;
    answers ``[workflow]``."""
    sub = subscriber(req, store)
    workflow = validate_workflow(req.json())
    check_install(sub, workflow, store)
    workflow_id = workflow.get("workflow_id")  # a string when there is one: validate_workflow
    saved: JSONObject | None
    if not isinstance(workflow_id, str):
        saved = store.create_workflow(sub, workflow)
    else:
        saved = store.replace_workflow(sub, workflow_id, workflow)
        if saved is None:
            raise not_found(f"no workflow {workflow_id!r} in account {sub}")
    return Response(200, [saved])


def delete_workflow(req: Request, store: SandboxStore) -> Response:
    """``DELETE /ibot/workflow/{workflow_id}``: 204; its running instances end."""
    sub, workflow_id = subscriber(req, store), req.path_params["workflow_id"]
    if not store.delete_workflow(sub, workflow_id):
        raise not_found(f"no workflow {workflow_id!r} in account {sub}")
    return Response(204, empty=True)


def trigger_workflow(req: Request, store: SandboxStore) -> Response:
    """``POST /ibot/workflow/{workflow_id}`` with ``{"action": "invoke", ...}``: starts the HTTP workflow for the
    user, as Relay does: connects to its URI and plays the conversation (``conversations.trigger_http``); 200, no
    body, once the app accepted the connection. 424 ``workflow_unavailable`` when it cannot be reached."""
    sub, workflow_id = subscriber(req, store), req.path_params["workflow_id"]
    targets, args = validate_trigger(req.json())
    user_id = req.param("user_id") or (targets[0] if targets else None)
    if user_id is None:
        raise bad_request("missing the user_id query parameter")
    workflow = store.get_workflow(sub, workflow_id)
    if workflow is None:
        raise not_found(f"no workflow {workflow_id!r} in account {sub}")
    from .conversations import runtime_of, trigger_http

    trigger_http(runtime_of(req.options, store), sub, workflow, user_id, args)
    return Response(200, empty=True)


def list_instances(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/workflow_instances``: the running instances, a bare list."""
    sub = subscriber(req, store)
    return Response(
        200,
        [
            {
                "instance_id": row["instance_id"],
                "subscriber_id": row["subscriber_id"],
                "triggering_user_id": row["triggering_user_id"],
                "workflow_id": row["workflow_id"],
                "workflow_uri": row["workflow_uri"],
            }
            for row in store.list_instances(sub)
        ],
    )


def stop_instance(req: Request, store: SandboxStore) -> Response:
    """``DELETE /ibot/workflow_instances/{instance_id}``: 204."""
    sub, instance_id = subscriber(req, store), req.path_params["instance_id"]
    if not store.end_instance(sub, instance_id):
        raise not_found(f"no running workflow instance {instance_id!r} in account {sub}")
    return Response(204, empty=True)


def workflow_logs(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/workflowdebug``: the event log as JSON lines, filtered by ``workflow_id`` and ``user_id``; the
    backlog, then (``options.follow_logs``) new lines as they come."""
    sub = subscriber(req, store)
    workflow_id = req.param("workflow_id")
    user_id = req.param("user_id")
    last = store.last_event_id(sub)
    backlog = store.events(sub, workflow_id=workflow_id, user_id=user_id, upto=last)
    chunk = b"".join(_log_line(e) for e in backlog)
    if not req.options.follow_logs:
        return Response(200, stream=iter([chunk] if chunk else []), headers=[("Content-Length", str(len(chunk)))])
    return Response(200, stream=_follow(req, store, sub, workflow_id, user_id, last, chunk))


def _follow(
    req: Request, store: SandboxStore, sub: str, workflow_id: str | None, user_id: str | None, last: int, first: bytes
) -> Iterator[bytes]:
    options = req.options
    # The first chunk, even empty, makes the server send the headers at once.
    yield first
    idle = 0.0
    while not options.stop.wait(options.poll_interval):
        # The cursor is the account's newest event id, so rows filtered out are never scanned twice.
        newest = store.last_event_id(sub)
        rows = (
            store.events(sub, after=last, workflow_id=workflow_id, user_id=user_id, upto=newest)
            if newest > last
            else []
        )
        last = max(last, newest)
        if rows:
            idle = 0.0
            yield b"".join(_log_line(e) for e in rows)
            continue
        idle += options.poll_interval
        if idle >= options.heartbeat_interval:  # a blank line: lets the server notice a client that went away
            idle = 0.0
            yield b"\n"


def analytics(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/workflow_analytics_events``: reference-shaped ``workflow`` events, a ``start`` per instance and a
    ``terminate`` once it ended, newest first, paged."""
    sub = subscriber(req, store)
    filters = {k: req.param(k) for k in ("workflow_id", "workflow_instance_id", "user_id", "category", "source_type")}
    oldest, latest = _time_bound(req.param("oldest"), "oldest"), _time_bound(req.param("latest"), "latest")
    found: list[tuple[str, str, dict[str, str | None]]] = []  # (timestamp, id, event)
    for inst in store.list_instances(sub, running_only=False):
        commands: list[tuple[str, str, JSONObject]] = [
            ("start", inst["started_at"], {"command": "start", "workflow_uri": inst["workflow_uri"]})
        ]
        if inst["ended_at"]:
            commands.append(
                (
                    "terminate",
                    inst["ended_at"],
                    {
                        "command": "terminate",
                        "workflow_uri": inst["workflow_uri"],
                        "end_time": inst["ended_at"],
                        "terminate_reason": "stopped",
                    },
                )
            )
        for command, timestamp, content in commands:
            event_id = f"{inst['instance_id']}:{command}"
            event = {
                "id": event_id,
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
            if not all(v is None or event.get(k) == v for k, v in filters.items()):
                continue
            if (oldest is None or timestamp >= oldest) and (latest is None or timestamp <= latest):
                found.append((timestamp, event_id, event))
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)  # newest first
    return Response(200, _page(req, [event for _, _, event in found]))


# --- the account ----------------------------------------------------------------------------------------------


def device_ids(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/subscriber/{subscriber_id}/device_ids``: ``{"devices": [...]}``, as Relay answers, and the
    sandbox's own ``"names"`` (device id → name), which ``relay devices`` shows."""
    sub = known_subscriber(req.path_params["subscriber_id"], store)
    devices = store.devices(sub)
    return Response(200, {"devices": list(devices), "names": devices})


def groups(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/groups``: a bare list."""
    sub = subscriber(req, store)
    return Response(200, store.groups(sub))


def subscriber_info(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/subscriber_info/{subscriber_id}``: the account."""
    sub = req.path_params["subscriber_id"]
    account = store.account(sub)
    if account is None:
        raise not_found(f"no account with subscriber_id {sub!r}")
    return Response(200, account)


def authz_context(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/authz_context``: the accounts the token may act on."""
    return Response(200, [{"subscriber_id": a["subscriber_id"]} for a in store.accounts()])


# --- geofences, venues, positions, NFC tags, user profiles, audit -------------------------------------------------


def list_geofences(req: Request, store: SandboxStore) -> Response:
    return Response(200, {"results": store.resources("geofence", subscriber(req, store))})


def create_geofence(req: Request, store: SandboxStore) -> Response:
    """``POST /ibot/geofence``: the new geofence; ``lat``/``long`` as strings (``""`` with an address)."""
    sub = subscriber(req, store)
    body = validate_geofence(req.json())
    geofence_id = "gf_" + secrets.token_hex(8)
    geofence: JSONObject = {"geofence_id": geofence_id, "address": "", "lat": "", "long": "", **body}
    for key in ("lat", "long"):
        geofence[key] = str(geofence[key])
    return Response(200, store.put_resource("geofence", sub, geofence_id, geofence))


def delete_geofence(req: Request, store: SandboxStore) -> Response:
    sub, geofence_id = subscriber(req, store), req.path_params["geofence_id"]
    if not store.delete_resource("geofence", sub, geofence_id):
        raise not_found(f"no geofence {geofence_id!r} in account {sub}")
    return Response(204, empty=True)


def list_venues(req: Request, store: SandboxStore) -> Response:
    return Response(200, {"results": store.resources("venue", subscriber(req, store))})


def list_positions(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/indoor_position/{venue_id}``: the venue's positions; 404 for an unknown venue."""
    sub, venue_id = subscriber(req, store), req.path_params["venue_id"]
    if store.resource("venue", sub, venue_id) is None:
        raise not_found(f"no venue {venue_id!r} in account {sub}")
    positions = [p for p in store.resources("position", sub) if p.get("venue_id") == venue_id]
    return Response(200, {"results": positions})


def list_tags(req: Request, store: SandboxStore) -> Response:
    return Response(200, {"results": store.resources("nfc_tag", subscriber(req, store))})


def create_tag(req: Request, store: SandboxStore) -> Response:
    sub = subscriber(req, store)
    content = validate_tag(req.json())
    tag_id = "tag_" + secrets.token_hex(8)
    tag: JSONObject = {"tag_id": tag_id, "subscriber_id": sub, "uid": "", "counter": 0, "content": content}
    return Response(200, store.put_resource("nfc_tag", sub, tag_id, tag))


def get_tag(req: Request, store: SandboxStore) -> Response:
    sub, tag_id = subscriber(req, store), req.path_params["tag_id"]
    tag = store.resource("nfc_tag", sub, tag_id)
    if tag is None:
        raise not_found(f"no NFC tag {tag_id!r} in account {sub}")
    return Response(200, tag)


def update_tag(req: Request, store: SandboxStore) -> Response:
    """``PUT /ibot/relay_nfc_tag/{tag_id}``: replaces the content; 204."""
    sub, tag_id = subscriber(req, store), req.path_params["tag_id"]
    content = validate_tag(req.json())
    tag = store.resource("nfc_tag", sub, tag_id)
    if tag is None:
        raise not_found(f"no NFC tag {tag_id!r} in account {sub}")
    store.put_resource("nfc_tag", sub, tag_id, {**tag, "content": content})
    return Response(204, empty=True)


def delete_tag(req: Request, store: SandboxStore) -> Response:
    sub, tag_id = subscriber(req, store), req.path_params["tag_id"]
    if not store.delete_resource("nfc_tag", sub, tag_id):
        raise not_found(f"no NFC tag {tag_id!r} in account {sub}")
    return Response(204, empty=True)


def list_user_profiles(req: Request, store: SandboxStore) -> Response:
    return Response(200, {"results": store.resources("user_profile", subscriber(req, store))})


def audit(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/audit``: audit events, newest first, paged like the analytics: filtered by event_type, action,
    user_id (the ``id`` in an event's JSON ``data``), oldest and latest."""
    sub = subscriber(req, store)
    oldest, latest = _time_bound(req.param("oldest"), "oldest"), _time_bound(req.param("latest"), "latest")
    wanted = {k: req.param(k) for k in ("event_type", "action")}
    user = req.param("user_id")
    found: list[tuple[str, str, JSONObject]] = []  # (time, id, event)
    for event in store.resources("audit", sub):  # as seed.py wrote them: times and ids are strings
        if any(v is not None and event.get(k) != v for k, v in wanted.items()):
            continue
        if user is not None and _data_id(event) != user:
            continue
        stamp = str(event["timestamp_action"])
        if (oldest is not None and stamp < oldest) or (latest is not None and stamp > latest):
            continue
        item = {k: event[k] for k in ("audit_id", "action", "data", "timestamp_action")}
        found.append((stamp, str(event["audit_id"]), item))
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    return Response(200, _page(req, [item for _, _, item in found]))


def _data_id(event: JSONObject) -> JSONValue:
    """The ``id`` in an audit event's ``data``, a JSON object in a string."""
    text = event.get("data")
    data: JSONValue = json.loads(text) if isinstance(text, str) and text else {}
    return data.get("id") if isinstance(data, dict) else None


# --- custom audio --------------------------------------------------------------------------------------------


def upload_signature(req: Request, sub: str, audio_id: str, expires: str) -> str:
    """The HMAC of a presigned upload URL, keyed by the app's ``options.upload_key``."""
    message = f"{sub}\n{audio_id}\n{expires}".encode()
    return hmac.new(req.options.upload_key, message, hashlib.sha256).hexdigest()


def list_audio(req: Request, store: SandboxStore) -> Response:
    """``GET /ibot/custom_audio``: a bare list, as the API answers."""
    return Response(200, store.resources("custom_audio", subscriber(req, store)))


def create_audio(req: Request, store: SandboxStore) -> Response:
    """``POST /ibot/custom_audio``: the record, and a presigned URL (on this server) to PUT the file to: no
    Authorization needed there. 409 when the account has an audio file of that name."""
    sub = subscriber(req, store)
    name = validate_audio(req.json(), sub)
    for existing in store.resources("custom_audio", sub):
        if existing.get("short_name") == name:
            raise HttpError(409, "conflict", f"an audio file named {name!r} exists already (id {existing['id']})")
    audio_id = "au_" + secrets.token_hex(8)
    audio: JSONObject = {"id": audio_id, "subscriber_id": sub, "audio_format": "wave", "short_name": name}
    store.put_resource("custom_audio", sub, audio_id, audio)
    expires = str(int(time.time()) + UPLOAD_TTL)
    query = urlencode(
        {"subscriber_id": sub, "expires": expires, "signature": upload_signature(req, sub, audio_id, expires)}
    )
    scheme = req.environ.get("wsgi.url_scheme", "http")
    host = req.header("Host") or f"{req.environ.get('SERVER_NAME')}:{req.environ.get('SERVER_PORT')}"
    return Response(200, {"result": audio, "s3_upload_url": f"{scheme}://{host}{UPLOAD_PREFIX}{audio_id}?{query}"})


def upload_audio(req: Request, store: SandboxStore) -> Response:
    """``PUT /_sandbox/upload/custom_audio/{audio_id}``, the presigned upload: checked by its signature and expiry
    (403), not the token; the bytes are counted and hashed, not kept."""
    audio_id = req.path_params["audio_id"]
    sub, expires, signature = req.param("subscriber_id"), req.param("expires"), req.param("signature") or ""
    if (
        sub is None
        or expires is None
        or not expires.isdigit()
        or not hmac.compare_digest(signature, upload_signature(req, sub, audio_id, expires))
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
    upload: JSONObject = {"size": received, "sha256": digest.hexdigest(), "content_type": req.header("Content-Type")}
    store.put_resource("custom_audio_file", sub, audio_id, upload)
    return Response(200, empty=True)


def delete_audio(req: Request, store: SandboxStore) -> Response:
    sub, audio_id = subscriber(req, store), req.path_params["audio_id"]
    if not store.delete_resource("custom_audio", sub, audio_id):
        raise not_found(f"no custom audio {audio_id!r} in account {sub}")
    store.delete_resource("custom_audio_file", sub, audio_id)
    return Response(204, empty=True)


# --- the sandbox's own endpoints: device events, timers (docs/sandbox.md) --------------------------------------


def sandbox_info(req: Request, store: SandboxStore) -> Response:
    """``GET /_sandbox/info``: what this server is (the CLI's ``relay sandbox`` commands check it is ours)."""
    from .. import __version__
    from ..core.sandbox import SANDBOX_NAME
    from .conversations import MAX_CONVERSATIONS

    runtime = req.options.shared.runtime
    return Response(
        200,
        {
            "sandbox": SANDBOX_NAME,
            "version": __version__,
            "max_conversations": runtime.limit if runtime is not None else MAX_CONVERSATIONS,
            "conversations": runtime.running if runtime is not None else 0,
        },
    )


def sandbox_devices(req: Request, store: SandboxStore) -> Response:
    """``GET /_sandbox/devices``: the account's devices with their names, which Relay's API does not give (its
    ``device_ids`` are ids only): ``relay workflow dev --device Carol`` finds Carol's id here."""
    sub = subscriber(req, store)
    return Response(200, {"devices": [{"device_id": i, "name": n} for i, n in store.devices(sub).items()]})


def sandbox_event(req: Request, store: SandboxStore) -> Response:
    """``POST /_sandbox/events``: something happens on a device (``{"event": "press", "device": "Alice", ...}``):
    the workflows it starts are started and played; the answer streams their transcripts as JSON lines. 404
    ``device_not_found`` / ``no_match`` (naming what is installed), 400 for a bad body, 503 when the sandbox runs
    its most conversations: nothing was started."""
    import queue

    from ..core import sandbox as matching
    from . import conversations as cv
    from .devices import KINDS, device_event

    sub = subscriber(req, store)
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {kind(body)}", error="invalid_event")
    options = cv.play_options(body)
    if body.get("event") not in KINDS:
        raise bad_request(
            f"event: expected one of {', '.join(KINDS)}, got {body.get('event')!r}", error="invalid_event"
        )
    world = cv.world_of(store, sub)
    cv.check_sets(str(body["event"]), options, world)
    device_id, device_name, event = device_event(store, sub, body)
    workflows, groups = store.list_workflows(sub), store.groups(sub)
    found = matching.starts(workflows, event, device_id, groups)
    if not found:
        on_device = matching.installed(workflows, device_id, groups)
        raise HttpError(404, "no_match", matching.no_match(device_name, event, on_device))
    started_by = f"started by {event.describe()} on {device_name} ({device_id})"
    try:
        plans = [cv.plan(start, device_id, event, options, world, started_by) for start in found]
    except UsageError as exc:
        raise bad_request(exc.message, error="invalid_options") from None
    out: queue.Queue[JSONObject] = queue.Queue()
    runtime = cv.runtime_of(req.options, store)
    runs = runtime.begin(sub, plans, options, out)
    header = {
        "device": {"id": device_id, "name": device_name},
        "event": event.describe(),
        "started": [run.describe() for run in runs],
    }
    return Response(200, stream=cv.stream(runtime, header, runs, out))


def sandbox_tick(req: Request, store: SandboxStore) -> Response:
    """``POST /_sandbox/tick`` (``{"at": ISO time}``, default now): start the timer workflows due by then since
    they last ran, as ``relay server`` does while it runs; the answer streams like an event's. 404
    ``nothing_due`` naming each timer workflow's next time."""
    import queue

    from . import conversations as cv

    sub = subscriber(req, store)
    body = req.json() if req.body().strip() else {}
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {kind(body)}", error="invalid_event")
    options = cv.play_options(body)
    at_text = body.get("at")
    try:
        at = datetime.fromisoformat(str(at_text).replace("Z", "+00:00")) if at_text is not None else datetime.now(UTC)
    except ValueError:
        raise bad_request(
            f"at: expected an ISO 8601 time with its zone, got {at_text!r}", error="invalid_event"
        ) from None
    if at.tzinfo is None:
        raise bad_request(f"at: expected an ISO 8601 time with its zone, got {at_text!r}", error="invalid_event")
    at = at.astimezone(UTC)
    cv.check_sets("timer", options, cv.world_of(store, sub))
    out: queue.Queue[JSONObject] = queue.Queue()
    runtime = cv.runtime_of(req.options, store)
    runs, upcoming = cv.start_due_timers(runtime, sub, at, options, out)
    if not runs:
        waiting = f"; timer workflows: {', '.join(upcoming)}" if upcoming else "; the account has no timer workflow"
        raise HttpError(404, "nothing_due", f"no timer workflow is due by {at.isoformat()}{waiting}")
    header = {"device": None, "event": f"timers due by {at.isoformat()}", "started": [run.describe() for run in runs]}
    return Response(200, stream=cv.stream(runtime, header, runs, out))


# --- the routing table ---------------------------------------------------------------------------------------

#: method + path pattern → handler. For a path with several methods, the order here is the order of the 405's Allow.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/ibot/workflow", list_workflows),
    Route("POST", "/ibot/workflow", save_workflow),
    Route("DELETE", "/ibot/workflow/{workflow_id}", delete_workflow),
    Route("POST", "/ibot/workflow/{workflow_id}", trigger_workflow),
    Route("GET", "/ibot/workflow_instances", list_instances),
    Route("DELETE", "/ibot/workflow_instances/{instance_id}", stop_instance),
    Route("GET", "/ibot/workflowdebug", workflow_logs),
    Route("GET", "/ibot/workflow_analytics_events", analytics),
    Route("GET", "/ibot/subscriber/{subscriber_id}/device_ids", device_ids),
    Route("GET", "/ibot/groups", groups),
    Route("GET", "/ibot/subscriber_info/{subscriber_id}", subscriber_info),
    Route("GET", "/ibot/authz_context", authz_context),
    Route("GET", "/ibot/geofence", list_geofences),
    Route("POST", "/ibot/geofence", create_geofence),
    Route("DELETE", "/ibot/geofence/{geofence_id}", delete_geofence),
    Route("GET", "/ibot/indoor_venue", list_venues),
    Route("GET", "/ibot/indoor_position/{venue_id}", list_positions),
    Route("GET", "/ibot/relay_nfc_tag", list_tags),
    Route("POST", "/ibot/relay_nfc_tag", create_tag),
    Route("GET", "/ibot/relay_nfc_tag/{tag_id}", get_tag),
    Route("PUT", "/ibot/relay_nfc_tag/{tag_id}", update_tag),
    Route("DELETE", "/ibot/relay_nfc_tag/{tag_id}", delete_tag),
    Route("GET", "/ibot/user_profile", list_user_profiles),
    Route("GET", "/ibot/audit", audit),
    Route("GET", "/ibot/custom_audio", list_audio),
    Route("POST", "/ibot/custom_audio", create_audio),
    Route("DELETE", "/ibot/custom_audio/{audio_id}", delete_audio),
    Route("PUT", UPLOAD_PREFIX + "{audio_id}", upload_audio),
    Route("GET", "/_sandbox/info", sandbox_info),
    Route("GET", "/_sandbox/devices", sandbox_devices),
    Route("POST", "/_sandbox/events", sandbox_event),
    Route("POST", "/_sandbox/tick", sandbox_tick),
)
