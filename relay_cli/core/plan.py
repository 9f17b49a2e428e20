"""The plan of ``relay workflow diff`` / ``apply``: the manifest's workflows against the account's, matched by name.

Pure: takes the desired bodies (``core.manifest``) and the stored workflows (``GET /ibot/workflow``) and says
what to create, what to update (and which fields changed), what is unchanged, and — with ``prune`` — what to
delete. For a typed entry only the fields a manifest manages are compared: name, URI, the trigger, args, install
targets and the options transient / hidden / absorb_triggers; fields the server adds are kept as they are on
update. A raw entry (``raw``) is compared with the whole stored workflow, and sent as it is.

Duplicates: when the account holds several workflows of a name the manifest declares, the plan keeps one (one
that already matches, else any; of those, the lowest ``workflow_id``: the same one whoever computes it) and lists
the others in ``duplicates``; they are drift (``in_sync`` is false) and are deleted only with ``dedupe``.

What a manifest cannot describe (``indescribable``: no name a manifest can hold, a number JSON cannot write) is
left alone, also by ``prune``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field

from ..jsontypes import JSONObject, JSONValue
from . import workflow as wf
from .kinds import json_kind

#: the fields ``apply`` owns; the order is the order changes are listed in
FIELDS = ("uri", "trigger", "install", "options.transient", "options.hidden", "options.absorb_triggers")


@dataclass(frozen=True)
class Change:
    field: str
    old: JSONValue
    new: JSONValue

    def to_json(self) -> JSONObject:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class Create:
    name: str
    body: JSONObject


@dataclass
class Update:
    name: str
    workflow_id: str
    body: JSONObject  # the whole object to POST, with its workflow_id
    changes: list[Change]


@dataclass
class Keep:
    name: str
    workflow_id: str


@dataclass
class Duplicate:
    """A stored workflow of a name the manifest declares, besides the one the plan keeps (``kept``)."""

    name: str
    workflow_id: str
    kept: str


@dataclass
class Plan:
    create: list[Create] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    unchanged: list[Keep] = field(default_factory=list)
    delete: list[Keep] = field(default_factory=list)
    #: stored workflows the manifest does not list, kept because there was no --prune
    unmanaged: list[Keep] = field(default_factory=list)
    #: stored workflows sharing a manifest name with the one the plan keeps (drift; deleted with --dedupe)
    duplicates: list[Duplicate] = field(default_factory=list)
    #: stored workflows a manifest cannot describe, left alone whatever the flags (name: "" when it has none)
    indescribable: list[tuple[Keep, str]] = field(default_factory=list)
    #: the names of the manifest's raw entries
    raw: frozenset[str] = frozenset()

    @property
    def in_sync(self) -> bool:
        return not (self.create or self.update or self.delete or self.duplicates)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)

    def summary(self) -> str:
        text = (
            f"{len(self.create)} to create, {len(self.update)} to update, {len(self.delete)} to delete, "
            f"{len(self.unchanged)} unchanged"
        )
        extra = [d for d in self.duplicates if not any(k.workflow_id == d.workflow_id for k in self.delete)]
        if extra:
            text += f", {len(extra)} duplicate{'s' if len(extra) != 1 else ''} left (--dedupe deletes {'them' if len(extra) != 1 else 'it'})"
        return text

    def to_json(self) -> JSONObject:
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
            "duplicates": [{"name": d.name, "workflow_id": d.workflow_id, "kept": d.kept} for d in self.duplicates],
            "left_alone": [
                {"name": k.name, "workflow_id": k.workflow_id, "reason": why} for k, why in self.indescribable
            ],
        }


# --- the comparable view of a workflow -----------------------------------------------------------------


def _install(workflow: JSONObject) -> JSONValue:
    rule = workflow.get("install_rule")
    if rule:
        return str(rule)
    return [str(d) for d in wf.install_list(workflow)]


def view(workflow: JSONObject) -> JSONObject:
    """The managed fields of a workflow, defaults filled in (transient true, hidden false, no args, no installs)."""
    workflow = wf.normalize(workflow)
    options = o if isinstance(o := workflow.get("options"), dict) else {}
    trig = wf.trigger_of(workflow)
    absorb = options.get("absorb_triggers") or []  # a list; anything else is shown as it is
    out: JSONObject = {
        "uri": wf.uri_of(workflow),
        "trigger": {k: v for k, v in trig.items() if k != "start"},
        "install": _install(workflow),
        "options.transient": options.get("transient", True),
        "options.hidden": options.get("hidden", False),
        "options.absorb_triggers": list(absorb) if isinstance(absorb, list) else absorb,
    }
    for name, value in wf.args_of(workflow).items():
        out[f"args.{name}"] = value
    return out


def same(a: JSONValue, b: JSONValue) -> bool:
    """Equality of JSON values that tells booleans from numbers (Python has True == 1) and ignores 2 vs 2.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (a != a and b != b)  # NaN is the same as NaN
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _same_field(key: str, old: JSONValue, new: JSONValue) -> bool:
    if key == "install" and isinstance(old, list) and isinstance(new, list):
        # the order of ids means nothing (``_install`` made them strings)
        return sorted(set(map(str, old))) == sorted(set(map(str, new))) and len(old) == len(new)
    return same(old, new)


