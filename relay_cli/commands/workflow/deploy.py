"""``relay workflow diff | apply | export | check``: declarative deploys from a manifest (``relay.toml``).

The manifest format and the plan live in ``core.manifest`` and ``core.plan``; carrying a plan out in
``api.bulk``; the preflight checks in ``core.preflight`` / ``checks``. This module reads files and flags,
and prints.
"""

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ... import __version__, output
from ...errors import EXIT_CHANGES_PENDING, EXIT_INTERRUPTED, RelayError, UsageError
from .._common import JsonOpt, NoCheckOpt, StrictOpt, SubscriberOpt, YesOpt, command, confirmed, examples, state

if TYPE_CHECKING:
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
RefsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--workflow-id", "-w", metavar="REF", help="A workflow's exact id or name (repeatable).", show_default=False
    ),
]


# --- shared steps ----------------------------------------------------------------------------------


def load(path: str) -> Any:
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
    st: "State", manifest: Any, subscriber_flag: str | None, prune: bool, allow_empty: bool
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
    account = manifest.account or "the account"
    try:
        account = target(st, manifest, subscriber_flag)
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


def target(st: "State", manifest: Any, subscriber_flag: str | None) -> str:
    """The account: -s > RELAY_SUBSCRIBER_ID > the manifest's ``account`` > the profile's > the server's default.
    The profile: -P > RELAY_PROFILE > the manifest's ``profile`` > the current one."""
    if manifest.profile and st.profile_flag is None and not st.environ.get("RELAY_PROFILE"):
        from ...config.store import LOCAL_PROFILE

        if manifest.profile != LOCAL_PROFILE and manifest.profile not in st.store.profiles():
            raise UsageError(
                f"{manifest.source}: profile: no profile named {manifest.profile!r} (`relay profile list` shows them)"
            )
        st.use_profile(manifest.profile)
    flag = subscriber_flag
    if flag is None and manifest.account and not st.environ.get("RELAY_SUBSCRIBER_ID"):
        flag = manifest.account
    return st.subscriber_id(flag)


def make_plan(st: "State", manifest: Any, subscriber: str, prune: bool) -> tuple[Any, list[dict[str, Any]]]:
    from ...core import plan as planning

    existing = st.client().list_workflows(subscriber)
    return planning.compare([(e.name, e.body) for e in manifest.entries], existing, prune=prune), existing


def show_plan(plan: Any, subscriber: str, source: str, as_json: bool) -> None:
    """The plan on stdout (data); notes about workflows left alone on stderr."""
    from ...core.plan import describe_change

    if as_json:
        output.print_json({"account": subscriber, "manifest": source, **plan.to_json()})
    else:
        lines = []
        for c in plan.create:
            lines.append(f"+ create  {c.name}")
        for u in plan.update:
            lines.append(f"~ update  {u.name} ({u.workflow_id})")
            lines.extend(f"    {describe_change(change)}" for change in u.changes)
        for k in plan.delete:
            lines.append(f"- delete  {k.name} ({k.workflow_id})")
        if plan.in_sync:
            lines.append(
                f"In sync: {len(plan.unchanged)} workflow{'s' if len(plan.unchanged) != 1 else ''} of {source} unchanged in account {subscriber}."
            )
        else:
            lines.append(f"Plan for account {subscriber}: {plan.summary()}.")
        output.print_text("\n".join(lines))
    if plan.duplicates and not any(k in plan.delete for k in plan.duplicates):
        names = ", ".join(sorted({k.name for k in plan.duplicates}))
        output.warning(f"the account has more than one workflow named {names}; --prune deletes the extra ones")
    if plan.unmanaged:
        output.message(
            f"note: {len(plan.unmanaged)} workflow{'s' if len(plan.unmanaged) != 1 else ''} of the account "
            f"{'are' if len(plan.unmanaged) != 1 else 'is'} not in {source} and left alone (--prune deletes them)"
        )


# --- diff --------------------------------------------------------------------------------------------


