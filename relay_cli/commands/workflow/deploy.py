"""``relay workflow diff | apply | export | check``: declarative deploys from a manifest (``relay.toml``).

The manifest format and the plan live in ``core.manifest`` and ``core.plan``; carrying a plan out in
``api.bulk``; the preflight checks in ``core.preflight`` / ``checks``. This module reads files and flags,
and prints.
"""

from typing import TYPE_CHECKING, Annotated

import typer

from ... import __version__
from ...errors import ExitStatus, RelayError, UsageError
from .._common import (
    JsonOpt,
    NoCheckOpt,
    StrictOpt,
    SubscriberOpt,
    YesOpt,
    command,
    complete_workflow,
    confirmed,
    examples,
    state,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from ...api.bulk import Outcome
    from ...api.client import Listing
    from ...core.manifest import Manifest
    from ...core.plan import Plan
    from ...jsontypes import JSONObject
    from ...output import Output
    from ...state import State

FileOpt = Annotated[
    str,
    typer.Option(
        "--file",
        "-f",
        metavar="FILE",
        help="The manifest: a TOML file of [workflow.NAME] tables; - reads it from stdin.",
        show_default=True,
    ),
]
PruneOpt = Annotated[
    bool, typer.Option("--prune", help="Also delete the account's workflows that the manifest does not list.")
]
AllowEmptyOpt = Annotated[
    bool,
    typer.Option(
        "--allow-empty",
        help="Accept a manifest that declares no workflows (refused otherwise). With --prune this deletes every "
        "workflow of the account.",
    ),
]
DedupeOpt = Annotated[
    bool,
    typer.Option(
        "--dedupe",
        help="Where the account has several workflows of a name the manifest declares, keep one (one that "
        "matches the manifest, else any; of those the lowest workflow_id) and delete the others.",
    ),
]
#: the values of --account-from
ACCOUNT_FROM = ("manifest", "selected")
AccountFromOpt = Annotated[
    str | None,
    typer.Option(
        "--account-from",
        metavar="manifest|selected",
        help="When the manifest's account differs from the one -s, RELAY_SUBSCRIBER_ID or the profile selects "
        "(which stops the command, exit 2): use the manifest's, or the selected one.",
        show_default=False,
        autocompletion=lambda incomplete: [v for v in ACCOUNT_FROM if v.startswith(incomplete)],
    ),
]
RefsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--workflow-id",
        "-w",
        metavar="REF",
        help="A workflow's exact id or name (repeatable).",
        show_default=False,
        autocompletion=complete_workflow,
    ),
]


# --- shared steps ----------------------------------------------------------------------------------


def load(path: str) -> "Manifest":
    """Read and parse the manifest; every problem is one line naming the file (exit 2), before anything is sent."""
    from ... import inputs
    from ...core import manifest as mf

    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw = inputs.read_stdin(inputs.MANIFEST_LIMIT, "a manifest")
        else:
            raw = inputs.read_bytes(path, inputs.MANIFEST_LIMIT, "a manifest")
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file (name the manifest with -f FILE)") from None
    except OSError as exc:
        raise UsageError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    manifest = mf.parse(mf.decode(raw, source), source)
    if manifest.blank:
        hint = 'to delete every workflow of an account on purpose, apply a manifest of just account = "ID" with --prune --allow-empty'
        if path == "-":
            hint = "the command writing to the pipe may have failed (in scripts, `set -o pipefail`); " + hint
        raise UsageError(f"{source} is empty: it declares no workflows and no account, so nothing was sent", hint=hint)
    return manifest


