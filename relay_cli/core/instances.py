"""Workflow instances as the reference CLI derives them from analytics events. Pure."""

import json
from collections.abc import Iterable

from ..jsontypes import JSONObject, JSONValue

JSON_TYPE = "application/json"


def _content(event: JSONObject) -> JSONValue:
    """The parsed content of an analytics event; None unless its content type is JSON."""
    if not str(event.get("content_type") or "").startswith(JSON_TYPE):
        return None
    content = event.get("content")
    if isinstance(content, str):
        try:
            parsed: JSONValue = json.loads(content)
        except ValueError:
            return None
        return parsed
    return content


def terminated(events: Iterable[JSONValue]) -> list[JSONObject]:
    """The ended instances named by ``workflow`` analytics events (their ``terminate`` commands), as the reference maps them."""
    out = []
    for event in events:
        if not isinstance(event, dict):
            continue
        content = _content(event)
        if not isinstance(content, dict) or content.get("command") != "terminate":
            continue
        out.append(
            {
                "instance_id": event.get("workflow_instance_id"),
                "subscriber_id": event.get("sub_id", event.get("subscriber_id")),
                "triggering_user_id": event.get("user_id"),
                "workflow_id": event.get("workflow_id"),
                "workflow_uri": content.get("workflow_uri"),
                "end_time": content.get("end_time"),
                "terminate_reason": content.get("terminate_reason"),
                "status": "terminated",
            }
        )
    return out