@command(
    epilog=examples(
        "relay workflow diff                      # relay.toml against the account",
        "relay workflow diff -f deploy/relay.toml --prune --json",
        "relay workflow diff || echo 'drift (exit 5) or error'",
    ),
)
def diff(
    ctx: typer.Context,
    file: FileOpt = "relay.toml",
    prune: PruneOpt = False,
    allow_empty: AllowEmptyOpt = False,
    subscriber_id: SubscriberOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Compare a manifest with the account's workflows (matched by name) and print the plan.

    Exit 0 when they are in sync, 5 when changes are pending (to create, update or, with --prune, delete).
    A manifest that declares no workflows is refused (exit 2) unless --allow-empty is given."""
    manifest = load(file)
    st = state(ctx)
    refuse_no_workflows(st, manifest, subscriber_id, prune, allow_empty)
    subscriber = target(st, manifest, subscriber_id)
    plan, _ = make_plan(st, manifest, subscriber, prune)
    show_plan(plan, subscriber, manifest.source, json_output)
    if not plan.in_sync:
        raise typer.Exit(EXIT_CHANGES_PENDING)


# --- apply -------------------------------------------------------------------------------------------


def _progress(total: int) -> Any:
    """A progress bar on stderr when it is a terminal; else None."""
    if total < 2:
        return None
    return output.progress(lambda rp: (
        rp.TextColumn("applying"), rp.BarColumn(), rp.MofNCompleteColumn(), rp.TimeElapsedColumn(),
        rp.TextColumn("{task.description}"),
    ))  # fmt: skip


@command(
    epilog=examples(
        "relay workflow apply                     # create and update what relay.toml says",
        "relay workflow apply -f relay.toml --prune --yes",
        "relay workflow export | relay workflow apply -f - --dry-run",
    ),
)
def apply(
    ctx: typer.Context,
    file: FileOpt = "relay.toml",
    prune: PruneOpt = False,
    allow_empty: AllowEmptyOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-N", help="Print the plan and send nothing.")] = False,
    yes: YesOpt = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", help="Requests in flight at once (1-32).", show_default=True)
    ] = 8,
    subscriber_id: SubscriberOpt = None,
    no_check: NoCheckOpt = False,
    strict: StrictOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Make the account's workflows match a manifest: create what is missing, update what differs (keeping
    its workflow_id), leave the rest alone; with --prune, delete what the manifest does not list.

    Re-running is a no-op; an interrupted apply converges when run again. Call workflows being created or
    changed are checked first (see `relay workflow check`). An empty manifest is refused (exit 2), and so is one
    that declares no workflows unless --allow-empty is given: with --prune it would delete the whole account."""
    from ...core import plan as planning

    if not 1 <= jobs <= 32:
        raise UsageError(f"expected 1 to 32, got {jobs}", option="--jobs")
    manifest = load(file)
    st = state(ctx)
    refuse_no_workflows(st, manifest, subscriber_id, prune, allow_empty)
    subscriber = target(st, manifest, subscriber_id)
    plan, existing = make_plan(st, manifest, subscriber, prune)
    if dry_run:
        output.message("Dry run, nothing sent.")
        show_plan(plan, subscriber, manifest.source, json_output)
        return
    if plan.in_sync:
        if json_output:
            output.print_json({"account": subscriber, "ok": True, "created": [], "updated": [], "deleted": [],
                               "unchanged": len(plan.unchanged)})  # fmt: skip
        else:
            show_plan(plan, subscriber, manifest.source, False)
        return
    if not no_check:
        from . import checks

        subjects = [c.body for c in plan.create] + [u.body for u in plan.update]
        checks.report(
            checks.findings(subjects, planning.after(plan, existing)), strict=strict, action="nothing was applied"
        )
    if plan.delete and not yes:
        names = ", ".join(k.name for k in plan.delete[:10]) + (" ..." if len(plan.delete) > 10 else "")
        if not confirmed(
            f"Delete {len(plan.delete)} workflow{'s' if len(plan.delete) != 1 else ''} not in {manifest.source} ({names})?",
            yes=yes,
            refusal=f"--prune would delete {len(plan.delete)} workflow(s) and there is no terminal to confirm on; pass --yes",
        ):
            output.message("Nothing applied.")
            return
    outcome = _execute(st, subscriber, plan, manifest, jobs)
    _report(outcome, plan, subscriber, json_output)


def _execute(st: "State", subscriber: str, plan: Any, manifest: Any, jobs: int) -> Any:
    from ...api.bulk import apply_plan

    bar = _progress(plan.writes)
    desired = [(e.name, e.body) for e in manifest.entries]
    if bar is None:
        return apply_plan(st.client(), subscriber, plan, desired, jobs=jobs)
    with bar:
        task = bar.add_task("", total=plan.writes)
        return apply_plan(
            st.client(), subscriber, plan, desired, jobs=jobs,
            progress=lambda done, total, label: bar.update(task, completed=done, description=label),
        )  # fmt: skip


def _report(outcome: Any, plan: Any, subscriber: str, as_json: bool) -> None:
    done = (
        f"{len(outcome.created)} created, {len(outcome.updated)} updated, {len(outcome.deleted)} deleted, "
        f"{len(plan.unchanged)} unchanged"
    )
    if as_json:
        output.print_json({"account": subscriber, **outcome.to_json(), "unchanged": len(plan.unchanged)})
    if outcome.ok:
        if not as_json:
            output.success(f"Applied to account {subscriber}: {done}.")
        return
    for failure in outcome.failed:
        output.message(f"failed: {failure.action} {failure.name}: {failure.error.message}")
    parts = [f"{len(outcome.failed)} failed"] if outcome.failed else []
    if outcome.not_attempted:
        parts.append(f"{len(outcome.not_attempted)} not attempted")
    summary = f"apply {'interrupted' if outcome.interrupted else 'incomplete'}: {done}; {', '.join(parts) or 'nothing else done'}"
    err = RelayError(summary, hint="run the same apply again: it carries out only what is still missing")
    if outcome.interrupted:
        err.exit_code = EXIT_INTERRUPTED
    elif outcome.failed:
        err.exit_code = outcome.failed[0].error.exit_code
    raise err


# --- export ------------------------------------------------------------------------------------------


@command(
    epilog=examples(
        "relay workflow export > relay.toml",
        "relay workflow export -w my_auto_answer -w place-call",
        "relay workflow export | relay -P qa workflow apply -f -",
    ),
)
def export(ctx: typer.Context, workflow_id: RefsOpt = None, subscriber_id: SubscriberOpt = None) -> None:
    """Print the account's workflows (or the named ones) as a manifest; `export | apply -f -` changes nothing."""
    from ...core import manifest as mf, workflow as wf

    refs = [wf.validate_ref(r) for r in workflow_id or []]
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    workflows = st.client().list_workflows(subscriber)
    if refs:
        chosen: list[dict[str, Any]] = []
        for ref in refs:
            found = wf.resolve(workflows, ref, account=subscriber)
            if found not in chosen:
                chosen.append(found)
        workflows = chosen
    text, skipped = mf.export(
        workflows,
        account=subscriber,
        header=f"Relay workflows of account {subscriber}, exported by relay {__version__}.",
    )
    for warning in skipped:
        output.warning(warning)
    sys.stdout.write(text)
    sys.stdout.flush()


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
        refuse_no_workflows(st, manifest, subscriber_id, False, False)
        subscriber = target(st, manifest, subscriber_id)
        plan, existing = make_plan(st, manifest, subscriber, False)
        subjects = [e.body for e in manifest.entries]
        account = planning.after(plan, existing)
    else:
        refs = [wf.validate_ref(r) for r in workflow_id or []]
        subscriber = st.subscriber_id(subscriber_id)
        account = st.client().list_workflows(subscriber)
        subjects = [wf.resolve(account, r, account=subscriber) for r in refs] if refs else account
    found = checks.findings(subjects, account, calls_only=False, timeout=timeout)
    if json_output:
        output.print_json({"account": subscriber, "checked": len(subjects), "findings": [f.to_json() for f in found]})
    elif not found:
        output.success(f"All checks passed for {len(subjects)} workflow{'s' if len(subjects) != 1 else ''}.")
    checks.concluded(found, len(subjects), warn_only=warn_only, as_json=json_output)
