"""``relay workflow create <trigger>``: one command per trigger of ``core.triggers.TRIGGERS`` (``for_trigger``).

Each command is its trigger's options (each ``Option`` of the declaration becomes a Typer option here) plus
the common ones (name, uri, install, args, ...), declared once below and joined through the signature.
"""

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ...core.triggers import BY_NAME, Option, Trigger
from ...errors import UsageError
from .._common import (
    ArgOpt,
    BooleanOpt,
    DryRunOpt,
    InstallAllOpt,
    InstallGroupOpt,
    InstallOpt,
    JsonOpt,
    NoCheckOpt,
    NumberOpt,
    StrictOpt,
    SubscriberOpt,
    ThisMachine,
    command,
    examples as example_epilog,
    expand_ids,
    state,
)

if TYPE_CHECKING:
    from ...api.client import Listing
    from ...state import State

P = inspect.Parameter


def _opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return P(name, P.KEYWORD_ONLY, annotation=annotation, default=default)


COMMON = [
    _opt(
        "name",
        Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="Name of the workflow.", show_default=False)],
        ...,
    ),
    _opt(
        "uri",
        Annotated[
            str,
            typer.Option(
                "--uri",
                "-u",
                metavar="URI",
                help="WebSocket URI of your workflow app: wss://... (ws:// only to a loopback host).",
                show_default=False,
            ),
        ],
        ...,
    ),
    _opt("install", InstallOpt, None),
    _opt("install_all", InstallAllOpt, False),
    _opt("install_group", InstallGroupOpt, None),
    _opt(
        "transient",
        Annotated[
            bool,
            typer.Option(
                "--transient/--no-transient",
                "-t",
                help="Let the workflow run in the background (--no-transient: end it when the device leaves it).",
            ),
        ],
        True,
    ),
    _opt(
        "hidden",
        Annotated[bool, typer.Option("--hidden", "-e", help="Hide the channel from the originating device.")],
        False,
    ),
    _opt("arg", ArgOpt, None),
    _opt("boolean", BooleanOpt, None),
    _opt("number", NumberOpt, None),
    _opt(
        "absorb",
        Annotated[
            list[str] | None,
            typer.Option(
                "--absorb",
                hidden=True,
                help="When a matching workflow is already running, deliver these triggers to it as events "
                "(on_call_request, on_incoming_call).",
            ),
        ],
        None,
    ),
    _opt("subscriber_id", SubscriberOpt, None),
    _opt("dry_run", DryRunOpt, False),
    _opt("json_output", JsonOpt, False),
]
_COMMON_NAMES = {p.name for p in COMMON}
UniqueOpt = Annotated[
    bool,
    typer.Option(
        "--unique",
        help="Refuse (exit 2, nothing created) when the account already has a workflow of this name; without it "
        "a duplicate name is a warning.",
    ),
]
#: every create looks its name up among the account's workflows before saving (a duplicate is warned about, or
#: refused with --unique); --no-check skips the look-up
LOOKUP = [
    _opt(
        "no_check",
        Annotated[
            bool,
            typer.Option(
                "--no-check",
                envvar="RELAY_NO_CHECK",
                help="Skip the look-up of the name among the account's workflows (no warning about a duplicate "
                "name; --unique still looks). [env: RELAY_NO_CHECK]",
                show_envvar=False,
            ),
        ],
        False,
    ),
    _opt("unique", UniqueOpt, False),
]
#: the preflight options of the triggers declared with preflight=True (call), handled here, not by the trigger:
#: the same look-up, and the checks of call workflows
CHECKS = [_opt("no_check", NoCheckOpt, False), _opt("strict", StrictOpt, False), _opt("unique", UniqueOpt, False)]
_CHECK_NAMES = {p.name for p in CHECKS}


def _same_name(st: "State", subscriber: str, name: str, checks: dict[str, Any], existing: "Listing") -> None:
    """The workflows of the account named ``name``: with --unique a refusal (exit 2; exit 1 when the listing may be
    only part of the account), else a warning (unless --no-check) that this create makes another one."""
    same = [w for w in existing if w.get("name") == name]
    ids = ", ".join(str(w.get("workflow_id")) for w in same[:5]) + (" ..." if len(same) > 5 else "")
    where = f"account {subscriber} already has {'a workflow' if len(same) == 1 else f'{len(same)} workflows'} named {name!r} ({ids})"
    update = f"`relay workflow update -w {same[0].get('workflow_id')}`" if same else ""
    if checks["unique"]:
        if same:
            raise UsageError(
                f"{where}; nothing was created",
                option="--unique",
                hint=f"change it with {update}, or declare it in relay.toml and run `relay workflow apply`",
            )
        existing.require_whole(subscriber, "--unique cannot prove the name is unused there, so nothing was created")
        return
    if same and not checks["no_check"]:
        st.out.warning(
            f"{where}; this creates another one. To change it instead: {update}, or declare it in relay.toml and "
            "run `relay workflow apply` (which never duplicates); --unique refuses a duplicate name"
        )


