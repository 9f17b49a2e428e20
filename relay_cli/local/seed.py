"""The demo account a new sandbox database starts with."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypedDict

from ..jsontypes import JSONObject

if TYPE_CHECKING:
    import sqlite3

DEMO_SUBSCRIBER = "demo-account"
DEMO_ACCOUNT_NAME = "Demo account"
DEMO_CAPABILITIES: dict[str, bool] = {"workflow_sdk": True, "calling": True, "indoor_positioning": False}

DEMO_DEVICES: dict[str, str] = {
    "990007560045678": "Alice",
    "990007560023456": "Bob",
    "990007560011111": "Carol",
    "990007560022222": "Dave",
    "990007560033333": "Eve",
}


class Group(TypedDict):
    group_id: str
    name: str
    #: device ids
    members: list[str]


DEMO_GROUP: Group = {
    "group_id": "urn:relay-resource:id:tag:front-desk",
    "name": "Front desk",
    "members": ["990007560045678", "990007560023456"],
}

DEMO_VENUE: JSONObject = {"venue_id": "venue-hq", "venue_name": "Headquarters"}
DEMO_POSITIONS: list[JSONObject] = [
    {"position_id": "pos-lobby", "venue_id": "venue-hq", "tags": ["lobby", "entrance"]},
    {"position_id": "pos-kitchen", "venue_id": "venue-hq", "tags": ["kitchen"]},
]
DEMO_USERS: list[JSONObject] = [
    {"user_profile_id": "up-alice", "username": "alice"},
    {"user_profile_id": "up-bob", "username": "bob"},
]

#: audit events: which user profile was assigned to which device (``GET /ibot/audit``)
DEMO_ASSIGNMENTS: list[JSONObject] = [
    {
        "audit_id": "audit-0001",
        "event_type": "ibot_user_profile",
        "action": "assigned",
        "data": json.dumps({"id": "up-alice", "device_id": "990007560045678"}),
        "timestamp_action": "2026-01-05T09:00:00.000Z",
    },
    {
        "audit_id": "audit-0002",
        "event_type": "ibot_user_profile",
        "action": "assigned",
        "data": json.dumps({"id": "up-bob", "device_id": "990007560023456"}),
        "timestamp_action": "2026-01-05T09:05:00.000Z",
    },
]


def seed(conn: sqlite3.Connection) -> None:
    """Insert the demo account into a freshly created schema. ``conn`` is inside the store's write transaction."""
    conn.execute(
        "INSERT OR IGNORE INTO accounts (subscriber_id, name, capabilities) VALUES (?, ?, ?)",
        (DEMO_SUBSCRIBER, DEMO_ACCOUNT_NAME, json.dumps(DEMO_CAPABILITIES)),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO devices (subscriber_id, device_id, name) VALUES (?, ?, ?)",
        [(DEMO_SUBSCRIBER, device_id, name) for device_id, name in DEMO_DEVICES.items()],
    )
    conn.execute(
        "INSERT OR IGNORE INTO groups (group_id, subscriber_id, name, members) VALUES (?, ?, ?, ?)",
        (DEMO_GROUP["group_id"], DEMO_SUBSCRIBER, DEMO_GROUP["name"], json.dumps(DEMO_GROUP["members"])),
    )
    resources = [("venue", DEMO_VENUE["venue_id"], DEMO_VENUE)]
    resources += [("position", p["position_id"], p) for p in DEMO_POSITIONS]
    resources += [("user_profile", u["user_profile_id"], u) for u in DEMO_USERS]
    resources += [("audit", a["audit_id"], a) for a in DEMO_ASSIGNMENTS]
    conn.executemany(
        "INSERT OR IGNORE INTO resources (kind, resource_id, subscriber_id, body) VALUES (?, ?, ?, ?)",
        [(kind, rid, DEMO_SUBSCRIBER, json.dumps(body)) for kind, rid, body in resources],
    )
