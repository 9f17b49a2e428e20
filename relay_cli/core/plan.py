"""The plan of ``relay workflow diff`` / ``apply``: the manifest's workflows against the account's, matched by name.

Pure: takes the desired bodies (``core.manifest``) and the stored workflows (``GET /ibot/workflow``) and says
what to create, what to update (and which fields changed), what is unchanged, and — with ``prune`` — what to
delete. Only the fields a manifest manages are compared: name, URI, the trigger, args, install targets and the
options transient / hidden / absorb_triggers. Fields the server adds are kept as they are on update.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from . import workflow as wf

#: the fields ``apply`` owns; the order is the order changes are listed in
FIELDS = ("uri", "trigger", "install", "options.transient", "options.hidden", "options.absorb_triggers")


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class Create:
    name: str
    body: dict[str, Any]


@dataclass
class Update:
    name: str
    workflow_id: str
    body: dict[str, Any]  # the whole object to POST, with its workflow_id
    changes: list[Change]


@dataclass
class Keep:
    name: str
    workflow_id: str


@dataclass
class Plan:
    create: list[Create] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    unchanged: list[Keep] = field(default_factory=list)
    delete: list[Keep] = field(default_factory=list)
    #: stored workflows the manifest does not list, kept because there was no --prune
    unmanaged: list[Keep] = field(default_factory=list)
    #: stored workflows sharing a manifest name with the one the plan keeps (deleted with --prune)
    duplicates: list[Keep] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.create or self.update or self.delete)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)

    def summary(self) -> str:
        return (
            f"{len(self.create)} to create, {len(self.update)} to update, {len(self.delete)} to delete, "
            f"{len(self.unchanged)} unchanged"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "in_sync": self.in_sync,
            "create": [{"name": c.name, "body": c.body} for c in self.create],
            "update": [
                {"name": u.name, "workflow_id": u.workflow_id, "changes": [c.to_json() for c in u.changes]}
                for u in self.update
            ],
            "unchanged": [{"name": k.name, "workflow_id": k.workflow_id} for k in self.unchanged],
            "delete": [{"name": k.name, "workflow_id": k.workflow_id} for k in self.delete],
            "unmanaged": [{"name": k.name, "workflow_id": k.workflow_id} for k in self.unmanaged],
            "duplicates": [{"name": k.name, "workflow_id": k.workflow_id} for k in self.duplicates],
        }


# --- the comparable view of a workflow -----------------------------------------------------------------


def _install(workflow: dict[str, Any]) -> Any:
    rule = workflow.get("install_rule")
    if rule:
        return str(rule)
    return [str(d) for d in workflow.get("install") or []]


def view(workflow: dict[str, Any]) -> dict[str, Any]:
    """The managed fields of a workflow, defaults filled in (transient true, hidden false, no args, no installs)."""
    workflow = wf.normalize(workflow)
    options = o if isinstance(o := workflow.get("options"), dict) else {}
    trig = wf.trigger_of(workflow)
    out: dict[str, Any] = {
        "uri": wf.uri_of(workflow),
        "trigger": {k: v for k, v in trig.items() if k != "start"},
        "install": _install(workflow),
        "options.transient": options.get("transient", True),
        "options.hidden": options.get("hidden", False),
        "options.absorb_triggers": list(options.get("absorb_triggers") or []),
    }
    for name, value in wf.args_of(workflow).items():
        out[f"args.{name}"] = value
    return out


def same(a: Any, b: Any) -> bool:
    """Equality of JSON values that tells booleans from numbers (Python has True == 1) and ignores 2 vs 2.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _same_field(key: str, old: Any, new: Any) -> bool:
    if key == "install" and isinstance(old, list) and isinstance(new, list):
        return sorted(set(old)) == sorted(set(new)) and len(old) == len(new)  # the order of ids means nothing
    return same(old, new)


_MISSING = object()


def changes(existing: dict[str, Any], desired: dict[str, Any]) -> list[Change]:
    """What differs between a stored workflow and the body the manifest builds: managed fields, then args."""
    old, new = view(existing), view(desired)
    out: list[Change] = []
    keys = list(FIELDS) + sorted({k for k in (*old, *new) if k.startswith("args.")})
    for key in keys:
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a is _MISSING and b is _MISSING:
            continue
        if a is _MISSING or b is _MISSING or not _same_field(key, a, b):
            out.append(Change(key, None if a is _MISSING else a, None if b is _MISSING else b))
    return out


def merged(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The update body: the stored object (server fields kept) with every managed field from ``desired``."""
    existing = wf.normalize(existing)
    body = {
        k: copy.deepcopy(v)
        for k, v in existing.items()
        if k not in ("name", "config", "install", "install_rule", "options")
    }
    options = dict(o) if isinstance(o := existing.get("options"), dict) else {}
    options.pop("absorb_triggers", None)
    options.update(copy.deepcopy(desired.get("options") or {}))
    config = copy.deepcopy(c) if isinstance(c := existing.get("config"), dict) else {}
    config["trigger"] = copy.deepcopy(wf.trigger_of(desired))
    body.update({"name": desired["name"], "options": options, "config": config})
    for key in ("install", "install_rule"):
        if key in desired:
            body[key] = copy.deepcopy(desired[key])
    body["workflow_id"] = existing["workflow_id"]
    return body


# --- the plan ------------------------------------------------------------------------------------------


def compare(desired: list[tuple[str, dict[str, Any]]], existing: list[dict[str, Any]], *, prune: bool = False) -> Plan:
    """``desired``: (name, body) pairs, names unique. ``existing``: the account's workflows, as listed."""
    plan = Plan()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for workflow in existing:
        by_name.setdefault(str(workflow.get("name")), []).append(workflow)
    wanted = {name for name, _ in desired}
    for name, body in desired:
        candidates = by_name.get(name, [])
        if not candidates:
            plan.create.append(Create(name, body))
            continue
        # several stored workflows with this name: keep one that already matches, else the oldest
        found = [(w, changes(w, body)) for w in candidates]
        keep, diff = next(((w, d) for w, d in found if not d), found[0])
        for other, _ in found:
            if other is not keep:
                plan.duplicates.append(Keep(name, str(other.get("workflow_id"))))
        if diff:
            plan.update.append(Update(name, str(keep.get("workflow_id")), merged(keep, body), diff))
        else:
            plan.unchanged.append(Keep(name, str(keep.get("workflow_id"))))
    for workflow in existing:
        name = str(workflow.get("name"))
        if name not in wanted:
            (plan.delete if prune else plan.unmanaged).append(Keep(name, str(workflow.get("workflow_id"))))
    if prune:
        plan.delete.extend(plan.duplicates)
    return plan


def after(plan: Plan, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The account's workflows once the plan is carried out (new ones without an id), for preflight checks."""
    gone = {k.workflow_id for k in plan.delete}
    replaced = {u.workflow_id: u.body for u in plan.update}
    result = [replaced.get(str(w.get("workflow_id")), w) for w in existing if str(w.get("workflow_id")) not in gone]
    result.extend(c.body for c in plan.create)
    return result


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def describe_change(change: Change) -> str:
    if change.old is None and change.field.startswith("args."):
        return f"{change.field}: added {format_value(change.new)}"
    if change.new is None and change.field.startswith("args."):
        return f"{change.field}: removed (was {format_value(change.old)})"
    return f"{change.field}: {format_value(change.old)} -> {format_value(change.new)}"
