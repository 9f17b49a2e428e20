"""``relay workflow doctor``: Relay's debugging checklist for one registered workflow, as checks with a verdict
and a fix each.

Pure: the checks that need only the account's answers (registered, installed on the device, the trigger, the
URI) are made here; the network's (the server reachable, TLS, the WebSocket handshake) are made by
``api.probe.stages`` and worded here; the recent log and instances come from the API and are judged here.

The device's "<name> is not available" (the calling guide's pitfall) is what a device says when its trigger
fired and Relay could not open the WebSocket at the workflow's URI: a failed ``uri``, ``reachable``, ``tls`` or
``websocket`` check. A workflow not installed on the device is not started there at all: the device says nothing
of it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..jsontypes import JSONObject, JSONValue
from . import sandbox as matching, triggers, workflow as wf
from .manifest import PLACEHOLDER_HOST

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
#: the checks, in order, with their label in the report
CHECKS = {
    "registered": "registered",
    "installed": "installed",
    "trigger": "trigger",
    "uri": "URI",
    "reachable": "server reachable",
    "tls": "TLS",
    "websocket": "WebSocket",
    "instances": "instances",
    "log": "log",
}
#: the checks whose failure makes a device say "<name> is not available"
UNAVAILABLE = ("uri", "reachable", "tls", "websocket")
#: hosts that stand for "your host here" in templates and guides
PLACEHOLDER_HOSTS = (PLACEHOLDER_HOST.lower(), "myhost.mydomain.com", "your-host", "yourhost", "example.com")
PLACEHOLDER_SUFFIXES = (".example.com", ".example.org", ".example.net", ".example", ".invalid", ".test")
#: errors of the log quoted in the report
SHOWN_ERRORS = 3


@dataclass
class Check:
    name: str
    status: str  # ok | failed | skipped
    detail: str
    fix: str | None = None

    def to_json(self) -> JSONObject:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def registered(workflows: Sequence[Mapping[str, JSONValue]], ref: str, account: str) -> tuple[Check, JSONObject | None]:
    """The workflow ``ref`` names: its id, its name or the start of its id (one workflow; ``workflow.matches``)."""
    how, found = wf.matches(workflows, ref)
    if len(found) == 1:
        one = found[0]
        shown = (
            f"{ref} ({one.get('workflow_id')})" if how == "name" else f"{one.get('name')} ({one.get('workflow_id')})"
        )
        return Check("registered", OK, shown), dict(one)
    ids = ", ".join(str(w.get("workflow_id")) for w in found)
    if how == "name":
        return Check(
            "registered",
            FAILED,
            f"{len(found)} workflows are named {ref!r} ({ids}): a device may run any of them",
            "give one by its id, and delete the others (`relay workflow delete -w ID`)",
        ), None
    if how == "start":
        return Check(
            "registered", FAILED, f"{len(found)} workflow ids start with {ref!r} ({ids})", "give more of the id"
        ), None
    return Check(
        "registered",
        FAILED,
        f"no workflow with id or name {ref!r} in account {account}",
        "`relay workflow list` shows the account's workflows (names are matched exactly); `relay workflow apply` "
        "registers relay.toml's",
    ), None


def installed(
    workflow: Mapping[str, JSONValue], groups: Sequence[Mapping[str, JSONValue]], device: tuple[str, str] | None
) -> Check:
    """On ``device`` ((id, how to name it)): directly, on all devices, or through its group. Without a device:
    on some device at all."""
    w = dict(workflow)
    rule = w.get("install_rule")
    group = _group_name(groups, str(rule)) if rule and rule != wf.ALL_DEVICES else None
    ref = w.get("name") or w.get("workflow_id")
    if device is None:
        if rule == wf.ALL_DEVICES:
            return Check("installed", OK, "on all devices of the account")
        if rule:
            return Check("installed", OK, f"on the devices of group {group or rule}")
        ids = [str(d) for d in wf.install_list(w)]
        if ids:
            return Check("installed", OK, f"on {len(ids)} device{'s' if len(ids) != 1 else ''}: {wf.some(ids)}")
        return Check(
            "installed",
            FAILED,
            "on no device: no trigger of any device starts it",
            f"`relay workflow install -w {_quoted(ref)} -i DEVICE_ID` (or -A: all devices, -G: a group)",
        )
    device_id, shown = device
    if matching.installed_on(w, device_id, list(groups)):
        how = "on all devices" if rule == wf.ALL_DEVICES else f"through group {group or rule}" if rule else "directly"
        return Check("installed", OK, f"on {shown}, {how}")
    where = wf.describe_install(w)
    elsewhere = f"group {group}" if group else where or "no device"
    return Check(
        "installed",
        FAILED,
        f"not on {shown} (it is installed on {elsewhere}): a trigger there starts nothing",
        f"`relay workflow install -w {_quoted(ref)} -i {device_id}`",
    )


def _group_name(groups: Sequence[Mapping[str, JSONValue]], rule: str) -> str | None:
    for g in groups:
        gid = str(g.get("group_id") or "")
        if rule in (gid, wf.group_urn(gid)):
            return str(g.get("name") or gid)
    return None


def _quoted(ref: JSONValue) -> str:
    text = str(ref)
    return text if text.replace("_", "").replace("-", "").isalnum() else "'" + text.replace("'", "'\\''") + "'"


def trigger(workflow: Mapping[str, JSONValue]) -> Check:
    """The trigger, shown, for the user to compare with what they expect."""
    trig = wf.trigger_of(dict(workflow))
    key = triggers.trigger_key(trig)
    if key is None:
        return Check(
            "trigger",
            FAILED,
            "none: config.trigger has no on_* key, so nothing starts it",
            "register it again with `relay workflow create <type>` or `relay workflow apply`",
        )
    if key not in triggers.BY_KEY:
        return Check("trigger", OK, f"{key} (a trigger relay does not know: not checked)")
    return Check("trigger", OK, triggers.describe(trig))


def uri(workflow: Mapping[str, JSONValue], *, sandbox: bool) -> Check:
    """The URI's scheme and host: wss:// (ws:// only on a sandbox), a real host (not a placeholder; on Relay, not
    an address of a private network, which Relay's servers cannot reach)."""
    text = wf.uri_of(dict(workflow))
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return Check(
            "uri", FAILED, f"{text!r} is not a valid URI", "`relay workflow update -w NAME --uri wss://HOST/PATH`"
        )
    scheme = parts.scheme.lower()
    ref = _quoted(workflow.get("name") or workflow.get("workflow_id"))
    fix = f"`relay workflow update -w {ref} --uri wss://HOST/PATH` (or fix relay.toml and `relay workflow apply`)"
    given = parts.netloc.rsplit("@", 1)[-1]
    given = given.rsplit(":", 1)[0] if parts.port is not None else given
    if scheme not in ("ws", "wss") or not host:
        return Check("uri", FAILED, f"{text!r} is not a ws:// or wss:// URI", fix)
    if host in PLACEHOLDER_HOSTS or host.endswith(PLACEHOLDER_SUFFIXES):
        return Check("uri", FAILED, f"{text}: {given} is a placeholder, not your app's host", fix)
    if scheme == "ws" and not sandbox:
        return Check("uri", FAILED, f"{text}: Relay connects to workflows over wss:// only", fix)
    if not sandbox and _private(host):
        return Check(
            "uri",
            FAILED,
            f"{text}: {given} is an address of this machine or a private network, which Relay cannot reach",
            "serve the app at a public wss:// address (`relay workflow dev --device ... --tunnel 'ngrok http {port}'` "
            "does it for a session)",
        )
    return Check("uri", OK, text)


