"""One pattern for the commands that act on one item of the account: a geofence, an NFC tag configuration, a
custom audio file, a workflow.

- ``item_id``: the id, given as the argument or as the reference CLI's flag, checked before anything is sent;
- ``Resource.find``: the item, fetched by id where the API has a GET for one, else found in the listing; an
  unknown id is a ``NotFoundError`` (exit 3) naming the account and the command that lists them;
- ``delete``: the one delete flow (refuse early without a terminal or --yes, find, dry run, ask, delete, report);
- ``dry_run``: what every write command prints with --dry-run, having sent nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import ApiNotFoundError, NotFoundError, UsageError
from ..jsontypes import JSONObject, JSONValue
from ._common import confirmation_possible, confirmed

if TYPE_CHECKING:
    from ..api.client import RelayClient
    from ..state import State

#: a Resource's lookups and removal, given the API client, the account and the id
Get = Callable[["RelayClient", str, str], JSONObject]
Items = Callable[["RelayClient", str], list[JSONObject]]
Remove = Callable[["RelayClient", str, str], None]

#: why a delete without --yes stops when there is no terminal to ask on
DELETE_REFUSAL = "no terminal to confirm on; pass --yes to delete without asking"
#: shown in a dry run's URL when the account would be named by the server at run time
DEFAULT_ACCOUNT = "<your default account>"


def item_id(argument: str | None, option: str | None, *, noun: str, flag: str) -> str:
    """The id a command takes as its argument or as ``flag`` (the reference's form): given once (or twice the
    same), not empty, one word. Bad input: a UsageError naming ``flag``."""
    if argument and option and argument.strip() != option.strip():
        raise UsageError(f"give the {noun} id once, as the argument or as {flag}", option=flag)
    value = (argument or option or "").strip()
    if not value:
        raise UsageError(f"expected the {noun} id, as the argument or as {flag}", option=flag)
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise UsageError(f"expected one {noun} id, got {value!r}", option=flag)
    return value


@dataclass(frozen=True)
class Resource:
    """A kind of item the account has, as the commands that act on one of them need it."""

    noun: str  # in messages: "geofence", "tag", "audio", "workflow"
    id_key: str  # the field of an item that holds its id
    path: str  # the item's API path, with {id}
    listing: str  # the command that lists them (named by a not-found error)
    remove: Remove
    get: Get | None = None  # GET by id, where the API has one
    items: Items | None = None  # else: the listing, searched for the id
    resolve: Get | None = None  # a lookup of its own (workflows: exact id, else exact name), raising its own errors
    label: Callable[[JSONObject], object] | None = None  # what people call it (a name), shown beside the id
    label_first: bool = False  # "NAME (ID)" rather than "ID (NAME)"

    def __post_init__(self) -> None:
        if [self.get, self.items, self.resolve].count(None) != 2:
            raise TypeError(f"Resource {self.noun!r}: give exactly one of get, items and resolve")

    def find(self, client: RelayClient, subscriber: str, ident: str) -> JSONObject:
        """The item ``ident`` of the account, else a NotFoundError (exit 3): nothing is written after it."""
        if self.resolve is not None:
            found: JSONObject | None = self.resolve(client, subscriber, ident)
        elif self.get is not None:
            try:
                found = self.get(client, subscriber, ident)
            except ApiNotFoundError:
                found = None
        else:
            listed = self.items(client, subscriber) if self.items is not None else []
            found = next((i for i in listed if isinstance(i, dict) and str(i.get(self.id_key)) == ident), None)
        if not isinstance(found, dict) or not found:
            raise NotFoundError(
                f"no {self.noun} {ident!r} in account {subscriber}", hint=f"`{self.listing}` shows them"
            )
        return found

    def key(self, item: JSONObject, ident: str) -> str:
        """The id the API path takes: as given, or, for a lookup by name, the found item's id."""
        return str(item.get(self.id_key)) if self.resolve is not None else ident

    def describe(self, item: JSONObject, ident: str) -> str:
        """``ID (NAME)`` (``NAME (ID)`` for workflows), or the id alone when the item has no name."""
        name = self.label(item) if self.label is not None else None
        if not name:
            return ident
        return f"{name} ({ident})" if self.label_first else f"{ident} ({name})"

    def path_of(self, ident: str) -> str:
        return self.path.format(id=quote(ident, safe=""))


