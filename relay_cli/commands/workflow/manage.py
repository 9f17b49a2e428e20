"""``relay workflow delete | install | uninstall | trigger``"""

from typing import TYPE_CHECKING, Annotated

import typer

from ...errors import UsageError
from ...jsontypes import JSONObject
from .._common import (
    ArgOpt,
    BooleanOpt,
    DeleteDryRunOpt,
    DryRunOpt,
    InstallAllOpt,
    InstallGroupOpt,
    InstallOpt,
    JsonOpt,
    NoCheckOpt,
    NumberOpt,
    StrictOpt,
    SubscriberOpt,
    WorkflowRefOpt,
    YesOpt,
    command,
    confirmed,
    examples,
    expand_ids,
    state,
)
from .._resource import (
    WORKFLOW,
    delete as delete_item,
    dry_run_report,
    find_workflow as find,  # -w, the one way: also imported by logs and simulate
)

if TYPE_CHECKING:
    from ...core.workflow import InstallTarget
    from ...state import State


def save(st: "State", subscriber: str, body: JSONObject, verb: str, dry_run: bool, as_json: bool) -> None:
    from . import render

    if dry_run:
        render.dry_run(st, "POST", "/ibot/workflow", subscriber, body, as_json)
        return
    saved = st.client().save_workflow(subscriber, body)
    render.saved(st.out, saved or [body], verb, as_json)


@command(
    epilog=examples(
        "relay workflow delete -w my_auto_answer",
        "relay workflow delete -w WORKFLOW_ID --yes",
        "relay workflow delete -w my_auto_answer -N",
    ),
)
def delete(
    ctx: typer.Context,
    workflow_id: WorkflowRefOpt,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    dry_run: DeleteDryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete a workflow. Asks first on a terminal; scripts pass --yes."""
    from ...core import workflow as wf

    wf.validate_ref(workflow_id)
    delete_item(state(ctx), WORKFLOW, workflow_id, subscriber_id, yes=yes, dry_run=dry_run, as_json=json_output)


def _target(install: list[str] | None, install_all: bool, install_group: str | None) -> "InstallTarget":
    from ...core import workflow as wf

    target = wf.install_target(expand_ids(install), install_all, install_group)
    if not target.given:
        raise UsageError(
            "expected one of -i/--install ID, -A/--install-all or -G/--install-group GROUP", option="--install"
        )
    return target


@command(
    epilog=examples(
        "relay workflow install -w my_auto_answer -i 990007560023456",
        "relay workflow install -w place-call --install-all",
    ),
)
def install(
    ctx: typer.Context,
    workflow_id: WorkflowRefOpt,
    install: InstallOpt = None,
    install_all: InstallAllOpt = False,
    install_group: InstallGroupOpt = None,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
    no_check: NoCheckOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Install a workflow on more devices (-i, added to its list), on all devices (-A) or on a group (-G).

    For a call workflow, preflight checks run first (see `relay workflow check`); --no-check skips them."""
    from ...core import workflow as wf

    target = _target(install, install_all, install_group)
    st = state(ctx)
    subscriber, workflow = find(st, subscriber_id, workflow_id, to_edit=True)
    if target.devices and wf.installed_by_rule(workflow) and not dry_run:
        where = wf.describe_install(workflow)
        question = f"{workflow.get('name')} is installed on {where}; install it on only {wf.some(list(target.devices))} instead?"
        refusal = f"the workflow is installed on {where} and -i would narrow it to a list; pass --yes to do that"
        if not confirmed(st.out, question, yes=yes, refusal=refusal):
            st.out.message("Not changed.")
            return
    body = wf.with_install(workflow, target)
    if not dry_run and not no_check:
        from .checks import before_save

        before_save(st, subscriber, body, None, strict=strict)  # lists the account only for a call workflow
    save(st, subscriber, body, "Installed", dry_run, json_output)


@command(
    epilog=examples(
        "relay workflow uninstall -w my_auto_answer -i 990007560023456", "relay workflow uninstall -w place-call -A"
    ),
)
def uninstall(
    ctx: typer.Context,
    workflow_id: WorkflowRefOpt,
    install: InstallOpt = None,
    install_all: InstallAllOpt = False,
    install_group: InstallGroupOpt = None,
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Uninstall a workflow from devices (-i), or remove every install (-A or -G)."""
    from ...core import workflow as wf

    target = _target(install, install_all, install_group)
    st = state(ctx)
    subscriber, workflow = find(st, subscriber_id, workflow_id, to_edit=True)
    if target.devices and wf.installed_by_rule(workflow):
        raise UsageError(
            f"{workflow.get('name')} is installed on {wf.describe_install(workflow)}, not on a list of ids; "
            "remove the rule with -A (or -G), or narrow it first with `relay workflow install -i ...`",
            option="--install",
        )
    missing = wf.not_installed(workflow, target)
    if missing:
        st.out.warning(f"{workflow.get('name')} is not installed on {wf.some(missing)}")
    save(st, subscriber, wf.without_install(workflow, target), "Uninstalled", dry_run, json_output)


@command(
    epilog=examples(
        "relay workflow trigger -w webhook -u 990007560045678 -a order=1234 -b urgent=true",
        "relay workflow trigger -w webhook -u 990007560045678 -a order=1234 --dry-run",
    ),
)
def trigger(
    ctx: typer.Context,
    workflow_id: WorkflowRefOpt,
    user_id: Annotated[
        str,
        typer.Option("--user-id", "-u", metavar="ID", help="Device or user the workflow runs for.", show_default=False),
    ],
    arg: ArgOpt = None,
    boolean: BooleanOpt = None,
    number: NumberOpt = None,
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Start an HTTP-triggered workflow now, on behalf of a user."""
    from ...core import workflow as wf

    user = wf.validate_id(user_id, "--user-id", "a device or user id")
    args = wf.parse_args(arg, boolean, number)
    st = state(ctx)
    subscriber, workflow = find(st, subscriber_id, workflow_id)
    wid = str(workflow.get("workflow_id"))
    if dry_run:
        query = {"subscriber_id": subscriber, "user_id": user}
        dry_run_report(st, "POST", WORKFLOW.path_of(wid), query, wf.trigger_body(user, args), json_output)
        return
    from ...errors import ApiError, NetworkError

    try:
        st.client().trigger_workflow(subscriber, wid, user, args)
    except ApiError as exc:
        if exc.error != "workflow_unavailable" or not exc.detail:
            raise
        # the sandbox runs the workflow and could not reach its app: what the device would announce
        from ...local.conversations import unavailable_hint

        says = f'the device says "{workflow.get("name")} is not available"'
        raise NetworkError(
            exc.detail, hint=f"{says}; {unavailable_hint(wf.uri_of(workflow), exc.detail, None)}"
        ) from None
    st.out.render(
        {"workflow_id": wid, "name": workflow.get("name"), "user_id": user, "triggered": True},
        f"Triggered workflow {workflow.get('name')} ({workflow.get('workflow_id')}) for {user}",
        as_json=json_output,
    )