def _read_for(body: dict[str, Any], checks: dict[str, Any]) -> tuple[str, ...]:
    """What of the account's listing a create reads: the workflows of its name (the look-up), and for a call
    workflow (its preflight checks) the call workflows of its direction, the only ones its installs can clash
    with (``RelayClient.list_workflows``' ``holding``)."""
    import json

    from ...core import preflight

    named = json.dumps(body["name"], ensure_ascii=False)  # as the API writes it, or with "/" escaped: JSON allows both
    direction = preflight.direction(body) if "strict" in checks else None
    calls = [key for key, way in preflight.DIRECTIONS.items() if way == direction]
    return (named, named.replace("/", "\\/"), *calls)


def _save(
    ctx: typer.Context, trigger: dict[str, Any], common: dict[str, Any], checks: dict[str, Any] | None = None
) -> None:
    from ...core import workflow as wf
    from . import render

    st = state(ctx)
    target = wf.install_target(expand_ids(common["install"]), common["install_all"], common["install_group"])
    args = wf.parse_args(common["arg"], common["boolean"], common["number"])
    body = wf.build(
        name=common["name"],
        uri=common["uri"],
        trigger=trigger,
        install=target,
        transient=common["transient"],
        hidden=common["hidden"],
        args=args,
        absorb=common["absorb"],
    )
    subscriber_flag = common["subscriber_id"]
    checks = checks or {}
    if common["dry_run"]:
        if checks["unique"]:  # a dry run reads what it acts on: whether the name is free
            subscriber = st.subscriber_id(subscriber_flag)
            listed = st.client().list_workflows(subscriber, holding=_read_for(body, checks))
            _same_name(st, subscriber, common["name"], checks, listed)
        render.dry_run(
            st, "POST", "/ibot/workflow", st.configured_subscriber(subscriber_flag), body, common["json_output"]
        )
        return
    subscriber = st.subscriber_id(subscriber_flag)
    # one listing, shared by the name look-up and the preflight checks of a call workflow
    existing = None
    if checks["unique"] or not checks["no_check"]:
        existing = st.client().list_workflows(subscriber, holding=_read_for(body, checks))
        _same_name(st, subscriber, common["name"], checks, existing)
    if "strict" in checks and not checks["no_check"]:
        from .checks import before_save

        before_save(st, subscriber, body, existing, strict=checks["strict"])
    saved = st.client().save_workflow(subscriber, body)
    render.saved(st.out, saved or [body], "Created", common["json_output"])


def _completer(values: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Shell completion of an option's values (validation stays in core/triggers)."""

    def complete(incomplete: str) -> list[str]:
        return [value for value in values if value.startswith(incomplete)]

    return complete


def _parameter(option: Option) -> inspect.Parameter:
    """One option of a trigger declaration → the Typer option of its ``create`` command."""
    value_type: Any = int if option.kind == "integer" else str
    if option.repeatable or option.kind == "pairs":
        value_type = list[value_type]
    has_default = option.default is not None and not option.required
    annotation = value_type if option.required or has_default else value_type | None
    settings: dict[str, Any] = {"help": option.shown_help(), "show_default": has_default}
    if option.shown_metavar():
        settings["metavar"] = option.shown_metavar()
    if option.hidden:
        settings["hidden"] = True
    if option.suggestions():
        settings["autocompletion"] = _completer(option.suggestions())
    default = ... if option.required else option.default
    return _opt(option.name, Annotated[annotation, typer.Option(*option.flags, **settings)], default)


def _values(trigger: Trigger, options: dict[str, Any]) -> dict[str, Any]:
    """The command's own options → the trigger's option values (NAME=VALUE pairs parsed into a dict)."""
    from ...core import workflow as wf  # not at import: `relay --help` builds every command (test_startup)

    values = dict(options)
    for option in trigger.options:
        if option.kind == "pairs":
            values[option.name] = wf.parse_pairs(values[option.name], option.flag)
    return values


def for_trigger(name: str) -> Callable[..., None]:
    """The command ``relay workflow create NAME`` runs: the trigger's own options, then --no-check/--strict if
    the trigger has preflight checks, then the common ones."""
    trigger = BY_NAME[name]

    def run(ctx: typer.Context, **options: Any) -> None:
        common = {k: options.pop(k) for k in list(options) if k in _COMMON_NAMES}
        checks = {k: options.pop(k) for k in list(options) if k in _CHECK_NAMES}
        _save(ctx, trigger.build(_values(trigger, options), ThisMachine()), common, checks)

    own = [_parameter(option) for option in trigger.options]
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # read by inspect; typeshed omits it
        [
            P("ctx", P.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
            *own,
            *(CHECKS if trigger.preflight else LOOKUP),
            *COMMON,
        ]
    )
    run.__name__ = trigger.name
    return command(help=trigger.help, epilog=example_epilog(*trigger.examples), no_args_is_help=True)(run)
