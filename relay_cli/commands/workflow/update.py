"""``relay workflow update -w REF``: change a workflow in place (its URI, name, trigger options, args, options).

The flags of the trigger options come from the table of triggers (``core.triggers.BY_OPTION``), so every
kind's options are here once; which of them apply is known once the workflow is fetched (``core.update``).
"""

import inspect
from typing import Annotated, Any

import typer

from .._common import (
    ArgOpt,
    BooleanOpt,
    JsonOpt,
    NoCheckOpt,
    NumberOpt,
    StrictOpt,
    SubscriberOpt,
    ThisMachine,
    WorkflowRefOpt,
    command,
    examples,
    state,
)

P = inspect.Parameter


def _opt(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return P(name, P.KEYWORD_ONLY, annotation=annotation, default=default)


def _completer(values: tuple[str, ...]) -> Any:
    def complete(incomplete: str) -> list[str]:
        return [value for value in values if value.startswith(incomplete)]

    return complete


def _trigger_parameters() -> list[inspect.Parameter]:
    """One Typer option per option name of the table, by its long flags only: a short flag means one thing
    across the tool (tests/test_short_flags.py), and the trigger kinds give some letters several (``-c`` is nfc's
    --category and the timer's --count). Every value may repeat (phrases do); ``core.update`` takes one value
    for the kinds that have one."""
    from ...core.triggers import BY_OPTION

    parameters = []
    for name, owners in BY_OPTION.items():
        options = [option for _, option in owners]
        flags = list(dict.fromkeys(f for o in options for f in o.flags if f.startswith("--")))
        many = len(owners) > 1 or any(o.repeatable or o.kind == "pairs" for o in options)
        value_type: Any = int if all(o.kind == "integer" for o in options) else str
        if many:
            value_type = list[value_type]
        if len(owners) == 1:
            trigger, option = owners[0]
            help_text = f"{trigger.name}: {option.shown_help()}"
            metavar = option.shown_metavar() or ("N" if option.kind == "integer" else "VALUE")
        else:
            kinds = ", ".join(f"{t.name} {o.shown_metavar() or 'VALUE'}" for t, o in owners)
            help_text = f"The trigger, by the workflow's kind: {kinds} (phrases: repeatable; they replace the phrases)."
            metavar = "VALUE"
        settings: dict[str, Any] = {"help": help_text, "metavar": metavar, "show_default": False}
        if all(o.hidden for o in options):
            settings["hidden"] = True
        suggestions = tuple(dict.fromkeys(v for o in options for v in o.suggestions()))
        if suggestions:
            settings["autocompletion"] = _completer(suggestions)
        parameters.append(_opt(name, Annotated[value_type | None, typer.Option(*flags, **settings)]))
    return parameters


TRIGGER_PARAMETERS = _trigger_parameters()
_TRIGGER_NAMES = {p.name for p in TRIGGER_PARAMETERS}

OWN = [
    _opt("workflow_id", WorkflowRefOpt, ...),
    _opt(
        "name",
        Annotated[str | None, typer.Option("--name", "-n", metavar="NAME", help="New name.", show_default=False)],
    ),
    _opt(
        "uri",
        Annotated[
            str | None,
            typer.Option(
                "--uri",
                "-u",
                metavar="URI",
                help="New URI: wss://... (ws:// only to a loopback host).",
                show_default=False,
            ),
        ],
    ),
]
REST = [
    _opt(
        "transient",
        Annotated[
            bool | None,
            typer.Option(
                "--transient/--no-transient",
                "-t",
                help="Let the workflow run in the background (--no-transient: end it when the device leaves it).",
                show_default=False,
            ),
        ],
    ),
    _opt(
        "hidden",
        Annotated[
            bool | None,
            typer.Option(
                "--hidden/--no-hidden", "-e", help="Hide the channel from the originating device.", show_default=False
            ),
        ],
    ),
    _opt("arg", ArgOpt),
    _opt("boolean", BooleanOpt),
    _opt("number", NumberOpt),
    _opt(
        "unset_arg",
        Annotated[
            list[str] | None,
            typer.Option("--unset-arg", metavar="NAME", help="Remove an arg (repeatable).", show_default=False),
        ],
    ),
    _opt("subscriber_id", SubscriberOpt),
    _opt(
        "dry_run",
        Annotated[
            bool,
            typer.Option(
                "--dry-run",
                "-N",
                help="Print the request and a diff of the workflow (--json: the body), and send nothing.",
            ),
        ],
        False,
    ),
    _opt("no_check", NoCheckOpt, False),
    _opt("strict", StrictOpt, False),
    _opt("json_output", JsonOpt, False),
]


def update(ctx: typer.Context, **given: Any) -> None:
    """Change a workflow in place: its URI, name, trigger options, args, --transient or --hidden.

    The workflow is fetched and sent back whole with the changes (one POST with its workflow_id, which replaces
    it); what is not named stays as it is. Trigger options are those of the workflow's kind, as `relay workflow
    create <kind>` takes them (--trigger inbound|outbound for a call, --threshold for a battery, ...); the kind
    itself stays (for another kind, create a new workflow). Installs are changed by `relay workflow install` and
    `uninstall`. --dry-run prints the request and a diff of the workflow, and sends nothing. A call workflow is
    checked first, as by `create call` (see `relay workflow check`); --no-check skips that."""
    from ...core import update as up, workflow as wf
    from . import render
    from .manage import find

    values = {name: given.pop(name) for name in _TRIGGER_NAMES if given.get(name) not in (None, [])}
    changes = up.validate(
        up.Changes(
            name=given["name"],
            uri=given["uri"],
            trigger=values,
            transient=given["transient"],
            hidden=given["hidden"],
            args=wf.parse_args(given["arg"], given["boolean"], given["number"]),
            unset=tuple(dict.fromkeys(given["unset_arg"] or [])),
        )
    )
    st = state(ctx)
    subscriber, workflow = find(st, given["subscriber_id"], given["workflow_id"], to_edit=True)
    body = up.updated(workflow, changes, ThisMachine())
    missing = up.not_unset(workflow, changes)
    if missing:
        st.out.warning(f"{workflow.get('name')} has no arg named {', '.join(missing)}")
    label = f"{workflow.get('name')} ({workflow.get('workflow_id')})"
    as_json = given["json_output"]
    if body == workflow:
        st.out.message(f"Nothing to change: {label} already is as asked.")
        st.out.render(workflow, None, as_json=as_json)
        return
    if given["dry_run"]:
        from .._resource import dry_run_report

        dry_run_report(st, "POST", "/ibot/workflow", {"subscriber_id": subscriber}, None, as_json)
        st.out.render(body, lambda: st.out.text(up.body_diff(workflow, body, label)), as_json=as_json)
        return
    if not given["no_check"]:
        from .checks import before_save

        before_save(st, subscriber, body, None, strict=given["strict"])  # lists the account only for a call workflow
    saved = st.client().save_workflow(subscriber, body)
    render.saved(st.out, saved or [body], "Updated", as_json)


update.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # read by inspect; typeshed omits it
    [P("ctx", P.POSITIONAL_OR_KEYWORD, annotation=typer.Context), *OWN, *TRIGGER_PARAMETERS, *REST]
)

command(
    epilog=examples(
        "relay workflow update -w my_auto_answer --uri wss://newhost.example.com/autoanswerpath",
        "relay workflow update -w my_auto_answer --name front-desk --no-transient",
        "relay workflow update -w my_outbound --trigger inbound          # a call workflow's direction",
        "relay workflow update -w low-battery --threshold 15",
        "relay workflow update -w my_auto_answer -a greeting=hi --unset-arg volume --dry-run",
    ),
    no_args_is_help=True,
)(update)
