"""``relay workflow init``: the files of each template, refusals, and what ``relay workflow apply`` makes of them.

The JavaScript apps are run for real through ``relay workflow dev`` in tests/test_dev.py. The Python apps are
checked here against relay-py's public API as its source shows it (``test_python_apps_call_relay_py_as_its_
source_defines_it``), and run through the simulator in tests/test_dev.py where relay-py is installed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from relay_cli.core import manifest as mf
from relay_cli.local.seed import DEMO_DEVICES

from sdks import relay_py_python

TEMPLATES = ("auto-answer", "outbound", "place-call", "blank")
ALICE = "990007560045678"
LOCAL = ("--profile", "local")

#: per template: the registration relay.toml declares (the trigger on the wire), its args, its dev scenario
EXPECTED: dict[str, dict[str, Any]] = {
    "auto-answer": {
        "trigger": {"on_incoming_call": ".*"},
        "args": {"greeting": "Now in call"},
        "scenario": "inbound-call",
        "install": [ALICE],
    },
    "outbound": {"trigger": {"on_call_request": ".*"}, "args": {}, "scenario": "outbound-call", "install": [ALICE]},
    "place-call": {
        "trigger": {"on_button": "action_button_double_tap"},
        "args": {"callee": "Bob"},
        "scenario": "button",
        "install": [],
    },
    "blank": {
        "trigger": {"on_button": "action_button_single_tap"},
        "args": {"greeting": "Hello"},
        "scenario": "button",
        "install": [ALICE],
    },
}
FILES = {
    "js": ["app.js", "package.json", "relay.toml", "README.md", ".gitignore"],
    "python": ["app.py", "requirements.txt", "relay.toml", "README.md", ".gitignore"],
}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# --- what each template writes ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["js", "python"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_writes_its_project(run: Any, tmp_path: Path, template: str, lang: str) -> None:
    target = tmp_path / "proj"
    result = run("workflow", "init", template, str(target), "--lang", lang)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [str(target / f) for f in FILES[lang]]
    assert sorted(tree(target)) == sorted(FILES[lang])
    expected = EXPECTED[template]

    doc = tomllib.loads((target / "relay.toml").read_text(encoding="utf-8"))
    assert set(doc) == {"workflow", "dev"} and list(doc["workflow"]) == ["proj"]  # named after the directory
    body = mf.parse_entry("proj", doc["workflow"]["proj"]).body  # what `apply` would send, built as `create` does
    trigger = body["config"]["trigger"]
    assert {k: v for k, v in trigger.items() if k != "start"} == expected["trigger"]
    assert trigger["start"]["workflow"] == {"uri": f"wss://YOUR-HOST/{template}", "args": expected["args"]}
    if template == "place-call":
        assert body["install_rule"] == "urn:relay-resource:all:device"
    else:
        assert body["install"] == expected["install"] and DEMO_DEVICES[ALICE] == "Alice"
    command = "node app.js" if lang == "js" else ".venv/bin/python app.py"
    assert doc["dev"] == {"command": command, "path": f"/{template}", "scenario": expected["scenario"]}

    readme = (target / "README.md").read_text(encoding="utf-8")
    steps = re.findall(r"^## (\d)\. (.*)$", readme, re.M)
    assert steps == [
        ("1", "Install the dependencies"),
        ("2", "Try it on this machine"),
        ("3", "Host the app"),
        ("4", "Register the workflow"),
    ]
    assert "relay workflow dev" in readme and "relay workflow apply" in readme and "YOUR-HOST" in readme
    gitignore = (target / ".gitignore").read_text(encoding="utf-8").splitlines()
    if lang == "js":
        app = (target / "app.js").read_text(encoding="utf-8")
        assert f"app.workflow('{template}', " in app  # served at /TEMPLATE; relay() listens on $PORT (default 8080)
        package = json.loads((target / "package.json").read_text(encoding="utf-8"))
        assert package["dependencies"] == {"@relaypro/sdk": "^2.4.0"} and package["private"] is True
        assert package["name"] == "proj" and "npm install" in readme and "node_modules/" in gitignore
    else:
        app = (target / "app.py").read_text(encoding="utf-8")
        assert f'server.register(wf, "/{template}")' in app and 'int(os.getenv("PORT", "8080"))' in app
        requirements = (target / "requirements.txt").read_text(encoding="utf-8")
        wanted = [line for line in requirements.splitlines() if line and not line.startswith("#")]
        assert wanted == [
            "relay-py @ git+https://github.com/relaypro/relay-py.git@0e846579369e831266da98ba061b6fec80d70870",
            "websockets<14",
        ]
        assert "not on PyPI" in requirements and "relay-py is not on PyPI" in readme and ".venv/" in gitignore
    assert "Next:" in result.err and "relay workflow dev" in result.err


def test_the_defaults_the_next_steps_and_json(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("workflow", "init", "auto-answer")
    assert result.code == 0, result.err
    assert (tmp_path / "auto-answer" / "app.js").is_file()  # DIRECTORY defaults to the template's name, --lang to js
    assert "[workflow.auto-answer]" in (tmp_path / "auto-answer" / "relay.toml").read_text(encoding="utf-8")
    assert result.err.splitlines()[-4:] == ["Next:", "  cd auto-answer", "  npm install", "  relay workflow dev"]

    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    result = run("workflow", "init", "place-call", ".", "--lang", "python", "--name", 'front desk "A"', "--json")
    assert result.code == 0, result.err
    assert result.json() == {
        "template": "place-call",
        "lang": "python",
        "name": 'front desk "A"',
        "directory": ".",
        "files": FILES["python"],
        "replaced": [],
        "next": ["python3 -m venv .venv", ".venv/bin/python -m pip install -r requirements.txt", "relay workflow dev"],
    }
    doc = tomllib.loads(Path("relay.toml").read_text(encoding="utf-8"))
    assert list(doc["workflow"]) == ['front desk "A"']  # any name survives the TOML quoting
    assert result.err == ""  # --json: only the document


# --- refusals -----------------------------------------------------------------------------------------


def test_a_directory_that_is_not_empty_needs_force(run: Any, tmp_path: Path) -> None:
    target = tmp_path / "proj"
    target.mkdir()
    (target / "relay.toml").write_text("# mine\n", encoding="utf-8")
    (target / "notes.txt").write_text("keep\n", encoding="utf-8")
    before = tree(target)

    result = run("workflow", "init", "blank", str(target))
    assert result.code == 2 and result.out == ""
    assert one_error_line(result.err) == (
        f"error: DIRECTORY: {target} is not empty (notes.txt, relay.toml); choose a new directory, or pass --force to "
        "write into it (replacing files of the same names)"
    )
    assert tree(target) == before

    result = run("workflow", "init", "blank", str(target), "--force")
    assert result.code == 0, result.err
    after = tree(target)
    assert after["notes.txt"] == b"keep\n" and after["relay.toml"].startswith(b"# The workflow this project registers")
    assert sorted(after) == sorted([*FILES["js"], "notes.txt"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: TEMPLATE: expected one of auto-answer, outbound, place-call, blank, got 'nope'"),
        (["blank", "{dir}", "--lang", "rust"], "error: --lang: expected one of js, python, got 'rust'"),
        (["blank", "{dir}", "--name", " "], "error: --name: expected a workflow name, got an empty string"),
        (
            ["blank", "{dir}", "--name", "a\nb"],
            "error: --name: expected a workflow name without control characters, got 'a\\nb'",
        ),
        (["blank", ""], "error: DIRECTORY: expected a directory path, got ''"),
        (["blank", "{file}"], "error: DIRECTORY: {file} exists and is not a directory"),
        (
            ["blank", "{full}", "--force"],
            "error: DIRECTORY: {full}/app.js is a directory; the project writes a file there",
        ),
    ],
)
def test_bad_input_is_exit_2_and_writes_nothing(run: Any, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    (tmp_path / "full" / "app.js").mkdir(parents=True)
    paths = {"dir": str(tmp_path / "new"), "file": str(tmp_path / "a-file"), "full": str(tmp_path / "full")}
    before = tree(tmp_path), sorted(p.name for p in tmp_path.rglob("*"))
    result = run("workflow", "init", *[a.format(**paths) for a in args])
    assert result.code == 2 and result.out == ""
    assert one_error_line(result.err) == message.format(**paths)
    assert (tree(tmp_path), sorted(p.name for p in tmp_path.rglob("*"))) == before


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "proj"
    target.mkdir()
    (target / "relay.toml").write_text("# mine\n", encoding="utf-8")
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if str(dst).endswith("relay.toml"):
            raise OSError(28, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = run("workflow", "init", "blank", str(target), "--force")
    assert result.code == 2
    assert result.err.splitlines() == [
        f"Replacing in {target}: relay.toml",
        f"error: DIRECTORY: cannot write {target / 'relay.toml'}: No space left on device",
    ]
    assert os.listdir(target) == ["relay.toml"]  # the files it had added are gone again, and no temporary file
    assert (target / "relay.toml").read_text(encoding="utf-8") == "# mine\n"


# --- never outside DIRECTORY -------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="symbolic links without privileges are POSIX")
def test_init_replaces_a_symlink_instead_of_writing_through_it(run: Any, tmp_path: Path) -> None:
    """A README.md in the project linked to a private dotfile: --force replaces the link with the project's file;
    the dotfile keeps its content and its mode, and --force said what it would replace."""
    dotfile = tmp_path / "home" / ".secret"
    dotfile.parent.mkdir()
    dotfile.write_text("token=abc\n", encoding="utf-8")
    dotfile.chmod(0o600)
    target = tmp_path / "proj"
    target.mkdir()
    (target / "README.md").symlink_to(dotfile)
    (target / "relay.toml").write_text("# mine\n", encoding="utf-8")

    result = run("workflow", "init", "blank", str(target), "--force", "--json")
    assert result.code == 0, result.err
    assert result.err == (
        f"Replacing in {target}: relay.toml, README.md (a symbolic link to {dotfile}: the link is replaced, not what "
        "it points to)\n"
    )
    assert result.json()["replaced"] == [str(target / "relay.toml"), str(target / "README.md")]
    assert dotfile.read_text(encoding="utf-8") == "token=abc\n" and dotfile.stat().st_mode & 0o777 == 0o600
    assert not (target / "README.md").is_symlink()
    assert (target / "README.md").read_text(encoding="utf-8").startswith("# proj\n\nA Relay workflow")
    assert sorted(os.listdir(dotfile.parent)) == [".secret"]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links without privileges are POSIX")
def test_init_creates_nothing_through_a_dangling_link(run: Any, tmp_path: Path) -> None:
    """A dangling link in the project (to a directory that does not exist) is replaced, not followed: no
    directory appears outside the project. A DIRECTORY that is itself a dangling link is refused."""
    outside = tmp_path / "outside"
    target = tmp_path / "proj"
    target.mkdir()
    (target / "relay.toml").symlink_to(outside / "made" / "relay.toml")
    result = run("workflow", "init", "blank", str(target), "--force")
    assert result.code == 0, result.err
    assert not os.path.lexists(outside)
    assert (target / "relay.toml").is_file() and not (target / "relay.toml").is_symlink()

    link = tmp_path / "link"
    link.symlink_to(outside / "proj")
    result = run("workflow", "init", "blank", str(link))
    assert result.code == 2
    assert one_error_line(result.err) == (
        f"error: DIRECTORY: {link} is a symbolic link to {outside / 'proj'}, which does not exist; nothing was created "
        "through it"
    )
    assert not os.path.lexists(outside)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{dir}\udcff"], "error: DIRECTORY: expected a directory path in UTF-8, got '{dir}\\xff'"),
        (["{dir}", "--name", "lobby\udce9"], "error: --name: expected a workflow name in UTF-8, got 'lobby\\xe9'"),
    ],
)
def test_init_refuses_a_name_that_is_not_utf8_before_writing_anything(
    run: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    """A byte that is not UTF-8 on the command line (Python hands it over as a lone surrogate) could not be written
    into relay.toml: it is refused before anything is written, so the run after it, with a good name, works."""
    target = tmp_path / "proj"
    result = run("workflow", "init", "blank", *[a.format(dir=target) for a in args])
    assert (result.code, result.out) == (2, "")
    assert one_error_line(result.err) == message.format(dir=target)
    assert os.listdir(tmp_path) == []
    result = run("workflow", "init", "blank", str(target), "--name", "lobby")
    assert result.code == 0, result.err
    assert sorted(os.listdir(target)) == sorted(FILES["js"])


def test_a_failed_write_in_a_new_directory_leaves_nothing(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing half-written: the directories init made, and the files it added, go again when a write fails."""
    import tempfile

    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("prefix") == ".README.md.":
            raise OSError(28, "No space left on device")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    target = tmp_path / "a" / "b"
    result = run("workflow", "init", "blank", str(target))
    assert result.code == 2
    assert (
        one_error_line(result.err) == f"error: DIRECTORY: cannot write {target / 'README.md'}: No space left on device"
    )
    assert os.listdir(tmp_path) == []


