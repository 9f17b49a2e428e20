"""The temporary registration of ``relay workflow dev --device``: what it is, how it is recognised, and the public
address it points at.

Pure: the project's workflow (the body ``relay workflow apply`` would send for it), the devices and the address
come in; the body to register goes out.

**The rule** (README, "Your app on a device"): a workflow is a dev registration of a project when

- its name is the project's workflow name followed by `` (dev)`` (``place-call (dev)``), which is what
  ``relay workflow list`` and the device's "<name> is not available" show, and
- its args hold ``relay_dev = "<marker>"``, the project's marker: the first 16 hex digits of the SHA-256 of the
  machine's host name and the project directory's absolute path (``marker``). It is visible on the server
  (``relay workflow args list``), and the same project on another machine has another marker, so a dev session
  there is never taken for one of ours.

Only workflows that match both are ever changed or deleted by ``dev``; a workflow that merely ends in
`` (dev)`` is left alone.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from . import triggers, workflow as wf

SUFFIX = " (dev)"
#: the workflow arg that carries the project's marker
MARKER_ARG = "relay_dev"
MARKER_DIGITS = 16


def marker(host: str, directory: str) -> str:
    """The project's marker: who registered (the machine) and for which project (its absolute path)."""
    return hashlib.sha256(f"{host}\n{directory}".encode("utf-8", "surrogatepass")).hexdigest()[:MARKER_DIGITS]


def dev_name(name: str) -> str:
    return f"{name}{SUFFIX}"


def is_ours(workflow: Mapping[str, JSONValue], mark: str) -> bool:
    """Is ``workflow`` a dev registration of the project whose marker is ``mark``? (The module's rule.)"""
    name = workflow.get("name")
    return (
        isinstance(name, str)
        and name.endswith(SUFFIX)
        and wf.args_of(dict(workflow)).get(MARKER_ARG) == mark
        and bool(workflow.get("workflow_id"))
    )


def ours(workflows: Iterable[Mapping[str, JSONValue]], mark: str) -> list[JSONObject]:
    """The project's dev registrations among ``workflows``, in the account's order."""
    return [dict(w) for w in workflows if is_ours(w, mark)]


def registration(
    workflow: Mapping[str, JSONValue],
    *,
    uri: str,
    mark: str,
    devices: Iterable[str] = (),
    group: str | None = None,
    args: Mapping[str, JSONValue] | None = None,
    workflow_id: str | None = None,
) -> JSONObject:
    """The body of the dev registration of the project's ``workflow``: its trigger and options, its args (under
    ``args``, the -a/-b/-r of the command line) with the marker, at ``uri``, installed on ``devices`` only (or on
    the group ``group``, a urn); ``workflow_id`` when it replaces a registration (``POST`` with the id)."""
    body = {k: copy.deepcopy(v) for k, v in workflow.items() if k not in ("install", "install_rule", "workflow_id")}
    body["name"] = dev_name(str(workflow.get("name")))
    if workflow_id is not None:
        body = {"workflow_id": workflow_id, **body}
    merged = {**wf.args_of(dict(workflow)), **dict(args or {}), MARKER_ARG: mark}
    body = wf.with_args(body, merged)
    wf.inner(body, "config", "trigger", "start", "workflow")["uri"] = uri
    if group is not None:
        body["install_rule"] = group
    else:
        body["install"] = list(dict.fromkeys(devices))
    return body


def same(a: Mapping[str, JSONValue], b: Mapping[str, JSONValue]) -> bool:
    """Do two registrations say the same (their ids aside)?"""
    return {k: v for k, v in a.items() if k != "workflow_id"} == {k: v for k, v in b.items() if k != "workflow_id"}


# --- the public address ---------------------------------------------------------------------------------


