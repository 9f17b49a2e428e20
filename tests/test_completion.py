"""Shell completion: the protocol answered by the installed ``relay``, its import cost, and the
``relay completion show|install`` commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relay_cli.__main__ import main
from relay_cli.commands import completion
from tests.test_startup import HEAVY, imported_modules, top_level

BINDIR = Path(sys.executable).parent
RELAY = BINDIR / ("relay.exe" if os.name == "nt" else "relay")
ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_RELAY_", "COMP_", "_TYPER_"))}
    env["RELAY_CONFIG_DIR"] = str(tmp_path / "config")
    env["HOME"] = str(tmp_path / "home")
    env.update(extra)
    return env


def bash_complete(tmp_path: Path, line: str, **env: str) -> list[str]:
    """What the bash script's function gets back for ``line`` (the word under the cursor is the last one), with
    ``env`` added to the environment."""
    words = line.split(" ")
    proc = subprocess.run(
        [str(RELAY)],
        env=_env(tmp_path, _RELAY_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1), **env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_protocol_completes_subcommands(tmp_path: Path) -> None:
    assert bash_complete(tmp_path, "relay workflow cr") == ["create"]
    assert bash_complete(tmp_path, "relay workflow create ca") == ["call"]
    assert "completion" in bash_complete(tmp_path, "relay comp")


def test_bash_protocol_completes_flags_and_trigger_choices(complete: Any) -> None:
    # the choices spelled out (the reference's options), not read back from the code that offers them; asked in
    # this process (the installed program answers the same protocol above)
    assert "--trigger" in complete("relay workflow create call --tr")
    assert complete("relay workflow create call --trigger ") == ["inbound", "outbound"]
    assert complete("relay workflow create button --trigger d") == ["double"]
    assert complete("relay workflow create timer --trigger ") == ["immediately", "schedule", "repeat"]
    assert complete("relay workflow create geofence --trigger ") == ["entry", "exit"]
    assert complete("relay workflow create battery --trigger ") == ["charge", "discharge"]
    assert complete("relay completion show ") == ["bash", "zsh", "fish", "powershell"]


#: modules a command loads when it runs, and completion, which answers from the command tree alone, must not
RUN_TIME = (
    "relay_cli.state", "relay_cli.config.resolve", "relay_cli.config.store", "relay_cli.core.workflow",
    "relay_cli.table", "relay_cli.core.manifest", "relay_cli.core.plan", "relay_cli.templates",
)  # fmt: skip


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completing_imports_no_http_client_rich_or_keyring(tmp_path: Path, shell: str) -> None:
    line = "relay workflow create ca"
    env = _env(
        tmp_path,
        _RELAY_COMPLETE=f"complete_{shell}",
        COMP_WORDS=line,
        COMP_CWORD="3",
        _TYPER_COMPLETE_ARGS=line,
        _TYPER_COMPLETE_FISH_ACTION="get-args",
    )
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "relay_cli"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "call" in proc.stdout
    modules = imported_modules(proc.stderr)
    assert "relay_cli" in modules
    leaked = sorted(top_level(modules) & set(HEAVY))
    assert not leaked, f"completion imported {leaked}"
    # completion imports every command module to build the tree, but runs no command: what commands need only
    # when they run (State, the configuration, the workflow model, tables, manifests) stays unloaded
    run_time = sorted(modules & set(RUN_TIME))
    assert not run_time, f"completion imported {run_time}: import them inside the command functions that use them"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_the_bash_script_itself_completes(tmp_path: Path) -> None:
    """Source completions/relay.bash in a real bash and call its function the way readline does."""
    script = ROOT / "completions" / "relay.bash"
    code = (
        f'source "{script}"; COMP_WORDS=(relay workflow cr); COMP_CWORD=2; '
        f'_relay_completion relay; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    env = _env(tmp_path)
    env["PATH"] = f"{BINDIR}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["create"]


@pytest.mark.parametrize(
    ("shell", "committed", "registers"),
    [
        ("bash", "relay.bash", "complete -o default -F _relay_completion relay\n"),
        ("zsh", "_relay", "compdef _relay_completion relay\n"),
        ("fish", "relay.fish", "complete --command relay --no-files --arguments "),
        ("powershell", "relay.ps1", "Register-ArgumentCompleter -Native -CommandName relay -ScriptBlock $scriptblock"),
    ],
)
def test_show_prints_the_script(shell: str, committed: str, registers: str, capsys: Any) -> None:
    """The script the shipped completions/ file has (the bash one is run by a real bash above), which registers
    the completion function of that shell for `relay` and asks relay itself for the words."""
    assert main(["completion", "show", shell]) == 0
    out = capsys.readouterr().out
    assert out == (ROOT / "completions" / committed).read_text(encoding="utf-8")
    assert registers in out
    assert f"complete_{shell}" in out


def test_unknown_shell_is_exit_2_in_one_line(capsys: Any) -> None:
    assert main(["completion", "show", "tcsh"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "tcsh" in err and "bash" in err
    assert main(["completion", "install", "csh"]) == 2


@pytest.mark.parametrize(
    ("shell", "where"),
    [
        ("bash", "data/bash-completion/completions/relay"),
        ("zsh", "home/.zfunc/_relay"),
        ("fish", "config/fish/completions/relay.fish"),
        ("powershell", "config/powershell/relay.ps1"),
    ],
)
def test_install_writes_the_conventional_place_and_says_where(
    tmp_path: Path, monkeypatch: Any, capsys: Any, shell: str, where: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["completion", "install", shell]) == 0
    target = tmp_path / where
    assert target.read_text(encoding="utf-8") == completion.script(shell)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(target) in captured.err
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [where]  # no rc file touched


def test_install_respects_home_without_xdg(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert main(["completion", "install", "fish"]) == 0
    assert (tmp_path / ".config/fish/completions/relay.fish").exists()


def test_install_path_override(tmp_path: Path, capsys: Any) -> None:
    file = tmp_path / "x" / "relay-completion.sh"
    assert main(["completion", "install", "bash", "--path", str(file)]) == 0
    assert file.read_text(encoding="utf-8") == completion.script("bash")
    directory = tmp_path / "dir"
    directory.mkdir()
    assert main(["completion", "install", "zsh", "--path", str(directory)]) == 0
    assert (directory / "_relay").read_text(encoding="utf-8") == completion.script("zsh")
    assert str(directory / "_relay") in capsys.readouterr().err


# --- values: templates, scenarios, workflow names --------------------------------------------------------------


@pytest.fixture
def complete(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``complete("relay workflow init ")``: what the bash function gets back, asked through the same protocol
    (the environment variables of completions/relay.bash) in this process; ``bash_complete`` above asks the
    installed program."""

    def ask(line: str) -> list[str]:
        monkeypatch.setenv("_RELAY_COMPLETE", "complete_bash")
        monkeypatch.setenv("COMP_WORDS", line)
        monkeypatch.setenv("COMP_CWORD", str(len(line.split(" ")) - 1))
        capsys.readouterr()
        try:
            with pytest.raises(SystemExit) as ended:
                main([])
            assert ended.value.code == 0
        finally:
            for name in ("_RELAY_COMPLETE", "COMP_WORDS", "COMP_CWORD"):
                monkeypatch.delenv(name)
        return capsys.readouterr().out.split()

    return ask


