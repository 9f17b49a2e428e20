"""What every command shares: the Typer app factory and the option aliases, defined once."""


from typing import Annotated, Any

import typer

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def new_app(help: str, **kwargs: Any) -> typer.Typer:
    """Every (sub-)app is built here, with the same settings."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings=CONTEXT_SETTINGS,
        **kwargs,
    )


def state(ctx: typer.Context) -> Any:
    """The State built by the root callback."""
    return ctx.find_root().obj


SubscriberOpt = Annotated[
    str | None,
    typer.Option(
        "--subscriber-id",
        "-s",
        metavar="ID",
        help="Relay account (subscriber) id. Default: RELAY_SUBSCRIBER_ID, the profile's subscriber_id, "
        "else the account the server names for your login.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-N", help="Print the request body that would be sent, and send nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
WorkflowRefOpt = Annotated[
    str,
    typer.Option(
        "--workflow-id",
        "-w",
        metavar="REF",
        envvar="RELAY_WORKFLOW_ID",
        help="The workflow: its exact id or its exact name. [env: RELAY_WORKFLOW_ID]",
        show_envvar=False,
        show_default=False,
    ),
]
InstallOpt = Annotated[
    list[str] | None,
    typer.Option("--install", "-i", metavar="ID", help="Device or user id to install the workflow on (repeatable).", show_default=False),
]
InstallAllOpt = Annotated[
    bool, typer.Option("--install-all", "-A", help="Install on every device and user of the account.")
]
InstallGroupOpt = Annotated[
    str | None,
    typer.Option(
        "--install-group",
        "-G",
        metavar="GROUP",
        help="Install on a group: its urn (urn:relay-resource:id:tag:...) or its id.",
        show_default=False,
    ),
]
ArgOpt = Annotated[
    list[str] | None,
    typer.Option("--arg", "-a", metavar="NAME=VALUE", help="String workflow arg (repeatable).", show_default=False),
]
BooleanOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--boolean", "-b", metavar="NAME=true|false", help="Boolean workflow arg (repeatable).", show_default=False
    ),
]
NumberOpt = Annotated[
    list[str] | None,
    typer.Option("--number", "-r", metavar="NAME=2.5", help="Number workflow arg (repeatable).", show_default=False),
]


def examples(*commands: str) -> str:
    """An epilog listing example commands, kept unwrapped in --help."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {c}" for c in commands)