def public_base(text: str, option: str = "--public-url", *, sandbox: bool = False) -> str:
    """``--public-url``: the public address that reaches the app's port, as ``wss://host[:port][/prefix]`` (an
    ``https://`` address is the same server: it becomes ``wss://``). Relay connects only to wss://; a sandbox
    (``sandbox``) takes ws:// and http:// too. The workflow's path is added to it (``public_uri``)."""
    given = text.strip()
    try:
        parts = urlsplit(given)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise UsageError(
            f"expected an address such as wss://abc.example.com, got {text!r} ({exc})", option=option
        ) from None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in ("wss", "https", "ws", "http") or wf.has_control(given) or " " in given:
        raise UsageError(f"expected an address such as wss://abc.example.com, got {text!r}", option=option)
    if parts.query or parts.fragment:
        raise UsageError(f"expected an address without ?query or #fragment, got {text!r}", option=option)
    if parts.username or parts.password:
        raise UsageError(f"expected an address without user:password@, got {text!r}", option=option)
    secure = scheme in ("wss", "https")
    if not secure and not sandbox:
        raise UsageError(
            f"Relay connects to workflows over wss:// only (TLS with a certificate it trusts), got {text!r}",
            option=option,
            hint="give the https:// or wss:// address of your tunnel or proxy",
        )
    netloc = parts.netloc.lower() if parts.port is None else parts.netloc
    return f"{'wss' if secure else 'ws'}://{netloc}{parts.path.rstrip('/')}"


def public_uri(base: str, path: str) -> str:
    """The workflow's URI at the public address: the base, then the path the app serves the workflow at."""
    return base.rstrip("/") + path


#: an https:// or wss:// address in a line a tunnel prints
_URL = re.compile(r"\b(?:https|wss)://[A-Za-z0-9.\-\[\]:]+(?:/[^\s'\"<>|]*)?")


def tunnel_url(line: str) -> str | None:
    """The public address a tunnel prints, as ``wss://host[:port]``: the first https:// or wss:// address of
    ``line`` with no path (a tunnel announces a bare origin; the links to documentation and terms that tunnels
    print have paths, so they are not taken for it). None when the line has none."""
    for found in _URL.finditer(line):
        url = found.group(0).rstrip(".,;)")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018
        except ValueError:
            continue
        if parts.hostname and parts.path in ("", "/") and not parts.query:
            return f"wss://{parts.netloc}"
    return None


def ngrok_url(answer: JSONValue, port: int) -> str | None:
    """From ngrok's local API (``GET http://127.0.0.1:4040/api/tunnels``): the https address of the tunnel that
    forwards to ``port``, as ``wss://host``; None when there is none (yet)."""
    tunnels = answer.get("tunnels") if isinstance(answer, dict) else None
    if not isinstance(tunnels, list):
        return None
    for tunnel in tunnels:
        if not isinstance(tunnel, dict):
            continue
        public = tunnel.get("public_url")
        config = tunnel.get("config")
        addr = str(config.get("addr", "")) if isinstance(config, dict) else ""
        if not isinstance(public, str) or not public.startswith("https://"):
            continue
        target = addr.rsplit(":", 1)[-1].strip("/")
        if target == str(port):
            return tunnel_url(public)
    return None


# --- what the user can do next ------------------------------------------------------------------------


def sandbox_event(workflow: Mapping[str, JSONValue], device: str) -> str | None:
    """The ``relay sandbox ...`` command that starts the workflow on ``device`` (a name or id), for the message
    that says the registration is ready; None for a trigger with no simple event."""
    trigger = wf.trigger_of(dict(workflow))
    key = triggers.trigger_key(trigger)
    value = trigger.get(key) if key else None
    device = device if re.fullmatch(r"[A-Za-z0-9_.-]+", device) else f"'{device}'"
    if key == "on_button":
        taps = {v: k for k, v in triggers.BUTTON_ACTIONS.items()}.get(str(value))
        if taps == "long":
            return f"relay sandbox press {device} --long"
        return f"relay sandbox press {device} --taps {taps}" if taps else None
    if key == "on_incoming_call":
        return f"relay sandbox call {device} --from Bob"
    if key == "on_call_request":
        return f"relay sandbox dial {device} --to Bob"
    if key == "on_phrases" and isinstance(value, list) and value:
        phrase = str(value[0]).replace("'", "")
        return f"relay sandbox say {device} '{phrase}'"
    if key == "on_device_event":
        return f"relay sandbox emergency {device}"
    return None