# --- relay.toml and apply -----------------------------------------------------------------------------


def test_the_manifest_reader_accepts_dev_and_refuses_the_placeholder() -> None:
    entry = {"type": "call", "trigger": "inbound", "uri": "wss://YOUR-HOST/auto-answer", "install": [ALICE]}
    with pytest.raises(mf.UsageError) as refused:
        mf.parse({"workflow": {"lobby": entry}, "dev": {"command": "node app.js"}})
    assert refused.value.message == (
        "relay.toml: workflow.lobby.uri: wss://YOUR-HOST/auto-answer is a placeholder: replace YOUR-HOST with the host "
        "that serves your app"
    )
    entry["uri"] = "wss://your-host.example.com/auto-answer"  # a real host that happens to start alike is fine
    assert mf.parse({"workflow": {"lobby": entry}, "dev": {"command": "node app.js"}}).names() == ["lobby"]


def test_apply_refuses_the_placeholder_then_registers_the_project(run: Any, tmp_path: Path) -> None:
    target = tmp_path / "proj"
    assert run("workflow", "init", "auto-answer", str(target), "--name", "lobby").code == 0
    manifest = str(target / "relay.toml")
    for command in (["apply"], ["diff"], ["check", "-f", manifest]):
        result = run(*LOCAL, "workflow", *command, *(["-f", manifest] if command != ["check", "-f", manifest] else []))
        assert result.code == 2 and result.out == ""
        assert one_error_line(result.err) == (
            f"error: {manifest}: workflow.lobby.uri: wss://YOUR-HOST/auto-answer is a placeholder: replace YOUR-HOST "
            "with the host that serves your app"
        )
    assert run(*LOCAL, "workflow", "list", "--json").json() == []  # nothing was registered

    text = (target / "relay.toml").read_text(encoding="utf-8").replace("YOUR-HOST", "lobby.example.com")
    (target / "relay.toml").write_text(text, encoding="utf-8")
    result = run(*LOCAL, "workflow", "apply", "-f", manifest)
    assert result.code == 0, result.err
    [workflow] = run(*LOCAL, "workflow", "list", "--json").json()
    assert workflow["name"] == "lobby" and workflow["install"] == [ALICE]
    assert workflow["config"]["trigger"]["on_incoming_call"] == ".*"
    assert workflow["config"]["trigger"]["start"]["workflow"] == {
        "uri": "wss://lobby.example.com/auto-answer",
        "args": {"greeting": "Now in call"},
    }
    assert run(*LOCAL, "workflow", "diff", "-f", manifest).code == 0  # in sync: the [dev] table changes nothing


