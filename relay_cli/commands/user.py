"""``relay user list``: the account's user profiles."""


import typer

from .. import output
from ._common import JsonOpt, SubscriberOpt, examples, new_app, state

HELP = "List the account's user profiles."
app = new_app(HELP)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user", help=HELP)


@app.command("list", epilog=examples("relay user list", "relay user list --json"))
def list_users(ctx: typer.Context, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False) -> None:
    """List the account's user profiles (name and id), sorted by name."""
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    profiles = [
        {"username": p.get("username"), "user_profile_id": p.get("user_profile_id")}
        for p in st.client().user_profiles(subscriber)
    ]
    profiles.sort(key=lambda p: (str(p["username"] or "").casefold(), str(p["user_profile_id"] or "")))
    output.print_records(
        profiles,
        as_json=json_output,
        empty=f"No user profiles in account {subscriber}.",
        headers=["User Name", "User ID"],
        row=lambda p: [str(p["username"] or ""), str(p["user_profile_id"] or "")],
    )