def _private(host: str) -> bool:
    if wf.is_loopback(host) or host.endswith((".local", ".localhost", ".internal", ".lan")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_link_local or address.is_unspecified


def network(stage: str, reason: str | None, *, uri: str, detail: str = "") -> Check:
    """``reachable``, ``tls`` or ``websocket`` from ``api.probe.stages``: None is success."""
    parts = urlsplit(uri)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'wss' else 80)}"
    if reason is None:
        ok = {
            "reachable": f"{where} accepts connections",
            "tls": "the certificate is valid for " + str(parts.hostname),
            "websocket": f"the handshake at {parts.path or '/'} was accepted",
        }[stage]
        return Check(stage, OK, f"{ok}{detail}")
    fix = {
        "reachable": "start the app (or its server, tunnel or proxy) and check the URI's host and port",
        "tls": "serve a certificate a public CA signed for the host (Let's Encrypt, or your tunnel's); "
        "SSL_CERT_FILE adds your own CA to this check only",
        "websocket": f"the app must serve the workflow at {parts.path or '/'} (relay-js: app.workflow(name) serves "
        "/name; `relay workflow dev` reads [dev] path)",
    }[stage]
    return Check(stage, FAILED, reason, fix)


def skipped(stage: str, why: str) -> Check:
    return Check(stage, SKIPPED, why)


def instances(running: Sequence[Mapping[str, JSONValue]]) -> Check:
    if not running:
        return Check("instances", OK, "none running now")
    users = ", ".join(sorted({str(i.get("triggering_user_id") or "?") for i in running}))
    return Check("instances", OK, f"{len(running)} running now (on {users})")


def log(entries: Sequence[JSONValue], seconds: float, followed: bool) -> Check:
    """The recent log: its errors, the last ones quoted."""
    errors = [
        e
        for e in entries
        if isinstance(e, Mapping) and str(e.get("level") or "").lower() in ("error", "critical", "fatal")
    ]
    read = f"{len(entries)} line{'s' if len(entries) != 1 else ''}" + (f" in {seconds:g} s" if followed else "")
    if not errors:
        return Check("log", OK, f"no errors ({read})")
    quoted = "; ".join(str(e.get("message")) for e in errors[-SHOWN_ERRORS:])
    return Check(
        "log",
        FAILED,
        f"{len(errors)} error{'s' if len(errors) != 1 else ''} ({read}); the last: {quoted}",
        "`relay workflow logs -w NAME` shows the log as it comes",
    )


def explain(checks: Sequence[Check], name: str, device: str | None) -> str | None:
    """What the device does, in the guide's words, when a check failed."""
    failed = {c.name: c for c in checks if c.status == FAILED}
    who = device or "a device"
    if "installed" in failed:
        return f"the trigger on {who} starts nothing: {name} is not installed there"
    for stage in UNAVAILABLE:
        if stage in failed:
            return (
                f'{who} says "{name} is not available" when the trigger fires: Relay cannot open the WebSocket at the '
                f"workflow's URI ({CHECKS[stage]}: {failed[stage].detail})"
            )
    return None