# --- the Python apps against relay-py's API ------------------------------------------------------------
#
# relaypro/relay-py, relay/workflow.py at commit 0e846579369e831266da98ba061b6fec80d70870 (the commit the
# generated requirements.txt pins). Parameters after `self`; "=" marks one with a default.

#: ``class Relay``: the ``workflow`` object every handler is given. ``async`` ones must be awaited.
RELAY_METHODS: dict[str, tuple[bool, tuple[str, ...]]] = {
    # name: (async, parameters)
    "get_source_uri_from_trigger": (False, ("trigger",)),  # @staticmethod
    "make_target_uris": (False, ("trigger",)),  # @staticmethod
    "targets_from_source_uri": (False, ("source_uri",)),  # @staticmethod
    "start_interaction": (True, ("target", "name", "options=")),
    "end_interaction": (True, ("target",)),
    "answer_call": (True, ("target", "call_id")),
    "place_call": (True, ("target", "callee_uri")),
    "hangup_call": (True, ("target", "call_id")),
    "say": (True, ("target", "text", "lang=")),
    "say_and_wait": (True, ("target", "text", "lang=")),
    "get_var": (True, ("name", "default=")),
    "set_var": (True, ("name", "value")),
    "terminate": (True, ()),
}
_CALL = ("call_id", "direction", "device_id", "device_name", "uri", "onnet")
#: ``class Workflow``'s decorators → the arguments ``Relay._handle`` calls the handler with, after the workflow
HANDLERS: dict[str, tuple[str, ...]] = {
    "on_start": ("trigger",),
    "on_stop": ("reason",),
    "on_interaction_lifecycle": ("type", "source_uri", "reason"),
    "on_button": ("button", "taps", "source_uri"),
    "on_prompt": ("source_uri", "type"),
    "on_timer": (),
    "on_timer_fired": ("name",),
    "on_call_received": (*_CALL, "start_time_epoch"),
    "on_call_ringing": (*_CALL, "start_time_epoch"),
    "on_call_connected": (*_CALL, "start_time_epoch", "connect_time_epoch"),
    "on_call_disconnected": (*_CALL, "reason", "start_time_epoch", "connect_time_epoch", "end_time_epoch"),
    "on_call_failed": (*_CALL, "reason", "start_time_epoch", "connect_time_epoch", "end_time_epoch"),
    "on_call_start_request": ("uri",),
}
#: module ``relay.workflow``: functions (parameters) and constants
MODULE_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "Workflow": ("name",),
    "Server": ("host", "port", "**kwargs"),
    "device_name": ("name",),
}
MODULE_CONSTANTS = {"TYPE_STARTED": "started", "TYPE_ENDED": "ended"}
SERVER_METHODS: dict[str, tuple[str, ...]] = {"register": ("workflow", "path"), "start": ()}
SERVER_KWARGS = ("log_level", "log_handler", "ssl_key_filename", "ssl_cert_filename")  # Server.__init__'s docstring


