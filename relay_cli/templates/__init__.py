"""The project templates of ``relay workflow init``: what each one is, and the files it writes.

Pure: ``render`` reads the template files shipped in this package (``<template>/<lang>/app.*``) and returns
the text of every file of a new project; writing them is the command's job.

The apps are written for the published SDKs as they really behave (docs/simulator.md; the JavaScript ones
are run through the simulator against the pinned ``@relaypro/sdk`` by tests/test_dev.py, the Python ones are
checked against relay-py's source by tests/test_init.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

#: the host of the URI a new project registers until its app is hosted (refused by ``relay workflow apply``)
from ..core.manifest import PLACEHOLDER_HOST

LANGS = ("js", "python")
LANG_NAMES = {"js": "JavaScript", "python": "Python"}
#: the SDK versions the templates are written for: @relaypro/sdk's major version, from the release the
#: simulator's conformance suite runs (tests/conformance/package.json)
JS_SDK_RANGE = "^2.4.0"
#: relay-py is not on PyPI: pip installs it from its public repository, at the commit the templates were
#: checked against; relay-py serves with the websockets API that websockets 14 removed
PY_SDK_REPO = "https://github.com/relaypro/relay-py"
PY_SDK_COMMIT = "0e846579369e831266da98ba061b6fec80d70870"
PY_WEBSOCKETS = "websockets<14"
ALICE = "990007560045678"  # the local sandbox's demo device Alice (relay_cli.local.seed)


@dataclass(frozen=True)
class Template:
    name: str
    summary: str  # what the workflow does, after "A Relay workflow that"
    type: str  # the manifest's type (relay workflow create <type>)
    trigger: str
    trigger_text: str  # when it runs
    scenario: str  # the built-in scenario that exercises it
    install: tuple[str, ...] = (ALICE,)
    install_all: bool = False
    args: dict[str, Any] = field(default_factory=dict)
    args_note: str = ""


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "auto-answer",
            "answers every call that comes in to the device and greets the caller",
            "call",
            "inbound",
            "when a call comes in to a device it is installed on",
            "inbound-call",
            args={"greeting": "Now in call"},
            args_note="what the device says once the call is up",
        ),
        Template(
            "outbound",
            'places the call the user asks the device for ("call Bob"), and says so when it fails',
            "call",
            "outbound",
            "when the user of a device it is installed on asks to call someone",
            "outbound-call",
        ),
        Template(
            "place-call",
            "calls another device when the user double-taps the Assistant button",
            "button",
            "double",
            "on a double tap of the Assistant button of any device of the account",
            "button",
            install=(),
            install_all=True,
            args={"callee": "Bob"},
            args_note="the name of the device to call",
        ),
        Template(
            "blank",
            "says a greeting when the user taps the Assistant button: a starting point",
            "button",
            "single",
            "on a single tap of the Assistant button of a device it is installed on",
            "button",
            args={"greeting": "Hello"},
            args_note="what the device says",
        ),
    )
}


def dev_command(lang: str) -> str:
    """How ``relay workflow dev`` starts the app (``[dev] command``)."""
    return "node app.js" if lang == "js" else ".venv/bin/python app.py"


def files(template: str, lang: str, name: str) -> dict[str, str]:
    """Every file of a new project (relative path → text), for workflow ``name``."""
    from importlib.resources import files as resources

    t = TEMPLATES[template]
    app_file = "app.js" if lang == "js" else "app.py"
    app = resources(__package__).joinpath(template, lang, app_file).read_text(encoding="utf-8")
    out = {app_file: app}
    if lang == "js":
        out["package.json"] = _package_json(name)
    else:
        out["requirements.txt"] = _requirements()
    out["relay.toml"] = manifest(t, lang, name)
    out["README.md"] = readme(t, lang, name)
    out[".gitignore"] = "node_modules/\n.env\n" if lang == "js" else ".venv/\n__pycache__/\n*.pyc\n.env\n"
    return out


def _package_json(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "relay-workflow"
    doc = {
        "name": slug[:214],
        "private": True,
        "description": f"The Relay workflow {name}",
        "main": "app.js",
        "scripts": {"start": "node app.js"},
        "dependencies": {"@relaypro/sdk": JS_SDK_RANGE},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _requirements() -> str:
    return (
        "# relay-py, Relay's Python SDK, is not on PyPI: pip installs it from its public repository, at the\n"
        "# commit `relay workflow init` checked this project against.\n"
        f"relay-py @ git+{PY_SDK_REPO}.git@{PY_SDK_COMMIT}\n"
        "# relay-py serves with the websockets API that websockets 14 removed.\n"
        f"{PY_WEBSOCKETS}\n"
    )


# --- relay.toml --------------------------------------------------------------------------------------

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(text: str) -> str:
    return text if _BARE.match(text) else _string(text)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _commented(line: str, comment: str) -> str:
    return f"{line.ljust(31)} # {comment}"


def manifest(t: Template, lang: str, name: str) -> str:
    table = f"workflow.{_key(name)}"
    if t.install_all:
        install = _commented("install_all = true", "every device of the account")
    else:
        ids = ", ".join(_string(i) for i in t.install)
        install = _commented(
            f"install = [{ids}]", "device ids (`relay devices`); this one is Alice of the local sandbox"
        )
    lines = [
        "# The workflow this project registers. `relay workflow apply`, run in this directory, creates it in your",
        "# Relay account or updates it in place. Its keys are the long flags of `relay workflow create`.",
        f"# Replace {PLACEHOLDER_HOST} with the host that serves {'app.js' if lang == 'js' else 'app.py'} first: apply refuses it.",
        "",
        f"[{table}]",
        f"type = {_string(t.type)}",
        _commented(f"trigger = {_string(t.trigger)}", f"runs {t.trigger_text}"),
        f"uri = {_string(f'wss://{PLACEHOLDER_HOST}/{t.name}')}",
        install,
    ]
    if t.args:
        lines += ["", _commented(f"[{table}.args]", "the app reads them with get_var")]
        lines += [_commented(f"{_key(k)} = {_string(v)}", t.args_note) for k, v in t.args.items()]
    lines += [
        "",
        "# `relay workflow dev`: how to start the app, the path it serves the workflow at, and the scenario that",
        "# exercises it (a built-in scenario of `relay workflow simulate`, or a scenario file).",
        "[dev]",
        f"command = {_string(dev_command(lang))}",
        f"path = {_string('/' + t.name)}",
        f"scenario = {_string(t.scenario)}",
    ]
    return "\n".join(lines) + "\n"


# --- README.md ---------------------------------------------------------------------------------------


def readme(t: Template, lang: str, name: str) -> str:
    js = lang == "js"
    app_file = "app.js" if js else "app.py"
    sdk = (
        "Relay's JavaScript SDK, [`@relaypro/sdk`](https://www.npmjs.com/package/@relaypro/sdk)"
        if js
        else f"Relay's Python SDK, [relay-py]({PY_SDK_REPO})"
    )
    scenario = {
        "inbound-call": "plays an incoming call from Bob against it",
        "outbound-call": 'plays a user asking to "call Bob" against it',
        "button": f"plays a {t.trigger} tap of the Assistant button against it",
    }[t.scenario]
    if js:
        install = (
            "```sh\nnpm install\n```\n\n"
            f"installs `@relaypro/sdk` {JS_SDK_RANGE[1:]} or a later 2.x release (`package.json`); the SDK needs Node.js 14.15 or newer."
        )
        files_row = "| `package.json` | its dependency: `@relaypro/sdk` 2.x |"
    else:
        install = (
            "relay-py is not on PyPI: `requirements.txt` installs it from its public repository, "
            f"{PY_SDK_REPO}, at the commit this project was checked against, with a websockets release older than 14 "
            "(relay-py serves with the websockets API that release removed). Give it a virtual environment of "
            "its own, in `.venv` (the `[dev] command` of `relay.toml` runs `.venv/bin/python`):\n\n"
            "```sh\npython3 -m venv .venv\n.venv/bin/python -m pip install -r requirements.txt\n```\n\n"
            "On Windows the interpreter is `.venv\\Scripts\\python`: use it in both places."
        )
        files_row = "| `requirements.txt` | its dependencies: relay-py (from its repository) and websockets |"
    quiet = (
        "\n\n`@relaypro/sdk` logs every message it sends and receives on the app's stdout. The conversation shows them"
        " already: `relay workflow dev --app-output stderr` leaves that log out."
        if js
        else ""
    )
    return f"""# {name}