def refuse_no_workflows(
    st: "State",
    manifest: "Manifest",
    subscriber_flag: str | None,
    prune: bool,
    allow_empty: bool,
    account_from: str | None,
) -> None:
    """A manifest that declares no workflows is refused (exit 2) unless --allow-empty says it is meant: with
    --prune it would delete the whole account. Without --prune nothing is sent; with it the account's workflows
    are listed (a read) to say how many would go."""
    if manifest.entries or allow_empty:
        return
    hint = "pass --allow-empty if that is what you want; if the manifest came from a pipe, the command writing it may have failed"
    if not prune:
        raise UsageError(
            f"{manifest.source} declares no workflows (no [workflow.NAME] tables), so nothing was sent", hint=hint
        )
    account = target(st, manifest, subscriber_flag, account_from)
    try:
        count = len(st.client().list_workflows(account))
    except RelayError as err:
        raise UsageError(
            f"{manifest.source} declares no workflows, so --prune would delete every workflow of {_account(account)}; "
            f"nothing was changed (counting them failed: {err.message})",
            hint=hint,
        ) from None
    if count == 0:
        raise UsageError(
            f"{manifest.source} declares no workflows (account {account} has none either); nothing was changed",
            hint=hint,
        )
    raise UsageError(
        f"{manifest.source} declares no workflows, so --prune would delete all {count} workflow{'s' if count != 1 else ''} "
        f"of account {account}; nothing was changed",
        hint=hint,
    )


def _account(name: str) -> str:
    return name if name.startswith("the ") else f"account {name}"


def target(st: "State", manifest: "Manifest", subscriber_flag: str | None, account_from: str | None = None) -> str:
    """The account. The profile first: -P > RELAY_PROFILE > the manifest's ``profile`` > the current one. Then
    the account: the manifest's ``account`` when it names one, else -s > RELAY_SUBSCRIBER_ID > the profile's >
    the server's default. A manifest's account that differs from the one -s, RELAY_SUBSCRIBER_ID or the profile
    selects stops the command (exit 2, naming both and where each came from, before any request), unless
    ``account_from`` (``--account-from manifest|selected``) says which one wins."""
    if account_from is not None and account_from not in ACCOUNT_FROM:
        raise UsageError(f"expected one of {', '.join(ACCOUNT_FROM)}, got {account_from!r}", option="--account-from")
    if manifest.profile and st.profile_flag is None and not st.environ.get("RELAY_PROFILE"):
        from ...config.store import LOCAL_PROFILE

        if manifest.profile != LOCAL_PROFILE and manifest.profile not in st.store.profiles():
            raise UsageError(
                f"{manifest.source}: profile: no profile named {manifest.profile!r} (`relay profile list` shows them)"
            )
        st.use_profile(manifest.profile)
    selected = st.configured_subscriber(subscriber_flag)
    if not manifest.account:
        return st.subscriber_id(subscriber_flag)
    if selected is None or selected == manifest.account or account_from == "manifest":
        return str(manifest.account)
    if account_from == "selected":
        return selected
    raise UsageError(
        f"{manifest.source} is for account {manifest.account} (its account key), but {_selected_by(st, subscriber_flag)} "
        f"selects account {selected}; nothing was sent",
        hint=f"make them agree, or say which wins: --account-from manifest (account {manifest.account}) or "
        f"--account-from selected (account {selected})",
    )


def _selected_by(st: "State", subscriber_flag: str | None) -> str:
    """Where the account -s / RELAY_SUBSCRIBER_ID / the profile selects came from, in words."""
    if subscriber_flag is not None:
        return "-s/--subscriber-id"
    source = st.settings.values["subscriber_id"].source
    kind, _, where = source.partition(" ")
    if kind == "env":
        return where
    if kind == "profile":
        return f"profile {where!r} (its subscriber_id)"
    return source


def make_plan(
    st: "State", manifest: "Manifest", subscriber: str, prune: bool, dedupe: bool = False
) -> "tuple[Plan, Listing]":
    from ...core import plan as planning

    existing = st.client().list_workflows(subscriber)
    desired = [(e.name, e.body) for e in manifest.entries]
    plan = planning.compare(desired, existing, prune=prune, dedupe=dedupe, raw=manifest.raw_names())
    return plan, existing