def _binds(params: tuple[str, ...], call: ast.Call, what: str) -> None:
    """The call's arguments fit the parameters (as Python would bind them)."""
    names = [p.rstrip("=") for p in params if not p.startswith("**")]
    required = [p for p in params if not p.endswith("=") and not p.startswith("**")]
    assert not any(isinstance(a, ast.Starred) for a in call.args), what
    positional = len(call.args)
    assert positional <= len(names), f"{what}: {positional} positional arguments, it takes {len(names)}"
    given = set(names[:positional])
    for kw in call.keywords:
        assert kw.arg is not None, what
        if kw.arg not in names:
            assert "**kwargs" in params, f"{what}: no parameter {kw.arg}"
            assert kw.arg in SERVER_KWARGS, f"{what}: keyword {kw.arg} is not one relay-py reads"
        assert kw.arg not in given, f"{what}: {kw.arg} given twice"
        given.add(kw.arg)
    missing = [p for p in required if p not in given]
    assert not missing, f"{what}: missing {missing}"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def check_relay_py_app(source: str, template: str) -> set[str]:
    """Every use of relay-py in ``source`` exists in relay-py with that signature; returns the methods called."""
    tree_ = ast.parse(source)
    called: set[str] = set()
    awaited = {id(node.value) for node in ast.walk(tree_) if isinstance(node, ast.Await)}
    handlers = 0
    for node in ast.walk(tree_):
        if isinstance(node, ast.Attribute) and _dotted(node.value) == "relay.workflow":
            assert node.attr in MODULE_FUNCTIONS or node.attr in MODULE_CONSTANTS, (
                f"relay.workflow.{node.attr} does not exist"
            )
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name.startswith("relay.workflow."):
                _binds(MODULE_FUNCTIONS[name.split(".")[-1]], node, name)
            if name == "relay.workflow.Workflow":
                assert [a.value for a in node.args if isinstance(a, ast.Constant)] == [template]
            if name.startswith("server."):
                method = name.split(".", 1)[1]
                assert method in SERVER_METHODS, f"Server has no {method}"
                _binds(SERVER_METHODS[method], node, name)
                if method == "register":
                    assert isinstance(node.args[1], ast.Constant) and node.args[1].value == f"/{template}"
        if isinstance(node, ast.AsyncFunctionDef) and node.decorator_list:
            [decorator] = node.decorator_list
            assert isinstance(decorator, ast.Attribute) and _dotted(decorator.value) == "wf", ast.dump(decorator)
            assert decorator.attr in HANDLERS, f"Workflow has no decorator {decorator.attr}"
            params = [a.arg for a in node.args.args]
            assert len(params) == 1 + len(HANDLERS[decorator.attr]), (
                f"{node.name}: relay-py calls it with {HANDLERS[decorator.attr]}"
            )
            assert not node.args.defaults and not node.args.vararg and not node.args.kwonlyargs, node.name
            handlers += 1
            workflow = params[0]
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and _dotted(inner.func.value) == workflow
                ):
                    method = inner.func.attr
                    assert method in RELAY_METHODS, f"{node.name}: Relay has no method {method}"
                    is_async, method_params = RELAY_METHODS[method]
                    _binds(method_params, inner, f"{node.name}: {workflow}.{method}")
                    assert (id(inner) in awaited) == is_async, (
                        f"{node.name}: {workflow}.{method}() {'must' if is_async else 'must not'} be awaited"
                    )
                    called.add(method)
    assert handlers >= 2
    return called


