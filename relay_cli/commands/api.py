"""``relay api PATH``: an authenticated request to any endpoint of the Relay API, its answer printed (``gh api``).

Where it goes, its placeholders and fields are ``core.rawapi``; the request itself is ``RelayClient.request``, the
one request path of every command (deadline, retries, 401 refresh, no redirect followed, bounded reads, redaction).
"""

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ApiError, UsageError
from ..jsontypes import JSONValue
from ._common import SubscriberOpt, command, examples, state

if TYPE_CHECKING:
    from ..api.client import RawAnswer, RelayClient
    from ..output import Output
    from ..state import State

#: the most ``--input`` or a ``-F key=@file`` reads
BODY_LIMIT = 16 * 1024 * 1024


@command(
    epilog=examples(
        "relay api 'workflow?subscriber_id={subscriber_id}'           # GET /ibot/workflow",
        "relay api subscriber/{subscriber_id}/device_ids -i",
        "relay api workflow_analytics_events -f subscriber_id=1a2b3c4d -F limit=100 --paginate",
        "relay api 'relay_nfc_tag?subscriber_id={subscriber_id}' -f 'content[category]=tasks' -f 'content[label]=desk'",
        "relay api 'workflow?subscriber_id={subscriber_id}' --input workflow.json   # POST the file as it is",
        "relay api 'relay_nfc_tag/TAG_ID?subscriber_id={subscriber_id}' -X DELETE",
    ),
    no_args_is_help=True,
)
def api(
    ctx: typer.Context,
    path: Annotated[
        str,
        typer.Argument(
            metavar="PATH",
            help="The endpoint: relative (workflow is /ibot/workflow), an absolute path (/ibot/workflow), or a URL "
            "on the API's own host. {subscriber_id} and {user_id} are filled in.",
            show_default=False,
        ),
    ],
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            "-X",
            metavar="METHOD",
            help="GET, POST, PUT, PATCH or DELETE. Default: GET, or POST when fields or --input give a body "
            "(GET with --paginate).",
            show_default=False,
        ),
    ] = None,
    raw_field: Annotated[
        list[str] | None,
        typer.Option(
            "--raw-field",
            "-f",
            metavar="KEY=VALUE",
            help="A string field (repeatable): of the JSON body, or of the query of a GET.",
            show_default=False,
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-F",
            metavar="KEY=VALUE",
            help="A typed field (repeatable): true, false, null and numbers as JSON; {subscriber_id} and {user_id} "
            "filled in; @FILE the file's text (@- stdin). KEY[SUB]=V nests an object, KEY[]=V makes an array.",
            show_default=False,
        ),
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option(
            "--input",
            metavar="FILE",
            help="The request body, as it is, from FILE (- for stdin); fields then go to the query.",
            show_default=False,
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            metavar="NAME:VALUE",
            help="A request header (repeatable); NAME=VALUE too, as the reference CLI takes it.",
            show_default=False,
        ),
    ] = None,
    include: Annotated[
        bool,
        typer.Option(
            "--include/--no-include", "-i", help="Print the answer's status line and headers before its body."
        ),
    ] = False,
    paginate: Annotated[
        bool,
        typer.Option(
            "--paginate",
            help="Follow the answer's cursor to the last page (analytics, audit) and print one answer of all events.",
        ),
    ] = False,
    subscriber_id: SubscriberOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", "-N", help="Print the request and its body, and send nothing (placeholders may still ask)."
        ),
    ] = False,
) -> None:
    """Make an authenticated request to the Relay API and print the answer: JSON indented, any other body as it
    came. For the endpoints no command covers (see docs/relay-api-more.md).

    The request goes to the API of the selected profile, with its credentials, and nowhere else: a URL on
    another host is refused. Exit 0 on a 2xx answer; else the answer's body is printed all the same, and the
    exit code is 4 on 401/403, 3 on 404, 1 on any other status."""
    from ..core import rawapi
    from ..state import LOCAL_BASE_URL

    st = state(ctx)
    given = _fields(raw_field, field)
    # only a GET pages: --paginate's fields are the query's
    verb = rawapi.method(method if method is not None or not paginate else "GET", bool(given) or input_file is not None)
    if input_file is not None and verb == "GET":
        raise UsageError("--input is a request body, which a GET does not have; add -X POST (or PUT)", option="--input")
    if paginate and verb != "GET":
        raise UsageError(f"only a GET pages; this is a {verb}", option="--paginate")
    if paginate and include:
        raise UsageError("-i shows one answer's status and headers; --paginate joins several", option="--include")
    headers = _headers(header, json_body=input_file is not None)
    needed = rawapi.placeholders(path, "PATH")
    needed += [name for _, value, flag in given if flag == "--field" for name in rawapi.placeholders(value, flag)]
    # where it goes is checked before anything is sent (a placeholder's value cannot change the host: it is
    # percent-encoded into the path)
    base_url = LOCAL_BASE_URL if st.is_local else st.api_url
    rawapi.target(rawapi.fill(path, dict.fromkeys(rawapi.PLACEHOLDERS, "x"), quoted=True), base_url)
    data = _read_input(input_file) if input_file is not None else None
    values = _placeholder_values(st, needed, subscriber_id)
    target = rawapi.target(rawapi.fill(path, values, quoted=True), base_url)
    fields = [(key, _value(value, flag, values), flag) for key, value, flag in given]
    query = list(target.query)
    body: JSONValue = None
    if verb == "GET" or data is not None:
        query += [(key, rawapi.query_value(value)) for key, value, _ in fields]
    elif fields:
        body = rawapi.nest(fields)
    if dry_run:
        _dry_run(st, verb, target.path, query, body, data)
        return
    client = st.client()
    if paginate:
        _paginate(st.out, client, target.path, query, headers)
        return
    answer = client.request(verb, target.path, params=query, json_body=body, data=data, headers=headers)
    _show(st.out, answer, include)
    _fail(client, answer)