def show_plan(out: "Output", plan: "Plan", subscriber: str, source: str, as_json: bool) -> None:
    """The plan on stdout (data); notes about workflows left alone on stderr."""
    from ...core.plan import describe_change

    def human() -> None:
        kept = {d.workflow_id: d.kept for d in plan.duplicates}
        lines = []
        for c in plan.create:
            lines.append(f"+ create  {c.name}")
        for u in plan.update:
            lines.append(f"~ update  {u.name} ({u.workflow_id})")
            lines.extend(f"    {describe_change(change)}" for change in u.changes)
        deleted = set()
        for k in plan.delete:
            deleted.add(k.workflow_id)
            why = f": a duplicate of {kept[k.workflow_id]}" if k.workflow_id in kept else ""
            lines.append(f"- delete  {k.name} ({k.workflow_id}){why}")
        for d in plan.duplicates:
            if d.workflow_id not in deleted:
                lines.append(f"! duplicate  {d.name} ({d.workflow_id}): {d.kept} is kept; --dedupe deletes this one")
        if plan.in_sync:
            lines.append(
                f"In sync: {len(plan.unchanged)} workflow{'s' if len(plan.unchanged) != 1 else ''} of {source} unchanged in account {subscriber}."
            )
        else:
            lines.append(f"Plan for account {subscriber}: {plan.summary()}.")
        out.text("\n".join(lines))

    out.render({"account": subscriber, "manifest": source, **plan.to_json()}, human, as_json=as_json)
    if plan.unmanaged:
        out.message(
            f"note: {len(plan.unmanaged)} workflow{'s' if len(plan.unmanaged) != 1 else ''} of the account "
            f"{'are' if len(plan.unmanaged) != 1 else 'is'} not in {source} and left alone (--prune deletes them)"
        )
    if plan.indescribable:
        ids = ", ".join(k.workflow_id for k, _ in plan.indescribable[:10])
        more = f" and {len(plan.indescribable) - 10} more" if len(plan.indescribable) > 10 else ""
        out.message(
            f"note: {len(plan.indescribable)} workflow{'s' if len(plan.indescribable) != 1 else ''} of the account "
            f"cannot be described by a manifest ({ids}{more}: {plan.indescribable[0][1]}) and "
            f"{'are' if len(plan.indescribable) != 1 else 'is'} left alone, also by --prune; "
            "`relay workflow delete -w ID` deletes one"
        )


def refuse_duplicates(plan: "Plan", subscriber: str, dedupe: bool) -> None:
    """Without --dedupe, an apply that finds several workflows of a name the manifest declares changes nothing
    (exit 2): which one to keep is the user's call."""
    if not plan.duplicates or dedupe:
        return
    groups: dict[str, list[str]] = {}
    for d in plan.duplicates:
        groups.setdefault(d.name, [d.kept]).append(d.workflow_id)
    shown = "; ".join(f"{name}: {', '.join(ids)}" for name, ids in list(groups.items())[:5])
    more = f"; and {len(groups) - 5} more names" if len(groups) > 5 else ""
    raise UsageError(
        f"account {subscriber} has several workflows of {len(groups)} name{'s' if len(groups) != 1 else ''} the "
        f"manifest declares once ({shown}{more}); nothing was applied",
        hint="--dedupe keeps the first id of each name (one that matches the manifest, else the lowest id) and "
        "deletes the others; or delete the ones you do not want with `relay workflow delete -w ID`",
    )


def refuse_partial(plan: "Plan", existing: "Listing", subscriber: str) -> None:
    """A listing with paging markers proves what it holds, not what it lacks: creating a name it does not show
    could duplicate one on a later page, and --prune or --dedupe would delete on the strength of the whole
    account. Updates of the workflows it holds are fine."""
    if not plan.create and not plan.delete:
        return
    parts = [f"create {len(plan.create)}"] if plan.create else []
    if plan.delete:
        parts.append(f"delete {len(plan.delete)}")
    count = len(plan.create) + len(plan.delete)
    existing.require_whole(
        subscriber, f"apply refuses to {' and '.join(parts)} workflow{'s' if count != 1 else ''} on the strength of it"
    )


# --- diff --------------------------------------------------------------------------------------------