def test_template_and_scenario_names(complete: Any) -> None:
    from relay_cli.simulator.runner import builtin_names

    assert complete("relay workflow init ") == ["auto-answer", "outbound", "place-call", "blank"]
    assert complete("relay workflow init pl") == ["place-call"]
    assert complete("relay workflow simulate ws://localhost:8080/x --scenario ") == builtin_names()
    assert "inbound-call" in builtin_names()
    assert complete("relay workflow dev --scenario inb") == ["inbound-call"]


def test_workflow_names_of_the_sandbox_are_read_locally(tmp_path: Path, run: Any, complete: Any) -> None:
    line = "relay -P local workflow install -w "
    assert complete(line) == []  # no sandbox yet: nothing offered, none created
    assert not (tmp_path / "data").exists()
    for name in ("front-desk", "fire-drill", "lobby"):
        assert (
            run("-P", "local", "workflow", "create", "button", "-n", name, "-u", "wss://h.example.com/b", "-A").code
            == 0
        )
    assert complete(line) == ["front-desk", "fire-drill", "lobby"]
    assert complete("relay -P local workflow args list -w f") == ["front-desk", "fire-drill"]
    assert complete("relay -P local workflow simulate fi") == ["fire-drill"]
    assert complete("relay -P local workflow logs -s other-account -w ") == []
    assert not (tmp_path / "cache").exists()  # the sandbox's names are never cached


