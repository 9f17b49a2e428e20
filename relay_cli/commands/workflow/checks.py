"""Running the preflight checks (``core.preflight``) and reporting them: shared by ``check``, ``create call``,
``install`` and ``apply``. The WebSocket handshakes happen in ``api.probe``."""

from typing import TYPE_CHECKING

from ...errors import CheckFailed
from ...jsontypes import JSONObject

if TYPE_CHECKING:
    from ...core.preflight import Finding
    from ...jsontypes import JSONObject
    from ...output import Output
    from ...state import State

#: seconds the WebSocket opening handshake may take (DNS, TCP, TLS and upgrade)
TIMEOUT = 3.0


def findings(
    subjects: "list[JSONObject]",
    account: "list[JSONObject]",
    *,
    calls_only: bool = True,
    timeout: float = TIMEOUT,
) -> "list[Finding]":
    """Problems of ``subjects`` (workflows about to be saved, or to check) within ``account`` (the account's
    workflows as they will be): unreachable URIs, then install findings that involve a subject."""
    from ...core import preflight

    targets = preflight.probe_targets(subjects, calls_only=calls_only)
    found = []
    if targets:
        from ...api.probe import probe

        for uri, reason in probe(targets, timeout).items():
            if reason is not None:
                found.append(preflight.unreachable(uri, reason, targets[uri]))
    names = {str(w.get("name") or w.get("workflow_id")) for w in subjects}
    found.extend(preflight.install_findings(account, only=names))
    return found


def report(out: "Output", found: "list[Finding]", *, strict: bool, action: str) -> None:
    """Each finding as a warning on stderr; with ``strict``, any finding stops ``action`` (exit 6)."""
    for finding in found:
        out.warning(finding.message)
    if strict and found:
        raise CheckFailed(
            f"{len(found)} preflight check{'s' if len(found) != 1 else ''} failed (--strict), so {action}",
            hint="fix what the warnings say, or run without --strict (or with --no-check) to go ahead",
        )


def concluded(out: "Output", found: "list[Finding]", checked: int, *, warn_only: bool, as_json: bool) -> None:
    """``relay workflow check``'s verdict: each finding as a warning (not with --json: the findings are in the
    output), then, unless ``warn_only``, exit 6 when there is any."""
    if not as_json:
        for finding in found:
            out.warning(finding.message)
    if found and not warn_only:
        problems = f"{len(found)} problem{'s' if len(found) != 1 else ''}"
        raise CheckFailed(
            f"{problems} found in {checked} workflow{'s' if checked != 1 else ''}",
            hint="fix what the warnings say; --warn-only reports problems without failing",
        )


def before_save(
    st: "State", subscriber: str, body: "JSONObject", existing: "list[JSONObject] | None", *, strict: bool
) -> None:
    """The automatic check before a call workflow is created or changed (``create call``, ``install``).

    ``existing``: the account's workflows if already fetched (else they are listed here)."""
    from ...core import preflight

    if preflight.direction(body) is None:
        return
    if existing is None:
        existing = st.client().list_workflows(subscriber)
    wid = body.get("workflow_id")
    account = [w for w in existing if not (wid and w.get("workflow_id") == wid)] + [body]
    report(st.out, findings([body], account), strict=strict, action="nothing was sent")
