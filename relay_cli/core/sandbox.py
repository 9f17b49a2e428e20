"""Which registered workflows a device event starts, as Relay would (docs/sandbox.md, "Which workflows start").

Pure: the account's workflows and groups come in, the workflows to start go out, each with the details its START
event is built from (``core.triggers``).

- **Installed**: the device is in the workflow's ``install`` list, or its ``install_rule`` is all devices, or the
  group its ``install_rule`` names has the device.
- **Fires**: the workflow's trigger fires on the event (``Trigger.fires`` of the trigger table: inbound vs
  outbound call, taps, phrase, NFC tag, battery threshold crossed, geofence or position transition, ...).
- **Several**: all of them start, at once, each on a connection of its own; they are listed (and their
  transcripts told apart) in the account's order, oldest first (**decided**: Relay does not say).
- An HTTP trigger names its workflow: that one starts for the device it names, installed or not (**decided**).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..jsontypes import JSONObject, JSONValue
from . import triggers, workflow as wf
from .triggers import DeviceEvent, Trigger

#: what a sandbox says it is, in the ``sandbox`` key of its answer to ``GET /_sandbox/info``
SANDBOX_NAME = "relay-sandbox"

#: how many installed workflows a "no workflow handles it" message names
SHOWN = 10


@dataclass(frozen=True)
class Start:
    """A workflow an event starts, and the details its START is built from (``Trigger.start``)."""

    workflow: Mapping[str, JSONValue]
    trigger: Trigger
    details: Mapping[str, JSONValue]

    @property
    def name(self) -> str:
        return str(self.workflow.get("name"))

    @property
    def workflow_id(self) -> str:
        return str(self.workflow.get("workflow_id"))

    def start_trigger(self, **more: JSONValue) -> JSONObject:
        """The START's ``trigger`` (without ``source_uri``); ``more`` are details the run adds (``call_trigger_type``)."""
        return self.trigger.start({**self.details, **more})


def _group_members(groups: Sequence[Mapping[str, JSONValue]], rule: str) -> list[str]:
    for group in groups:
        group_id = str(group.get("group_id") or "")
        if rule in (group_id, wf.GROUP_PREFIX + group_id):
            members = group.get("subscribers")
            return [str(m) for m in members] if isinstance(members, list) else []
    return []


def installed_on(workflow: Mapping[str, JSONValue], device_id: str, groups: Sequence[Mapping[str, JSONValue]]) -> bool:
    """Is the workflow installed on the device: in its list, on all devices, or through its group?"""
    rule = workflow.get("install_rule")
    if isinstance(rule, str) and rule:
        return rule == wf.ALL_DEVICES or device_id in _group_members(groups, rule)
    install = workflow.get("install")
    return isinstance(install, list) and device_id in [str(d) for d in install]


def installed(
    workflows: Sequence[Mapping[str, JSONValue]], device_id: str, groups: Sequence[Mapping[str, JSONValue]]
) -> list[Mapping[str, JSONValue]]:
    return [w for w in workflows if installed_on(w, device_id, groups)]


def _trigger(workflow: Mapping[str, JSONValue]) -> tuple[str, JSONValue] | None:
    config = workflow.get("config")
    trig = config.get("trigger") if isinstance(config, dict) else None
    if not isinstance(trig, dict):
        return None
    key = triggers.trigger_key(trig)
    return None if key is None else (key, trig[key])


def starts(
    workflows: Sequence[Mapping[str, JSONValue]],
    event: DeviceEvent,
    device_id: str,
    groups: Sequence[Mapping[str, JSONValue]],
) -> list[Start]:
    """The workflows ``event`` on the device starts, in the account's order (that of ``workflows``)."""
    named = event.details.get("workflow_id")
    out = []
    for workflow in workflows:
        if named is not None and str(workflow.get("workflow_id")) != named:
            continue
        if event.kind != "http" and not installed_on(workflow, device_id, groups):
            continue
        found = _trigger(workflow)
        if found is None or found[0] not in triggers.BY_KEY:
            continue
        trigger = triggers.BY_KEY[found[0]]
        details = trigger.fires(found[0], found[1], event)
        if details is not None:
            out.append(Start(workflow, trigger, details))
    return out


def describe(workflow: Mapping[str, JSONValue]) -> str:
    """``my_auto_answer (call:inbound)``."""
    trig = _trigger(workflow)
    kind = triggers.describe({trig[0]: trig[1]}) if trig is not None else "no trigger"
    return f"{workflow.get('name')} ({kind})"


def no_match(device: str, event: DeviceEvent, on_device: Sequence[Mapping[str, JSONValue]]) -> str:
    """``no workflow on Alice handles a double tap; installed: my_auto_answer (call:inbound), ...``."""
    text = f"no workflow on {device} handles {event.describe()}"
    if not on_device:
        return f"{text}; nothing is installed on {device}"
    shown = [describe(w) for w in on_device[:SHOWN]]
    more = f" and {len(on_device) - SHOWN} more" if len(on_device) > SHOWN else ""
    return f"{text}; installed: {', '.join(shown)}{more}"