def changes(existing: JSONObject, desired: JSONObject) -> list[Change]:
    """What differs between a stored workflow and the body the manifest builds: managed fields, then args."""
    old, new = view(existing), view(desired)
    out: list[Change] = []
    keys = list(FIELDS) + sorted({k for k in (*old, *new) if k.startswith("args.")})
    for key in keys:
        if key not in old and key not in new:
            continue
        a, b = old.get(key), new.get(key)
        if key not in old or key not in new or not _same_field(key, a, b):
            out.append(Change(key, a, b))
    return out


def raw_changes(existing: JSONObject, desired: JSONObject) -> list[Change]:
    """What differs between a stored workflow and a raw entry's body: every top-level key but ``workflow_id``,
    compared exactly (``same``), in the body's order, then the keys only the stored workflow has."""
    existing = wf.normalize(existing)
    out: list[Change] = []
    keys = [k for k in desired if k != "workflow_id"] + [k for k in existing if k not in desired and k != "workflow_id"]
    for key in keys:
        a, b = existing.get(key), desired.get(key)
        if key not in existing or key not in desired or not same(a, b):
            out.append(Change(key, a, b))
    return out


def changes_of(existing: JSONObject, desired: JSONObject, raw: bool) -> list[Change]:
    return raw_changes(existing, desired) if raw else changes(existing, desired)


def update_body(existing: JSONObject, desired: JSONObject, raw: bool) -> JSONObject:
    """The body that replaces ``existing`` with ``desired``: a raw entry's body as it is, with the stored id;
    else ``merged``."""
    if raw:
        return {"workflow_id": existing["workflow_id"], **copy.deepcopy(desired)}
    return merged(existing, desired)