@pytest.mark.parametrize("template", TEMPLATES)
def test_python_apps_call_relay_py_as_its_source_defines_it(run: Any, tmp_path: Path, template: str) -> None:
    assert run("workflow", "init", template, str(tmp_path / "p"), "--lang", "python").code == 0
    called = check_relay_py_app((tmp_path / "p" / "app.py").read_text(encoding="utf-8"), template)
    wanted = {
        "auto-answer": {"answer_call", "say_and_wait", "get_var", "terminate"},
        "outbound": {"place_call", "say_and_wait", "terminate"},
        "place-call": {"place_call", "get_var", "terminate"},
        "blank": {"say_and_wait", "get_var", "terminate"},
    }[template]
    assert wanted <= called, sorted(wanted - called)


def test_the_relay_py_check_catches_mistakes() -> None:
    """A control: the check fails on what the calling guide's code gets wrong for relay-py."""
    good = (
        Path(__file__).resolve().parent.parent / "relay_cli" / "templates" / "auto-answer" / "python" / "app.py"
    ).read_text(encoding="utf-8")
    check_relay_py_app(good, "auto-answer")
    mistakes = [
        ('await workflow.answer_call(run["device"], run["call_id"])', 'await workflow.answer_call(run["call_id"])'),
        (
            'await workflow.answer_call(run["device"], run["call_id"])',
            'await workflow.answer(run["device"], run["call_id"])',
        ),
        ("await workflow.terminate()", "workflow.terminate()"),
        ("async def on_stop(workflow, reason):", "async def on_stop(workflow):"),
        ("@wf.on_call_received", "@wf.on_incoming_call"),
        ('server.register(wf, "/auto-answer")', 'server.register(wf, "/autoanswer")'),
        ("log_level=logging.INFO)", "log_level=logging.INFO, verbose=True)"),
    ]
    for old, new in mistakes:
        assert old in good, old
        with pytest.raises(AssertionError):
            check_relay_py_app(good.replace(old, new, 1), "auto-answer")