A Relay workflow that {t.summary}. It runs {t.trigger_text}. Written with {sdk}; made with
`relay workflow init {t.name}{"" if js else " --lang python"}`.

| file | what it is |
| --- | --- |
| `{app_file}` | the workflow app: a WebSocket server on `$PORT` (8080 by default) serving the workflow at `/{t.name}` |
{files_row}
| `relay.toml` | the registration `relay workflow apply` makes, and the settings of `relay workflow dev` (`[dev]`) |

## 1. Install the dependencies

{install}

## 2. Try it on this machine

```sh
relay workflow dev
```

starts the app on a free port, {scenario} (the simulator plays the Relay server and the devices) and
prints the conversation, with the app's own output set apart on stderr. It does it again every time a
file here changes, until Ctrl-C. `relay workflow dev --once` runs once and exits 0 when the app handled
the scenario, 6 when it did not (for CI).{quiet}

## 3. Host the app

The Relay server connects to the app over the internet with `wss://`: run it on a host that serves
WebSockets over TLS (a cloud service, or a tunnel to this machine), with `PORT` set to the port it should
listen on. Then put its address in `relay.toml`: replace `{PLACEHOLDER_HOST}` in `uri`.

## 4. Register the workflow

```sh
relay workflow apply
```

creates the workflow in your Relay account (after `relay login`, or with `RELAY_API_KEY` set), installed
as `relay.toml` says (`relay devices` lists your devices' ids); run again, it updates it in place.
`relay workflow check -f relay.toml` opens a WebSocket to that address first, to tell whether the app answers there.
"""