_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: why a workflow holding NaN or infinity (which Python's JSON reader accepts) cannot be written back
NOT_JSON = "it holds a number JSON cannot write (NaN or infinity)"


def unnameable(workflow: JSONObject) -> str | None:
    """Why a manifest cannot name a stored workflow (None when it can): a missing or non-string name, or a lone
    surrogate in it (which a TOML key cannot hold)."""
    name = workflow.get("name")
    if not isinstance(name, str):
        return f"its name is {'missing' if name is None else json_kind(name)}, not a string"
    if _SURROGATE.search(name):
        return "its name holds a lone surrogate, which a TOML key cannot"
    return None


def indescribable(workflow: JSONObject) -> str | None:
    """Why a manifest cannot describe a stored workflow (None when it can): ``unnameable``, or it holds a number
    JSON cannot write (NaN, infinity). ``export`` leaves such a workflow out, and ``apply --prune`` leaves it
    alone."""
    why = unnameable(workflow)
    if why is not None:
        return why
    stack: list[JSONValue] = [workflow]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return NOT_JSON
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _wid(workflow: JSONObject) -> str:
    return str(workflow.get("workflow_id"))


def merged(existing: JSONObject, desired: JSONObject) -> JSONObject:
    """The update body: the stored object (server fields kept) with every managed field from ``desired``."""
    existing = wf.normalize(existing)
    body = {
        k: copy.deepcopy(v)
        for k, v in existing.items()
        if k not in ("name", "config", "install", "install_rule", "options")
    }
    options = dict(o) if isinstance(o := existing.get("options"), dict) else {}
    options.pop("absorb_triggers", None)
    wanted = desired.get("options")
    if isinstance(wanted, dict):  # a body of ``core.workflow.build``: it always has them
        options.update(copy.deepcopy(wanted))
    stored = existing.get("config")
    config = copy.deepcopy(stored) if isinstance(stored, dict) else {}
    config["trigger"] = copy.deepcopy(wf.trigger_of(desired))
    body.update({"name": desired["name"], "options": options, "config": config})
    for key in ("install", "install_rule"):
        if key in desired:
            body[key] = copy.deepcopy(desired[key])
    body["workflow_id"] = existing["workflow_id"]
    return body


# --- the plan ------------------------------------------------------------------------------------------


def compare(
    desired: list[tuple[str, JSONObject]],
    existing: list[JSONObject],
    *,
    prune: bool = False,
    dedupe: bool = False,
    raw: frozenset[str] = frozenset(),
) -> Plan:
    """``desired``: (name, body) pairs, names unique; ``raw``: the names whose body is a raw entry's. ``existing``:
    the account's workflows, as listed. ``prune``: delete the workflows of names the manifest does not declare
    (not the indescribable ones); ``dedupe``: delete the duplicates of the names it declares."""
    plan = Plan(raw=raw)
    by_name: dict[str, list[JSONObject]] = {}
    for workflow in existing:
        name = workflow.get("name")
        if isinstance(name, str):
            by_name.setdefault(name, []).append(workflow)
    wanted = {name for name, _ in desired}
    for name, body in desired:
        candidates = by_name.get(name, [])
        if not candidates:
            plan.create.append(Create(name, body))
            continue
        keep, diff = survivor(candidates, body, name in raw)
        for other in sorted(candidates, key=_wid):
            if other is not keep:
                plan.duplicates.append(Duplicate(name, _wid(other), _wid(keep)))
        if diff:
            plan.update.append(Update(name, _wid(keep), update_body(keep, body, name in raw), diff))
        else:
            plan.unchanged.append(Keep(name, _wid(keep)))
    for workflow in existing:
        name = workflow.get("name")
        if isinstance(name, str) and name in wanted:
            continue
        why = indescribable(workflow)
        if why is not None:
            plan.indescribable.append((Keep(name if isinstance(name, str) else "", _wid(workflow)), why))
        else:
            (plan.delete if prune else plan.unmanaged).append(Keep(str(name), _wid(workflow)))
    if dedupe:
        plan.delete.extend(Keep(d.name, d.workflow_id) for d in plan.duplicates)
    return plan


def survivor(candidates: list[JSONObject], body: JSONObject, raw: bool) -> tuple[JSONObject, list[Change]]:
    """Of the stored workflows of one name, the one to keep (and what differs in it from ``body``): one that
    already matches, else any; of those, the lowest ``workflow_id``, so that everyone who looks at the same
    workflows keeps the same one (two applies that raced, ``bulk``)."""
    found = sorted(((w, changes_of(w, body, raw)) for w in candidates), key=lambda pair: _wid(pair[0]))
    return next(((w, d) for w, d in found if not d), found[0])


def after(plan: Plan, existing: list[JSONObject]) -> list[JSONObject]:
    """The account's workflows once the plan is carried out (new ones without an id), for preflight checks."""
    gone = {k.workflow_id for k in plan.delete}
    replaced = {u.workflow_id: u.body for u in plan.update}
    result = [replaced.get(str(w.get("workflow_id")), w) for w in existing if str(w.get("workflow_id")) not in gone]
    result.extend(c.body for c in plan.create)
    return result


def format_value(value: JSONValue) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def describe_change(change: Change) -> str:
    if change.old is None and change.field.startswith("args."):
        return f"{change.field}: added {format_value(change.new)}"
    if change.new is None and change.field.startswith("args."):
        return f"{change.field}: removed (was {format_value(change.old)})"
    return f"{change.field}: {format_value(change.old)} -> {format_value(change.new)}"