def test_the_relay_py_table_matches_the_installed_relay_py() -> None:
    python = relay_py_python()
    script = """
import inspect, json, relay.workflow as m
def params(f):
    out = []
    for p in inspect.signature(f).parameters.values():
        if p.name == 'self': continue
        out.append(('**' + p.name) if p.kind is p.VAR_KEYWORD else p.name + ('=' if p.default is not p.empty else ''))
    return out
relay = {n: [inspect.iscoroutinefunction(getattr(m.Relay, n)), params(getattr(m.Relay, n))] for n in NAMES}
module = {n: params(getattr(m, n)) for n in FUNCS}
server = {n: params(getattr(m.Server, n)) for n in SERVER}
consts = {n: getattr(m, n) for n in CONSTS}
decorators = [n for n in HANDLERS if callable(getattr(m.Workflow, n, None))]
print(json.dumps([relay, module, server, consts, decorators]))
"""
    names = {
        "NAMES": list(RELAY_METHODS),
        "FUNCS": [f for f in MODULE_FUNCTIONS if f not in ("Workflow", "Server")],
        "SERVER": list(SERVER_METHODS),
        "CONSTS": list(MODULE_CONSTANTS),
        "HANDLERS": list(HANDLERS),
    }
    prelude = "".join(f"{k} = {v!r}\n" for k, v in names.items())
    proc = subprocess.run([python, "-c", prelude + script], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    relay, module, server, consts, decorators = json.loads(proc.stdout)
    assert relay == {n: [a, list(p)] for n, (a, p) in RELAY_METHODS.items()}
    assert module == {n: list(p) for n, p in MODULE_FUNCTIONS.items() if n not in ("Workflow", "Server")}
    assert server == {n: list(p) for n, p in SERVER_METHODS.items()}
    assert consts == MODULE_CONSTANTS and decorators == list(HANDLERS)


# --- packaging and help -------------------------------------------------------------------------------


def test_the_wheel_ships_the_templates(tmp_path: Path) -> None:
    import zipfile

    from hatchling.builders.wheel import WheelBuilder

    root = Path(__file__).resolve().parent.parent
    wheel = Path(next(iter(WheelBuilder(str(root)).build(directory=str(tmp_path), versions=["standard"]))))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in TEMPLATES:
        assert f"relay_cli/templates/{template}/js/app.js" in names
        assert f"relay_cli/templates/{template}/python/app.py" in names


def test_help_has_examples(run: Any) -> None:
    result = run("workflow", "init", "--help")
    assert result.code == 0
    assert "Examples:" in result.out and "relay workflow init auto-answer" in result.out
    for template in TEMPLATES:
        assert template in result.out
