"""Preflight checks for call workflows (``relay workflow check``, and before ``create call``, ``install``, ``apply``).

Pure: the checks that need only the workflows themselves, and the wording of every finding. The WebSocket
handshake itself is I/O and lives in ``relay_cli.api.probe``; its outcome is turned into a finding here.

Relay routes every call of a device to the call workflow installed on it for that direction. So:
- a call workflow whose server is down or refuses the WebSocket makes every call to (inbound) or from
  (outbound) its devices announce "<the workflow's name> is not available", although the device is fine;
- a call workflow installed on all devices takes every call of every device;
- two call workflows of the same direction on one device compete for its calls: only one can run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..jsontypes import JSONObject
from . import triggers, workflow as wf

DIRECTIONS = {v: k for k, v in triggers.CALL_DIRECTIONS.items()}  # on_* key → inbound | outbound
#: the words a call workflow's config holds (a listing for the checks parses only the configs that hold one)
CALL_KEYS = tuple(DIRECTIONS)


@dataclass(frozen=True)
class Finding:
    kind: str  # "unreachable" | "all_devices" | "conflict"
    workflows: tuple[str, ...]  # names
    message: str
    detail: JSONObject = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> JSONObject:
        return {"kind": self.kind, "workflows": list(self.workflows), "message": self.message, **self.detail}


def direction(workflow: JSONObject) -> str | None:
    """``inbound`` / ``outbound`` for a call workflow, else None."""
    trig = wf.trigger_of(workflow)
    for key, name in DIRECTIONS.items():
        if key in trig:
            return name
    return None


def _label(workflow: JSONObject) -> str:
    return str(workflow.get("name") or workflow.get("workflow_id") or "?")


def _where(workflow: JSONObject) -> str:
    where = wf.describe_install(workflow)
    return where or "no device yet"


def probe_targets(workflows: Iterable[JSONObject], *, calls_only: bool = True) -> dict[str, list[JSONObject]]:
    """URI → the workflows that start it, for the URIs worth a WebSocket handshake (wss:// and ws://)."""
    targets: dict[str, list[JSONObject]] = {}
    for workflow in workflows:
        if calls_only and direction(workflow) is None:
            continue
        uri = wf.uri_of(workflow)
        if uri.lower().startswith(("wss://", "ws://")):
            targets.setdefault(uri, []).append(workflow)
    return targets


def unreachable(uri: str, reason: str, workflows: list[JSONObject]) -> Finding:
    """The finding for a URI whose handshake failed, in words that explain the symptom users see."""
    names = tuple(_label(w) for w in workflows)
    calls = [w for w in workflows if direction(w)]
    text = f"{uri} did not accept a WebSocket ({reason}); used by {', '.join(names)}."
    if calls:
        parts = []
        for w in calls:
            d = direction(w)
            where = "any device" if wf.installed_on_all(w) else _where(w)
            # what the device says is the workflow's name: the one Relay announces
            parts.append(
                f"every {d} call {'to' if d == 'inbound' else 'from'} {where} ends with Relay announcing "
                f'"{_label(w)} is not available"'
            )
        text += (
            f" While it does not answer, {' and '.join(parts)}, although the device is fine. Start the workflow "
            "server or fix the URI."
        )
    else:
        text += " Its trigger will fail to start the workflow until the server answers."
    return Finding("unreachable", names, text, {"uri": uri, "reason": reason})


def install_findings(workflows: list[JSONObject], *, only: set[str] | None = None) -> list[Finding]:
    """All-devices call workflows, and devices with two call workflows of the same direction.

    ``workflows``: the account as it is (or will be); ``only``: report only findings that involve one of these
    names (None: all). With ``only``, the work is that of the devices and groups those workflows are installed on
    (a create on an account of 10,000 workflows looks at its own devices, not at every device of the account)."""
    findings: list[Finding] = []
    calls = [(w, d) for w in workflows if (d := direction(w)) is not None]
    subjects = {id(w) for w, _ in calls if only is None or _label(w) in only}

    for w, d in calls:
        if id(w) in subjects and wf.installed_on_all(w):
            findings.append(
                Finding(
                    "all_devices",
                    (_label(w),),
                    f"{_label(w)} is an {d} call workflow installed on all devices: every {d} call of every device "
                    f"of the account goes to {wf.uri_of(w) or 'it'}. Install it on the devices that need it (-i) or a group (-G).",
                    {"direction": d},
                )
            )
    for d in ("inbound", "outbound"):
        same_dir = [w for w, dd in calls if dd == d]
        everywhere = [w for w in same_dir if wf.installed_on_all(w)]
        # the devices and groups a clash reported here can be on: every one when a subject is on all devices
        anywhere = only is None or any(id(w) in subjects for w in everywhere)
        devices: set[str] = set()
        groups: set[str] = set()
        for w in same_dir:
            if not anywhere and id(w) in subjects:
                rule = w.get("install_rule")
                if rule and rule != wf.ALL_DEVICES:
                    groups.add(str(rule))
                elif not rule:
                    devices.update(str(device) for device in wf.install_list(w))
        per_device: dict[str, list[JSONObject]] = {}
        per_group: dict[str, list[JSONObject]] = {}
        for w in same_dir:
            rule = w.get("install_rule")
            if rule and rule != wf.ALL_DEVICES:
                if anywhere or str(rule) in groups:
                    per_group.setdefault(str(rule), []).append(w)
            elif not rule:
                for device in wf.install_list(w):
                    if anywhere or str(device) in devices:
                        per_device.setdefault(str(device), []).append(w)

        def wanted(ws: list[JSONObject]) -> bool:
            return any(id(w) in subjects for w in ws)

        clashes: dict[tuple[str, ...], list[str]] = {}
        for where, ws in (*per_device.items(), *per_group.items()):
            listed = {id(w) for w in ws}
            ws = ws + [e for e in everywhere if id(e) not in listed]
            if len(ws) > 1 and wanted(ws):
                clashes.setdefault(tuple(_label(w) for w in ws), []).append(where)
        if len(everywhere) > 1 and wanted(everywhere):
            clashes.setdefault(tuple(_label(w) for w in everywhere), []).append("all devices")
        for names, where_ in clashes.items():
            findings.append(
                Finding(
                    "conflict",
                    names,
                    f"{len(names)} {d} call workflows ({', '.join(names)}) are installed on {', '.join(where_)}: "
                    f"only one of them can take a device's {d} calls. Keep one {d} call workflow per device.",
                    {"direction": d, "devices": list(where_)},
                )
            )
    return findings