# --- input ---------------------------------------------------------------------------------------------


def _fields(raw: list[str] | None, typed: list[str] | None) -> list[tuple[str, str, str]]:
    """(key, value, flag) of ``-f`` then ``-F``, split at the first '='."""
    from ..core.rawapi import split_field

    out = [(*split_field(text, "--raw-field"), "--raw-field") for text in raw or []]
    out += [(*split_field(text, "--field"), "--field") for text in typed or []]
    return out


def _value(value: str, flag: str, placeholders: dict[str, str]) -> JSONValue:
    """A field's value: ``-f`` as it is; ``-F`` typed (true, false, null, numbers), with placeholders filled in
    (a value holding one stays a string, as in ``gh api``), or ``@FILE``'s text."""
    from ..core import rawapi

    if flag != "--field":
        return value
    if value.startswith("@"):
        return _file_value(value)
    if rawapi.placeholders(value, flag):
        return rawapi.fill(value, placeholders, quoted=False)
    return rawapi.typed(value)


def _read_input(name: str) -> bytes:
    from .. import inputs

    if name == "-":
        return inputs.read_stdin(BODY_LIMIT, "a request body", "--input -")
    try:
        return inputs.read_bytes(name, BODY_LIMIT, "a request body")
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}", option="--input") from None


def _file_value(value: str) -> str:
    """``-F key=@file``: the file's text (``@-``: stdin's)."""
    from .. import inputs

    name = value[1:]
    if not name:
        raise UsageError("expected a file name after @, e.g. -F body=@message.txt", option="--field")
    try:
        raw = (
            inputs.read_stdin(BODY_LIMIT, "a field's value", "@-")
            if name == "-"
            else inputs.read_bytes(name, BODY_LIMIT, "a field's value")
        )
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}", option="--field") from None
    return inputs.decode(raw, name)


