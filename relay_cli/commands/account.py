"""``relay devices`` and ``relay group list``: what the account has to install workflows on."""


import typer

from .. import output
from ._common import JsonOpt, SubscriberOpt, examples, new_app, state

GROUP_HELP = "List the account's groups (install a workflow on one with -G)."
group_app = new_app(GROUP_HELP)


def register(app: typer.Typer) -> None:
    """``relay devices`` (a top-level command) and ``relay group ...``."""
    app.command("devices", epilog=examples("relay devices", "relay devices --json"))(devices)
    app.add_typer(group_app, name="group", help=GROUP_HELP)


def devices(ctx: typer.Context, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False) -> None:
    """List the account's device (and user) ids: what -i/--install takes."""
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    ids = [str(d) for d in st.client().device_ids(subscriber)]
    output.print_records(
        ids, as_json=json_output, empty=f"No devices in account {subscriber}.", headers=["Device ID"], row=lambda d: [d]
    )


@group_app.command("list", epilog=examples("relay group list", "relay group list --json"))
def list_groups(ctx: typer.Context, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False) -> None:
    """List the account's groups and their members."""
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    groups = [g for g in st.client().groups(subscriber) if isinstance(g, dict)]
    output.print_records(
        groups,
        as_json=json_output,
        empty=f"No groups in account {subscriber}.",
        headers=["Group ID", "Name", "Members"],
        row=lambda g: [
            str(g.get("group_id") or ""),
            str(g.get("name") or ""),
            ", ".join(str(m) for m in g.get("subscribers") or []),
        ],
    )