def find_workflow(st: State, subscriber_flag: str | None, ref: str, *, to_edit: bool = False) -> tuple[str, JSONObject]:
    """The account and the workflow named by ``ref`` (-w: its id, its name or the start of its id,
    ``core.workflow.resolve``). ``to_edit``: the caller changes it and sends it back whole, so the listing must
    hold it whole (``RelayClient.list_workflows``)."""
    from .. import names
    from ..core import workflow as wf

    wf.validate_ref(ref)
    subscriber = st.subscriber_id(subscriber_flag)
    workflows = st.client().list_workflows(subscriber, editing=ref if to_edit else None)
    names.remember(st, subscriber_flag, workflows)  # for shell completion of -w (relay_cli/names.py)
    return subscriber, wf.resolve(workflows, ref, account=subscriber)


def _resolve_workflow(client: RelayClient, subscriber: str, ref: str) -> JSONObject:
    from ..core import workflow as wf

    return wf.resolve(client.list_workflows(subscriber), ref, account=subscriber)


WORKFLOW = Resource(
    noun="workflow",
    id_key="workflow_id",
    path="/ibot/workflow/{id}",
    listing="relay workflow list",
    remove=lambda client, subscriber, ident: client.delete_workflow(subscriber, ident),
    resolve=_resolve_workflow,
    label=lambda item: item.get("name"),
    label_first=True,
)


def delete(
    st: State, resource: Resource, ident: str, subscriber_flag: str | None, *, yes: bool, dry_run: bool, as_json: bool
) -> None:
    """The one delete flow: without a terminal, --yes is needed (refused before anything is sent); the item is
    found (exit 3 when it is not there); --dry-run says what would be deleted and sends nothing; on a terminal
    the user is asked; then the DELETE, and the report (--json: the deleted item, with ``"deleted": true``)."""
    if not dry_run:
        confirmation_possible(st.out, yes, DELETE_REFUSAL)
    subscriber = st.subscriber_id(subscriber_flag)
    client = st.client()
    item = resource.find(client, subscriber, ident)
    key = resource.key(item, ident)
    what = f"{resource.noun} {resource.describe(item, key)}"
    if dry_run:
        dry_run_report(
            st, "DELETE", resource.path_of(key), {"subscriber_id": subscriber}, item, as_json,
            intro=f"Would delete {what} from account {subscriber}",
        )  # fmt: skip
        return
    if not confirmed(st.out, f"Delete {what} from account {subscriber}?", yes=yes, refusal=DELETE_REFUSAL):
        st.out.message("Not deleted.")
        return
    resource.remove(client, subscriber, key)
    st.out.render({**item, "deleted": True}, f"Deleted {what}", as_json=as_json)


def dry_run_report(
    st: State,
    method: str,
    path: str,
    query: Mapping[str, str | None],
    body: JSONValue,
    as_json: bool,
    *,
    intro: str = "Would send",
) -> None:
    """What every write command prints with --dry-run, having sent nothing: on stderr (not with --json) the
    request, ``Dry run, nothing sent. Would send: POST https://host/path?query``; on stdout ``body`` as JSON:
    the request's body, or for a request that has none (a DELETE) the item it would act on. ``body`` None:
    nothing on stdout."""
    if not as_json:
        st.out.message(f"Dry run, nothing sent. {intro}: {request_line(st, method, path, query)}")
    if body is not None:
        st.out.json(body)


def request_line(st: State, method: str, path: str, query: Mapping[str, str | None]) -> str:
    """``METHOD URL?QUERY`` as a dry run shows it (the path as sent; the query's values readable)."""
    shown = "&".join(f"{k}={quote(str(v), safe='<> ')}" for k, v in query.items() if v is not None)
    return st.describe_request(method, path + ("?" + shown if shown else ""))