def _headers(given: list[str] | None, *, json_body: bool) -> dict[str, str]:
    """``-H "Name: value"`` (or ``Name=value``) → headers; ``--input`` is sent as JSON unless one says otherwise."""
    import re

    headers: dict[str, str] = {}
    for text in given or []:
        at = min((i for i in (text.find(":"), text.find("=")) if i >= 0), default=-1)
        name, value = (text[:at].strip(), text[at + 1 :].strip()) if at >= 0 else ("", "")
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            raise UsageError(f"expected NAME:VALUE such as 'Accept: application/json', got {text!r}", option="--header")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise UsageError(f"the value of {name} has a control character", option="--header")
        headers[name] = value
    if json_body and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return headers


def _placeholder_values(st: "State", needed: list[str], subscriber_flag: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if "subscriber_id" in needed:
        values["subscriber_id"] = st.subscriber_id(subscriber_flag)
    if "user_id" in needed:
        user = st.identity()["user_id"]
        if not user:
            where = "the local sandbox has no user" if st.is_local else "the login names no user id"
            raise UsageError(f"{{user_id}} cannot be filled in: {where}; write the id instead", option="PATH")
        values["user_id"] = user
    return values


def _dry_run(
    st: "State", verb: str, path: str, query: list[tuple[str, str]], body: JSONValue, data: bytes | None
) -> None:
    """The request on stderr, its body on stdout (JSON indented, --input as it is), nothing sent."""
    from urllib.parse import urlencode

    shown = path + ("?" + urlencode(query) if query else "")
    st.out.message(f"Dry run, nothing sent. Would send: {st.describe_request(verb, shown)}")
    if body is not None:
        st.out.json(body)
    elif data is not None:
        st.out.value(data.decode("utf-8", "replace"))


# --- output ----------------------------------------------------------------------------------------------


def _json(answer: "RawAnswer") -> JSONValue:
    """The body as JSON, or None when it is empty or not JSON."""
    if not answer.body.strip():
        return None
    try:
        value: JSONValue = json.loads(answer.body)
    except (ValueError, RecursionError):
        return None
    return value


def _show(out: "Output", answer: "RawAnswer", include: bool) -> None:
    if include:
        lines = [f"{answer.http_version} {answer.status} {answer.reason}".strip()]
        lines += [f"{name}: {value}" for name, value in answer.headers]
        out.text("\n".join(lines) + "\n")
    if not answer.body.strip():
        return
    value = _json(answer)
    if value is not None or answer.body.strip() == b"null":
        out.json(value)
        return
    text = answer.body.decode("utf-8", "replace")
    out.value(text[:-1] if text.endswith("\n") else text)


def _fail(client: "RelayClient", answer: "RawAnswer") -> None:
    """After the body: an answer that is not a 2xx fails as in every command (4 on 401/403, 3 on 404, else 1)."""
    if not answer.ok:
        raise client.refused(answer)


def _paginate(
    out: "Output", client: "RelayClient", path: str, query: list[tuple[str, str]], headers: dict[str, str]
) -> None:
    """GET page after page through the answer's ``cursor`` (``core.analytics.collect``, the pager of `analytics`
    and `user assignments`), then print the first page with every page's events and no cursor. An answer that
    is not a page (no ``data`` list) is printed as it came: the endpoint does not page."""
    from ..api import shapes
    from ..core.analytics import collect

    start = next((v for k, v in query if k == "cursor"), None)
    base = [(k, v) for k, v in query if k != "cursor"]
    first = client.request("GET", path, params=query, headers=headers)
    page = _json(first)
    if not first.ok or not shapes.PAGE.ok(page):
        _show(out, first, False)
        _fail(client, first)
        return
    pages = iter([page])

    def fetch(q: dict[str, str | int]) -> JSONValue:
        ready = next(pages, None)
        if ready is not None:
            return dict(ready)
        answer = client.request("GET", path, params=[*base, ("cursor", str(q["cursor"]))], headers=headers)
        if not answer.ok:
            _show(out, answer, False)
            _fail(client, answer)
        value = _json(answer)
        if not shapes.PAGE.ok(value):
            problem = shapes.PAGE.problem(value, "")
            raise ApiError(f"a later page of GET {path} is not a page like the first: {problem}")
        return dict(value)

    events, _ = collect(fetch, {}, limit=None, cursor=start)
    out.json({**page, "data": events, "cursor": None})
