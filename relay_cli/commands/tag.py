"""``relay tag create | list | update | delete``: NFC tag configurations (what an nfc workflow matches)."""

from typing import Annotated

import typer

from ..errors import UsageError
from ._common import (
    DeleteDryRunOpt,
    DryRunOpt,
    JsonOpt,
    SubscriberOpt,
    TableFlags,
    YesOpt,
    command,
    examples,
    listing_command,
    state,
)
from ._resource import DEFAULT_ACCOUNT, Resource, delete as delete_item, dry_run_report, item_id

CategoryOpt = Annotated[
    str,
    typer.Option(
        "--category",
        "-c",
        metavar="CATEGORY",
        help="The custom category: groups like tags together.",
        show_default=False,
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
#: `-t` is --tag-id in every `relay tag` command (the reference's visible flag on update and delete); --type has
#: no short flag (the reference's hidden `-t` on create and list; on update its `-t` already meant --tag-id)
TypeOpt = Annotated[str, typer.Option("--type", metavar="TYPE", help=TYPE_HELP)]

#: the account's tag configurations, fetched by id (GET /ibot/relay_nfc_tag/{id})
TAG = Resource(
    noun="tag",
    id_key="tag_id",
    path="/ibot/relay_nfc_tag/{id}",
    listing="relay tag list",
    get=lambda client, subscriber, ident: client.nfc_tag(subscriber, ident),
    remove=lambda client, subscriber, ident: client.delete_nfc_tag(subscriber, ident),
    label=lambda item: (c if isinstance(c := item.get("content"), dict) else {}).get("label"),
)


def _tag_id(argument: str | None, option: str | None) -> str:
    return item_id(argument, option, noun="tag", flag="--tag-id")


TagIdArg = Annotated[str | None, typer.Argument(metavar="[ID]", help="The tag configuration.", show_default=False)]
TagIdOpt = Annotated[
    str | None,
    typer.Option(
        "--tag-id", "-t", metavar="ID", help="The tag configuration (same as the argument).", show_default=False
    ),
]


@command(
    epilog=examples(
        "relay tag create -c rooms -l room-101",
        "relay tag create -c rooms -l room-102 -a floor=1",
        "relay tag create -c rooms -l x -N",
    ),
)
def create(
    ctx: typer.Context,
    category: CategoryOpt,
    label: LabelOpt,
    arg: TagArgOpt = None,
    tag_type: TypeOpt = "custom",
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Create a tag configuration."""
    from ..core.resources import tag_body, tag_content

    body = tag_body(tag_content(category, label, tag_type=tag_type, args=arg))
    st = state(ctx)
    if dry_run:
        account = st.configured_subscriber(subscriber_id) or DEFAULT_ACCOUNT
        dry_run_report(st, "POST", "/ibot/relay_nfc_tag", {"subscriber_id": account}, body, json_output)
        return
    subscriber = st.subscriber_id(subscriber_id)
    created = st.client().create_nfc_tag(subscriber, body)
    tid = created.get("tag_id")
    st.out.render(created, f"Created tag {label}" + (f" ({tid})" if tid else ""), as_json=json_output)


@command(epilog=examples("relay tag list", "relay tag list -c rooms --json"))
@listing_command()
def list_tags(
    ctx: typer.Context,
    category: Annotated[
        str | None,
        typer.Option("--category", "-c", metavar="CATEGORY", help="Only tags of this category.", show_default=False),
    ] = None,
    tag_type: Annotated[
        str, typer.Option("--type", metavar="TYPE", help="Only tags of this type: custom or user_profile.")
    ] = "custom",
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the tag configurations."""
    from ..core.resources import TAG_TYPES, filter_tags, tag_field
    from ..table import HANDLE, NAME, Column, Fit, field, select, show

    if tag_type not in TAG_TYPES:
        from ..core import suggest

        raise UsageError(suggest.expected(tag_type, TAG_TYPES), option="--type")
    table = [
        Column("id", "Tag ID", field("tag_id"), fit=HANDLE),
        Column("category", "Category", tag_field("category"), fit=Fit(give=40), keys=("content",)),
        Column("label", "Label", tag_field("label"), fit=NAME, keys=("content",)),
        Column("paired", "Paired", lambda tag: "yes" if tag.get("uid") else "no", fit=Fit(give=30), keys=("uid",)),
        Column("uid", "UID", field("uid"), fit=Fit(give=20)),
    ]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    tags = select(filter_tags(st.client().nfc_tags(subscriber), tag_type=tag_type, category=category), opts)
    show(tags, opts, st.out, empty="No tags configured.", filtered_empty="No tags match the filters.")


@command(
    epilog=examples(
        "relay tag update tag_123 -c rooms -l room-201", "relay tag update -t tag_123 -c rooms -l room-201 -N"
    ),
)
def update(
    ctx: typer.Context,
    category: CategoryOpt,
    label: LabelOpt,
    tag_id: TagIdArg = None,
    tag_id_option: TagIdOpt = None,
    arg: TagArgOpt = None,
    tag_type: TypeOpt = "custom",
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Replace a tag configuration's content. The tag must exist: an unknown id is exit 3, and nothing is written."""
    from ..core.resources import tag_body, tag_content

    tid = _tag_id(tag_id, tag_id_option)
    body = tag_body(tag_content(category, label, tag_type=tag_type, args=arg))
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    client = st.client()
    TAG.find(client, subscriber, tid)
    if dry_run:
        dry_run_report(st, "PUT", TAG.path_of(tid), {"subscriber_id": subscriber}, body, json_output)
        return
    client.update_nfc_tag(subscriber, tid, body)
    st.out.render({"tag_id": tid, **body}, f"Updated tag {tid}", as_json=json_output)


@command(
    epilog=examples("relay tag delete tag_123 --yes", "relay tag delete -t tag_123", "relay tag delete tag_123 -N"),
)
def delete(
    ctx: typer.Context,
    tag_id: TagIdArg = None,
    tag_id_option: TagIdOpt = None,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    dry_run: DeleteDryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete a tag configuration. Asks first on a terminal; scripts pass --yes."""
    tid = _tag_id(tag_id, tag_id_option)
    delete_item(state(ctx), TAG, tid, subscriber_id, yes=yes, dry_run=dry_run, as_json=json_output)
