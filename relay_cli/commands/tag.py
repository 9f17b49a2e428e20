"""``relay tag create | list | update | delete``: NFC tag configurations (what an nfc workflow matches)."""


from typing import Annotated

import typer

from .. import output
from ..errors import UsageError
from ._common import (
    JsonOpt,
    SubscriberOpt,
    TableFlags,
    YesOpt,
    delete_confirmed,
    deletion_allowed,
    examples,
    listing_command,
    new_app,
    one_id,
    state,
)

HELP = "Manage the configurations that can be associated with an NFC tag."
app = new_app(HELP)

CategoryOpt = Annotated[
    str,
    typer.Option(
        "--category", "-c", metavar="CATEGORY", help="The custom category: groups like tags together.", show_default=False
    ),
]
LabelOpt = Annotated[
    str, typer.Option("--label", "-l", metavar="LABEL", help="The tag's label: tells tags apart.", show_default=False)
]
TagArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--arg",
        "-a",
        metavar="NAME=VALUE",
        help="Extra content a workflow's trigger can match and its START event receives (repeatable).",
        show_default=False,
    ),
]
TYPE_HELP = "The tag type: custom or user_profile."


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tag", help=HELP)


def _tag_id(argument: str | None, option: str | None) -> str:
    return one_id(argument, option, noun="tag", flag="--tag-id")


TagIdArg = Annotated[str | None, typer.Argument(metavar="[ID]", help="The tag configuration.", show_default=False)]
TagIdOpt = Annotated[
    str | None,
    typer.Option("--tag-id", "-t", metavar="ID", help="The tag configuration (same as the argument).", show_default=False),
]


@app.command("create", epilog=examples("relay tag create -c rooms -l room-101", "relay tag create -c rooms -l room-102 -a floor=1"))
def create(
    ctx: typer.Context,
    category: CategoryOpt,
    label: LabelOpt,
    arg: TagArgOpt = None,
    tag_type: Annotated[str, typer.Option("--type", "-t", metavar="TYPE", help=TYPE_HELP)] = "custom",
    subscriber_id: SubscriberOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Create a tag configuration."""
    from ..core.resources import tag_body, tag_content

    body = tag_body(tag_content(category, label, tag_type=tag_type, args=arg))
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    created = st.client().create_nfc_tag(subscriber, body)
    if json_output:
        output.print_json(created)
    else:
        tid = created.get("tag_id")
        output.success(f"Created tag {label}" + (f" ({tid})" if tid else ""))


@app.command("list", epilog=examples("relay tag list", "relay tag list -c rooms --json"))
@listing_command()
def list_tags(
    ctx: typer.Context,
    category: Annotated[
        str | None, typer.Option("--category", "-c", metavar="CATEGORY", help="Only tags of this category.", show_default=False)
    ] = None,
    tag_type: Annotated[str, typer.Option("--type", "-t", metavar="TYPE", help="Only tags of this type: custom or user_profile.")] = "custom",
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the tag configurations."""
    from ..core.resources import TAG_TYPES, filter_tags, tag_field
    from ..listing import Column, field, select, show

    if tag_type not in TAG_TYPES:
        raise UsageError(f"expected one of {', '.join(TAG_TYPES)}, got {tag_type!r}", option="--type")
    table = [
        Column("id", "Tag ID", field("tag_id")),
        Column("category", "Category", tag_field("category")),
        Column("label", "Label", tag_field("label")),
        Column("paired", "Paired", lambda tag: "yes" if tag.get("uid") else "no"),
        Column("uid", "UID", field("uid")),
    ]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    tags = select(filter_tags(st.client().nfc_tags(subscriber), tag_type=tag_type, category=category), opts)
    show(tags, opts, empty="No tags configured.", filtered_empty="No tags match the filters.")


@app.command("update", epilog=examples("relay tag update tag_123 -c rooms -l room-201"))
def update(
    ctx: typer.Context,
    category: CategoryOpt,
    label: LabelOpt,
    tag_id: TagIdArg = None,
    tag_id_option: TagIdOpt = None,
    arg: TagArgOpt = None,
    tag_type: Annotated[str, typer.Option("--type", metavar="TYPE", help=TYPE_HELP)] = "custom",
    subscriber_id: SubscriberOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Replace a tag configuration's content."""
    from ..core.resources import tag_body, tag_content

    tid = _tag_id(tag_id, tag_id_option)
    body = tag_body(tag_content(category, label, tag_type=tag_type, args=arg))
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    st.client().update_nfc_tag(subscriber, tid, body)
    if json_output:
        output.print_json({"tag_id": tid, **body})
    else:
        output.success(f"Updated tag {tid}")


@app.command("delete", epilog=examples("relay tag delete tag_123 --yes", "relay tag delete -t tag_123"))
def delete(
    ctx: typer.Context,
    tag_id: TagIdArg = None,
    tag_id_option: TagIdOpt = None,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete a tag configuration. Asks first on a terminal; scripts pass --yes."""
    tid = _tag_id(tag_id, tag_id_option)
    deletion_allowed(yes)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    client = st.client()
    client.nfc_tag(subscriber, tid)  # a 404 here: exit 3, nothing deleted
    if not delete_confirmed(yes, f"tag {tid}", None, subscriber):
        return
    client.delete_nfc_tag(subscriber, tid)
    if json_output:
        output.print_json({"tag_id": tid, "deleted": True})
    else:
        output.success(f"Deleted tag {tid}")
