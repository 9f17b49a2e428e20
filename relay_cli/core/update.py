"""``relay workflow update``: the change it makes to a stored workflow. Pure.

The workflow is edited in place of the one fetched (every field the server sent is kept) and sent back whole
with its ``workflow_id``, which the Relay API takes as "replace" (POST /ibot/workflow creates or updates).

The trigger's options are the table's (``core.triggers``): its kind stays, and the options given are laid over
the values ``Trigger.read`` finds in the stored trigger, then ``Trigger.build`` makes the new ``on_*`` payload, so
every check of ``create`` applies. An option of another kind is refused, naming the kind's own options.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from . import triggers, workflow as wf
from .triggers import Machine, NotRepresentable, Option, Trigger


@dataclass(frozen=True)
class Changes:
    """What ``update`` was asked to change; None (or empty) is "leave it as it is"."""

    name: str | None = None
    uri: str | None = None
    #: trigger option values by option name (``Option.name``), only those given
    trigger: Mapping[str, object] = field(default_factory=dict)
    transient: bool | None = None
    hidden: bool | None = None
    #: args to set (merged into the existing ones), and names to remove
    args: Mapping[str, JSONValue] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return any(
            (
                self.name is not None,
                self.uri is not None,
                bool(self.trigger),
                self.transient is not None,
                self.hidden is not None,
                bool(self.args),
                bool(self.unset),
            )
        )


def validate(changes: Changes) -> Changes:
    """The values checked before anything is fetched (a UsageError naming the flag)."""
    if changes.name is not None:
        wf.validate_name(changes.name)
    if changes.uri is not None:
        wf.validate_uri(changes.uri)
    for name in changes.unset:
        if not name.strip():
            raise UsageError("expected an arg name, got an empty string", option="--unset-arg")
    both = sorted(set(changes.args) & set(changes.unset))
    if both:
        raise UsageError(f"arg {both[0]!r} is both set and unset; give one", option="--unset-arg")
    if not changes.given:
        raise UsageError(
            "expected something to change: --uri, --name, a trigger option (e.g. --trigger), -a/-b/-r, --unset-arg, "
            "--transient/--no-transient or --hidden/--no-hidden",
            option="--workflow-id",
        )
    return changes


def kind_of(workflow: JSONObject) -> tuple[str | None, Trigger | None]:
    """The stored trigger's ``on_*`` key and the table's declaration of it (None when the table has none)."""
    key = triggers.trigger_key(wf.trigger_of(workflow))
    return key, (triggers.BY_KEY.get(key) if key else None)


def _flags(trigger: Trigger) -> str:
    shown = [o.flag for o in trigger.options if not o.hidden] or [o.flag for o in trigger.options]
    return ", ".join(shown) if shown else "none"


def _one_kind(option: Option, value: object, what: str) -> object:
    """A value as the command line gives it (every trigger flag of ``update`` may repeat, since phrases do) → the
    option's own: one value unless the option is repeatable; NAME=VALUE pairs parsed."""
    if option.kind == "pairs":
        texts = value if isinstance(value, list) else [value]
        return wf.parse_pairs([str(text) for text in texts], option.flag)
    if isinstance(value, list) and not option.repeatable:
        if len(value) != 1:
            raise UsageError(f"given {len(value)} times; {what} takes one value", option=option.flag)
        return value[0]
    return value


def _new_trigger(
    workflow: JSONObject, given: Mapping[str, object], machine: Machine | None
) -> tuple[tuple[str, ...], JSONObject]:
    """The ``on_*`` keys of the stored trigger's kind, and the payload that takes their place: rebuilt from the
    stored values and ``given``. ``workflow`` is only read."""
    label = workflow.get("name") or workflow.get("workflow_id")
    key, declared = kind_of(workflow)
    first = next(iter(given))
    flag = triggers.BY_OPTION[first][0][1].flag
    if key is None or declared is None:
        raise UsageError(
            f"{label}'s trigger ({key or 'none'}) is not one relay creates, so its options cannot be changed here",
            option=flag,
        )
    names = {option.name for option in declared.options}
    for name in given:
        if name not in names:
            other = triggers.BY_OPTION[name][0][1].flag
            raise UsageError(
                f"does not apply to {label}, a {declared.name} workflow (its trigger options: {_flags(declared)}); "
                "the kind of trigger cannot be changed: create a new workflow for another one",
                option=other,
            )
    given = {
        name: _one_kind(declared.option(name), value, f"{label}, a {declared.name} workflow,")
        for name, value in given.items()
    }
    stored = wf.trigger_of(workflow)
    try:
        current = declared.read(key, stored[key])
    except NotRepresentable as exc:
        current, why = None, str(exc)
    else:
        why = f"{key} = {stored[key]!r}"
    if current is None:
        raise UsageError(
            f"{label}'s trigger ({why}) is not one relay creates, so its options cannot be changed here",
            option=flag,
        )
    values = {**current, **given}
    # a stored value that does not fit the new ones (a timer's --count once it is a schedule, or once --until is
    # given) is dropped, as if it had not been given; a value the user gave is never dropped: its error stands
    by_flag = {option.flag: option.name for option in declared.options}
    while True:  # each round drops a value, so there are at most as many rounds as options
        try:
            payload = declared.build(values, machine)
            break
        except UsageError as exc:
            named = [by_flag[f] for f in (exc.option or "").split("/") if f in by_flag]  # "--count/--until": both
            stale = [n for n in named if n not in given and values.get(n) is not None]
            if not stale:
                raise
            values[stale[0]] = None
    return declared.keys, payload


def updated(workflow: JSONObject, changes: Changes, machine: Machine | None = None) -> JSONObject:
    """A copy of the stored ``workflow`` (already checked ``api.shapes.EDITABLE``) with ``changes`` made."""
    body = copy.deepcopy(workflow)
    if changes.name is not None:
        body["name"] = changes.name
    if changes.transient is not None or changes.hidden is not None:
        options = body.get("options")
        options = dict(options) if isinstance(options, dict) else {}
        if changes.transient is not None:
            options["transient"] = changes.transient
        if changes.hidden is not None:
            options["hidden"] = changes.hidden
        body["options"] = options
    config = wf.inner(body, "config")
    if changes.trigger:
        replaced, payload = _new_trigger(workflow, changes.trigger, machine)  # errors name it as it is now
        trigger = {k: v for k, v in wf.inner(config, "trigger").items() if k not in replaced}
        config["trigger"] = {**trigger, **payload}
    start = wf.inner(config, "trigger", "start", "workflow")
    if changes.uri is not None:
        start["uri"] = changes.uri
    if changes.args or changes.unset:
        args = {k: v for k, v in wf.args_of(body).items() if k not in changes.unset}
        args.update(changes.args)
        start["args"] = args
    return body


def not_unset(workflow: JSONObject, changes: Changes) -> list[str]:
    """The names of ``--unset-arg`` the workflow has no arg of."""
    args = wf.args_of(workflow)
    return [name for name in changes.unset if name not in args]


def body_diff(before: JSONObject, after: JSONObject, label: str) -> str:
    """A unified diff of the two bodies as indented JSON (what ``--dry-run`` shows)."""
    import difflib
    import json

    old = json.dumps(before, indent=2, ensure_ascii=False).splitlines()
    new = json.dumps(after, indent=2, ensure_ascii=False).splitlines()
    lines = difflib.unified_diff(old, new, f"{label} now", f"{label} after the update", lineterm="")
    return "\n".join(lines)