def test_workflow_names_of_relay_come_from_a_recent_listing_and_no_request(
    tmp_path: Path, run: Any, monkeypatch: pytest.MonkeyPatch, complete: Any
) -> None:
    import json
    import socket
    import stat

    import httpx
    import respx

    from relay_cli import names

    with socket.socket() as listener:  # the API host of this test: any connection to it would wait here
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        host = f"http://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setenv("RELAY_HOST", host)
        monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "S1")
        listed = [{"workflow_id": f"wf_{i}", "name": n} for i, n in enumerate(["alpha", "beta", "alpine"])]
        line = "relay workflow delete -w al"
        assert complete(line) == []  # nothing listed yet

        with respx.mock(base_url=host, assert_all_called=False) as api:
            api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listed}))
            assert run("workflow", "list").code == 0  # not a terminal (a script): nothing is written
            assert not (tmp_path / "cache").exists()
            monkeypatch.setattr(names, "_interactive", lambda: True)
            assert run("workflow", "list").code == 0

        cache = tmp_path / "cache" / names.FILE_NAME
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        assert complete(line) == ["alpha", "alpine"]
        assert complete("relay workflow update -s S2 -w al") == []  # another account
        with pytest.raises(BlockingIOError):
            listener.accept()  # completion never connected to the API

        entries = json.loads(cache.read_text(encoding="utf-8"))["entries"]
        (key,) = entries
        entries[key]["at"] -= names.TTL + 1  # a listing older than the TTL
        cache.write_text(json.dumps({"entries": entries}), encoding="utf-8")
        assert complete(line) == []
        cache.write_text("{not json", encoding="utf-8")
        assert complete(line) == []


@pytest.mark.parametrize(
    ("shell", "line"),
    [
        ("zsh", '_arguments \'*: :(("--profile":"Profile to use for this command. [env\\\\: RELAY_PROFILE]"))\''),
        ("fish", "--profile\tProfile to use for this command. [env: RELAY_PROFILE]"),
        ("powershell", "--profile:::Profile to use for this command. [env: RELAY_PROFILE]"),
        ("pwsh", "--profile:::Profile to use for this command. [env: RELAY_PROFILE]"),
    ],
    ids=["zsh", "fish", "powershell", "pwsh"],
)
def test_help_in_completions_is_shown_as_written(
    shell: str, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """zsh, fish and PowerShell show each flag's help beside it: "[env: RELAY_PROFILE]" is text, not markup
    to strip."""
    monkeypatch.setenv("_RELAY_COMPLETE", f"complete_{shell}")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "relay --pro")
    monkeypatch.setenv("_TYPER_COMPLETE_WORD_TO_COMPLETE", "--pro")
    monkeypatch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")
    with pytest.raises(SystemExit) as ended:
        main([])
    assert ended.value.code == 0
    assert capsys.readouterr().out.splitlines() == [line]