@command(
    epilog=examples(
        "relay workflow diff                      # relay.toml against the account",
        "relay workflow diff -f deploy/relay.toml --prune --json",
        "relay workflow diff || echo 'drift (exit 5) or error'",
        "relay workflow diff --dedupe             # what apply --dedupe would delete",
    ),
)
def diff(
    ctx: typer.Context,
    file: FileOpt = "relay.toml",
    prune: PruneOpt = False,
    dedupe: DedupeOpt = False,
    allow_empty: AllowEmptyOpt = False,
    subscriber_id: SubscriberOpt = None,
    account_from: AccountFromOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Compare a manifest with the account's workflows (matched by name) and print the plan.

    Exit 0 when they are in sync, 5 when changes are pending (to create, update or, with --prune, delete), and
    5 while the account has several workflows of a name the manifest declares (each listed with its id).
    A manifest that declares no workflows is refused (exit 2) unless --allow-empty is given. A manifest whose
    account differs from the one -s, RELAY_SUBSCRIBER_ID or the profile selects is refused (exit 2) unless
    --account-from says which wins."""
    manifest = load(file)
    st = state(ctx)
    refuse_no_workflows(st, manifest, subscriber_id, prune, allow_empty, account_from)
    subscriber = target(st, manifest, subscriber_id, account_from)
    plan, _ = make_plan(st, manifest, subscriber, prune, dedupe)
    show_plan(st.out, plan, subscriber, manifest.source, json_output)
    if not plan.in_sync:
        raise typer.Exit(ExitStatus.CHANGES_PENDING)


# --- apply -------------------------------------------------------------------------------------------


def _progress(out: "Output", total: int) -> "Progress | None":
    """A progress bar on stderr when it is a terminal; else None."""
    if total < 2:
        return None
    return out.progress(lambda rp: (
        rp.TextColumn("applying"), rp.BarColumn(), rp.MofNCompleteColumn(), rp.TimeElapsedColumn(),
        rp.TextColumn("{task.description}"),
    ))  # fmt: skip


@command(
    epilog=examples(
        "relay workflow apply                     # create and update what relay.toml says",
        "relay workflow apply -f relay.toml --prune --yes",
        "relay workflow export | relay workflow apply -f - --dry-run",
        "relay workflow apply --dedupe --yes      # keep one workflow of each duplicated name",
        "relay workflow apply -s 1a2b3c4d --account-from selected   # not the manifest's account",
    ),
)
def apply(
    ctx: typer.Context,
    file: FileOpt = "relay.toml",
    prune: PruneOpt = False,
    dedupe: DedupeOpt = False,
    allow_empty: AllowEmptyOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-N", help="Print the plan and send nothing.")] = False,
    yes: YesOpt = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", help="Requests in flight at once (1-32).", show_default=True)
    ] = 8,
    subscriber_id: SubscriberOpt = None,
    account_from: AccountFromOpt = None,
    no_check: NoCheckOpt = False,
    strict: StrictOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Make the account's workflows match a manifest: create what is missing, update what differs (keeping
    its workflow_id), leave the rest alone; with --prune, delete what the manifest does not list.

    Re-running is a no-op; an interrupted apply converges when run again. Call workflows being created or
    changed are checked first (see `relay workflow check`). An empty manifest is refused (exit 2), and so is one
    that declares no workflows unless --allow-empty is given: with --prune it would delete the whole account.

    Nothing is applied (exit 2) while the account has several workflows of a name the manifest declares, unless
    --dedupe says to keep one; nor when the manifest's account differs from the one -s, RELAY_SUBSCRIBER_ID or
    the profile selects, unless --account-from says which wins. --prune never deletes a workflow a manifest
    cannot describe (one without a usable name). Two applies running at once end with one workflow per name: a
    name this apply created that another writer created meanwhile keeps its lowest workflow_id."""
    from ...core import plan as planning

    if not 1 <= jobs <= 32:
        raise UsageError(f"expected 1 to 32, got {jobs}", option="--jobs")
    manifest = load(file)
    st = state(ctx)
    refuse_no_workflows(st, manifest, subscriber_id, prune, allow_empty, account_from)
    subscriber = target(st, manifest, subscriber_id, account_from)
    plan, existing = make_plan(st, manifest, subscriber, prune, dedupe)
    if dry_run:
        st.out.message("Dry run, nothing sent.")
        show_plan(st.out, plan, subscriber, manifest.source, json_output)
        return
    refuse_partial(plan, existing, subscriber)
    refuse_duplicates(plan, subscriber, dedupe)
    if plan.in_sync:
        st.out.render(
            {"account": subscriber, "ok": True, "created": [], "updated": [], "deleted": [],
             "unchanged": len(plan.unchanged)},
            lambda: show_plan(st.out, plan, subscriber, manifest.source, False),
            as_json=json_output,
        )  # fmt: skip
        return
    if not no_check:
        from . import checks

        subjects = [c.body for c in plan.create] + [u.body for u in plan.update]
        checks.report(
            st.out,
            checks.findings(subjects, planning.after(plan, existing)),
            strict=strict,
            action="nothing was applied",
        )
    if plan.delete and not yes:
        names = ", ".join(k.name for k in plan.delete[:10]) + (" ..." if len(plan.delete) > 10 else "")
        flags = " and ".join(f for f, on in (("--prune", prune), ("--dedupe", dedupe)) if on)
        if not confirmed(
            st.out,
            f"Delete {len(plan.delete)} workflow{'s' if len(plan.delete) != 1 else ''} ({names})?",
            yes=yes,
            refusal=f"{flags} would delete {len(plan.delete)} workflow(s) and there is no terminal to confirm on; pass --yes",
        ):
            st.out.message("Nothing applied.")
            return
    outcome = _execute(st, subscriber, plan, manifest, jobs)
    _report(st.out, outcome, plan, subscriber, json_output)


def _execute(st: "State", subscriber: str, plan: "Plan", manifest: "Manifest", jobs: int) -> "Outcome":
    from ...api.bulk import apply_plan

    bar = _progress(st.out, plan.writes)
    desired = [(e.name, e.body) for e in manifest.entries]
    if bar is None:
        return apply_plan(st.client(), subscriber, plan, desired, jobs=jobs)
    with bar:
        task = bar.add_task("", total=plan.writes)
        return apply_plan(
            st.client(), subscriber, plan, desired, jobs=jobs,
            progress=lambda done, total, label: bar.update(task, completed=done, description=label),
        )  # fmt: skip


def _report(out: "Output", outcome: "Outcome", plan: "Plan", subscriber: str, as_json: bool) -> None:
    done = (
        f"{len(outcome.created)} created, {len(outcome.updated)} updated, {len(outcome.deleted)} deleted, "
        f"{len(plan.unchanged)} unchanged"
    )
    for race in outcome.raced:
        gone = ", ".join(race.deleted)
        out.message(
            f"note: another writer created {race.name} at the same time as this apply: kept {race.kept} (the lowest "
            f"workflow_id{', now updated to match the manifest' if race.updated else ''}), deleted {gone}"
        )
    data = {"account": subscriber, **outcome.to_json(), "unchanged": len(plan.unchanged)}
    out.render(data, f"Applied to account {subscriber}: {done}." if outcome.ok else None, as_json=as_json)
    if outcome.ok:
        return
    for failure in outcome.failed:
        out.message(f"failed: {failure.action} {failure.name}: {failure.error.message}")
    parts = [f"{len(outcome.failed)} failed"] if outcome.failed else []
    if outcome.not_attempted:
        parts.append(f"{len(outcome.not_attempted)} not attempted")
    summary = f"apply {'interrupted' if outcome.interrupted else 'incomplete'}: {done}; {', '.join(parts) or 'nothing else done'}"
    err = RelayError(summary, hint="run the same apply again: it carries out only what is still missing")
    if outcome.interrupted:
        err.exit_code = ExitStatus.INTERRUPTED
    elif outcome.failed:
        err.exit_code = outcome.failed[0].error.exit_code
    raise err


# --- export ------------------------------------------------------------------------------------------


@command(
    epilog=examples(
        "relay workflow export > relay.toml",
        "relay workflow export -w my_auto_answer -w place-call",
        "relay workflow export | relay -P qa workflow apply -f - --account-from selected   # a copy in qa's account",
    ),
)
def export(ctx: typer.Context, workflow_id: RefsOpt = None, subscriber_id: SubscriberOpt = None) -> None:
    """Print the account's workflows (or the named ones) as a manifest; `export | apply -f - --prune --yes`
    changes nothing.

    A workflow the typed keys cannot describe exactly (a trigger relay does not know, an arg that is a list,
    an object or null, ...) is written in the raw form: `raw = '''{...}'''`, its Workflow object as JSON, which
    apply sends as it is. Exit 5, after printing the manifest, when a workflow had to be left out (a second
    workflow of one name, one without a usable name: each is named on stderr) or when the listing may be
    incomplete (its answer carried paging markers); apply --prune never deletes what export leaves out."""
    from ...core import manifest as mf, workflow as wf

    refs = [wf.validate_ref(r) for r in workflow_id or []]
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    listing = st.client().list_workflows(subscriber)
    workflows: list[JSONObject] = listing
    if refs:
        chosen: list[JSONObject] = []
        for ref in refs:
            found = wf.resolve(workflows, ref, account=subscriber)
            if found not in chosen:
                chosen.append(found)
        workflows = chosen
    result = mf.export(
        workflows,
        account=subscriber,
        header=f"Relay workflows of account {subscriber}, exported by relay {__version__}.",
    )
    for line in result.left_out:
        st.out.warning(line)
    if result.raw:
        names = ", ".join(result.raw[:10]) + (f" and {len(result.raw) - 10} more" if len(result.raw) > 10 else "")
        st.out.message(
            f"note: {len(result.raw)} workflow{'s' if len(result.raw) != 1 else ''} written in the raw form (the "
            f"Workflow as JSON: the typed keys cannot describe {'them' if len(result.raw) != 1 else 'it'} exactly): {names}"
        )
    st.out.write(result.text)
    if result.left_out or listing.paging:
        what = (
            [f"{len(result.left_out)} workflow{'s' if len(result.left_out) != 1 else ''} left out (named above)"]
            if result.left_out
            else []
        )
        if listing.paging:
            what.append("the listing may be incomplete (its answer carried paging markers)")
        err = RelayError(
            f"the manifest does not describe the whole account {subscriber}: {'; '.join(what)}",
            hint="apply --prune never deletes a workflow export left out",
        )
        err.exit_code = ExitStatus.CHANGES_PENDING
        raise err


# --- check -------------------------------------------------------------------------------------------


@command(
    epilog=examples(
        "relay workflow check                     # every workflow of the account",
        "relay workflow check -w my_auto_answer --warn-only",
        "relay workflow check -f relay.toml       # the manifest, before apply",
    ),
)
def check(
    ctx: typer.Context,
    workflow_id: RefsOpt = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", "-f", metavar="FILE", help="Check a manifest's workflows (- for stdin).", show_default=False
        ),
    ] = None,
    warn_only: Annotated[
        bool, typer.Option("--warn-only", help="Report problems as warnings and exit 0 (default: exit 6).")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", hidden=True, help="Exit 6 on a problem (the default).")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="Time allowed for each WebSocket handshake.")
    ] = 3.0,
    subscriber_id: SubscriberOpt = None,
    account_from: AccountFromOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Preflight checks: open a WebSocket to each workflow's URI, and look for call workflows installed on all
    devices or two of the same direction on one device.

    An unreachable call workflow makes every call to its devices announce "<its name> is not available"
    although the device is fine. Each problem is a warning on stderr (with --json, a finding in the output),
    and any problem makes the command exit 6, so that a script or a CI step stops; --warn-only reports them
    and exits 0."""
    from ...core import plan as planning, workflow as wf
    from . import checks

    if workflow_id and file is not None:
        raise UsageError("give either -w/--workflow-id or -f/--file, not both", option="--file")
    if warn_only and strict:
        raise UsageError(
            "--strict (the default) and --warn-only cannot be used together; pick one", option="--warn-only"
        )
    if not 0 < timeout <= 60:
        raise UsageError(f"expected a number of seconds from 0 to 60, got {timeout}", option="--timeout")
    st = state(ctx)
    if file is not None:
        manifest = load(file)
        refuse_no_workflows(st, manifest, subscriber_id, False, False, account_from)
        subscriber = target(st, manifest, subscriber_id, account_from)
        plan, existing = make_plan(st, manifest, subscriber, False)
        subjects = [e.body for e in manifest.entries]
        account = planning.after(plan, existing)
    else:
        refs = [wf.validate_ref(r) for r in workflow_id or []]
        subscriber = st.subscriber_id(subscriber_id)
        account = st.client().list_workflows(subscriber)
        subjects = [wf.resolve(account, r, account=subscriber) for r in refs] if refs else account
    found = checks.findings(subjects, account, calls_only=False, timeout=timeout)
    passed = f"All checks passed for {len(subjects)} workflow{'s' if len(subjects) != 1 else ''}."
    data = {"account": subscriber, "checked": len(subjects), "findings": [f.to_json() for f in found]}
    st.out.render(data, None if found else passed, as_json=json_output)
    checks.concluded(st.out, found, len(subjects), warn_only=warn_only, as_json=json_output)
