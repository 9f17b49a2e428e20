"""Workflow instances as the reference CLI derives them from analytics events. Pure."""

import json
from typing import Any

JSON_TYPE = "application/json"


def _content(event: dict[str, Any]) -> Any:
    """The parsed content of an analytics event; None unless its content type is JSON."""
    if not str(event.get("content_type") or "").startswith(JSON_TYPE):
        return None
    content = event.get("content")
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return None
    return content


def terminated(events: list[Any]) -> list[dict[str, Any]]:
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
