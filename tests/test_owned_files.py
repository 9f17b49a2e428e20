"""The files relay writes (config.toml, the completion script, a workflow project) under odd conditions, and odd
values on the command line: a symbolic link, something that is not a regular file, a full disk, a config directory
that is a file, names and URIs with control or invisible characters. Each ends in one line on stderr and a
documented exit code, with the old content intact and nothing half written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_init import one_error_line, tree

from relay_cli.commands import completion
from relay_cli.config.store import ProfileStore, atomic_write

RELAY = Path(sys.executable).parent / "relay"
POSIX = os.name == "posix"


# --- a symbolic link, a device, a FIFO --------------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="symbolic links without privileges are POSIX")
def test_a_symlinked_config_file_is_edited_where_it_points(run: Any, isolated_env: Path, tmp_path: Path) -> None:
    """A config.toml kept with one's dotfiles, linked into the config directory: an edit changes the dotfile,
    comments kept, and the link stays a link (os.replace on the link's path would replace the link itself)."""
    dotfile = tmp_path / "dotfiles" / "relay.toml"
    dotfile.parent.mkdir()
    dotfile.write_text('# mine\n[profiles.qa]\nenv = "qa"  # QA\n', encoding="utf-8")
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").symlink_to(dotfile)

    result = run("-P", "qa", "profile", "set", "subscriber_id", "S1")
    assert (result.code, result.err) == (0, "Set subscriber_id on profile qa\n")
    assert (isolated_env / "config.toml").is_symlink()
    assert dotfile.read_text(encoding="utf-8") == '# mine\n[profiles.qa]\nenv = "qa"  # QA\nsubscriber_id = "S1"\n'
    assert sorted(os.listdir(dotfile.parent)) == ["relay.toml"]  # the temporary file was made, and renamed, there
    assert ProfileStore(isolated_env).profiles()["qa"] == {"env": "qa", "subscriber_id": "S1"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_atomic_write_refuses_to_replace_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """`completion install --path /dev/null` (or a config.toml linked to it) must not replace the device with a file."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for path in (fifo, link):
        with pytest.raises(OSError, match="not a regular file"):
            atomic_write(path, "x\n")
    assert fifo.is_fifo() and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["fifo", "link"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_completion_install_over_a_device_is_refused(capsys: Any, tmp_path: Path) -> None:
    from relay_cli.__main__ import main

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that a write into the FIFO would not wait for one
    try:
        assert main(["completion", "install", "bash", "--path", str(fifo)]) == 2
    finally:
        os.close(reader)
    assert capsys.readouterr().err == f"error: --path: cannot write {fifo}: not a regular file\n"
    assert fifo.is_fifo()


# --- a full disk ----------------------------------------------------------------------------------------


def _limited(size: int) -> Any:
    """preexec_fn: files may grow to ``size`` bytes (a disk that is full after that); the write fails (EFBIG)."""

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def _relay(env: dict[str, str], *args: str, size: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RELAY), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        preexec_fn=_limited(size), check=False,
    )  # fmt: skip


@pytest.mark.skipif(not RELAY.exists() or not POSIX, reason="runs the installed relay with a file size limit")
def test_a_full_disk_keeps_the_old_completion_script_whole(tmp_path: Path) -> None:
    """The script used to be written in place: a disk that filled up in the middle left half a script (and a
    shell that fails on every start). Now the old one stays until the new one is whole."""
    target = tmp_path / "relay.bash"
    target.write_text("# the old script\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    proc = _relay(env, "completion", "install", "bash", "--path", str(target), size=100)
    assert proc.returncode == 2
    assert one_error_line(proc.stderr) == f"error: --path: cannot write {target}: File too large"
    assert target.read_text(encoding="utf-8") == "# the old script\n"
    assert sorted(os.listdir(tmp_path)) == ["relay.bash"]
    assert len(completion.script("bash")) > 100  # the limit did cut the write short


@pytest.mark.skipif(not RELAY.exists() or not POSIX, reason="runs the installed relay with a file size limit")
def test_a_full_disk_keeps_the_old_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    old = '# mine\n[profiles.qa]\nenv = "qa"\n' + "# padding\n" * 20
    (config / "config.toml").write_text(old, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
    env.update(RELAY_CONFIG_DIR=str(config), RELAY_DATA_DIR=str(tmp_path / "data"))
    proc = _relay(env, "-P", "qa", "profile", "set", "subscriber_id", "S1", size=len(old))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert (
        one_error_line(proc.stderr)
        == f"error: cannot save {config / 'config.toml'}: File too large; the file is unchanged"
    )
    assert (config / "config.toml").read_text(encoding="utf-8") == old
    assert sorted(os.listdir(config)) == [".config.toml.lock", "config.toml"]


# --- a config directory that is a file ---------------------------------------------------------------------


def test_a_config_directory_that_is_a_file_is_named(
    run: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated_env.parent.mkdir(parents=True, exist_ok=True)
    isolated_env.write_text("not a directory\n", encoding="utf-8")
    result = run("profile", "add", "qa", "--env", "qa")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: cannot save {isolated_env / 'config.toml'}: {isolated_env} is not a directory\n"
        "hint: RELAY_CONFIG_DIR must name a directory (or nothing yet)\n"
    )
    assert isolated_env.read_text(encoding="utf-8") == "not a directory\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not RELAY.exists(), reason="FIFOs are POSIX; runs the installed relay")
@pytest.mark.parametrize("command", [["profile", "list"], ["profile", "add", "qa", "--env", "qa"]])
def test_a_config_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path, command: list[str]) -> None:
    # reading a FIFO waits for a writer that never comes: the command would hang for ever
    config = tmp_path / "config"
    config.mkdir()
    os.mkfifo(config / "config.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
    env.update(RELAY_CONFIG_DIR=str(config), RELAY_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run([str(RELAY), *command], env=env, capture_output=True, text=True, timeout=20, check=False)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert one_error_line(proc.stderr) == f"error: cannot read {config / 'config.toml'}: not a regular file"
    assert (config / "config.toml").is_fifo()


def test_a_data_directory_in_the_way_of_a_file_is_named(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file\n", encoding="utf-8")
    monkeypatch.setenv("RELAY_DATA_DIR", str(blocker / "relay"))
    monkeypatch.delenv("RELAY_API_KEY")
    result = run("-P", "local", "workflow", "list")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"error: cannot open the sandbox database {blocker / 'relay' / 'sandbox.db'}: {blocker} is not a directory\n"
        "hint: give --db / RELAY_DATA_DIR a writable SQLite file (a new one is created)\n"
    )


# --- relay workflow init: the directory's name ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("directory", "message"),
    [
        # the default workflow name is the directory's: --name refused control characters, the default did not
        ("line\nbreak", "error: --name: the directory's name 'line\\nbreak' has control characters and cannot name the "
                        "workflow; give the workflow a name with --name"),
        # a name longer than the file system allows was an internal error (exit 70)
        ("x" * 300, "error: DIRECTORY: cannot use {x}: File name too long"),
    ],
)  # fmt: skip
def test_init_into_an_unusable_directory_name_is_exit_2_and_writes_nothing(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("workflow", "init", "blank", directory)
    assert (result.code, result.out) == (2, "")
    assert one_error_line(result.err) == message.format(x=directory)
    assert os.listdir(tmp_path) == []


def test_init_into_a_directory_with_spaces_and_emoji(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("workflow", "init", "blank", "my app \U0001f600", "--json")
    assert result.code == 0, result.err
    files = tree(tmp_path / "my app \U0001f600")
    assert '[workflow."my app \U0001f600"]' in files["relay.toml"].decode()


# --- control and invisible characters in URIs and ids -------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "wss://host/\u202eexe.x",  # a right-to-left override: the URI shown is not the URI registered
        "wss://host/a\u200bb",  # a zero-width space
        "wss://host/a\x7fb",  # DEL
        "wss://host/a\x85b",  # a C1 control (NEXT LINE)
        "wss://\ufeffhost/x",  # a byte order mark
    ],
)
def test_a_uri_with_an_invisible_character_is_refused(run: Any, uri: str) -> None:
    result = run("workflow", "create", "button", "--name", "b", "--uri", uri, "-i", "990007560045678", "--dry-run")
    assert (result.code, result.out) == (2, "")
    assert one_error_line(result.err) == (
        "error: --uri: expected a URI without spaces, control characters or invisible ones (bidi marks, zero-width "
        f"spaces), got {uri!r}"
    )


def test_a_manifest_with_an_invisible_character_in_a_uri_or_an_id_is_refused(run: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text('[workflow.a]\ntype = "button"\nuri = "wss://h/\\u202ex"\n', encoding="utf-8")
    result = run("workflow", "diff", "-f", str(manifest))
    assert result.code == 2
    assert one_error_line(result.err).startswith(f"error: {manifest}: workflow.a.uri: expected a URI without spaces")
    manifest.write_text(
        '[workflow.a]\ntype = "button"\nuri = "wss://h/x"\ninstall = ["99000756004567\\u0000"]\n', encoding="utf-8"
    )
    result = run("workflow", "diff", "-f", str(manifest))
    assert result.code == 2
    assert one_error_line(result.err) == (
        f"error: {manifest}: workflow.a.install: expected a device or user id without control characters or invisible "
        "ones, got '99000756004567\\x00'"
    )


def test_names_and_arg_values_keep_any_text(run: Any) -> None:
    """Names and values are data (an account may hold any, and `export | apply` must round-trip them): emoji, bidi
    marks, line breaks, '=' in a value and 100 KB values are sent as given."""
    import json

    big = "v" * 100_000
    result = run(
        "workflow", "create", "button", "--name", "\U0001f600 \u202e", "--uri", "wss://h/x", "-i", "990007560045678",
        "-a", "k=a=b", "-a", f"big={big}", "-a", "multi=line1\nline2", "--dry-run", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert body["name"] == "\U0001f600 \u202e"
    assert body["config"]["trigger"]["start"]["workflow"]["args"] == {"k": "a=b", "big": big, "multi": "line1\nline2"}


# --- relay server: which flag a failure to listen names ---------------------------------------------------------


def test_server_on_a_host_that_is_not_here_names_host(run: Any, isolated_env: Path) -> None:
    result = run("server", "--host", "192.0.2.1", "--port", "0")  # TEST-NET-1: never an address of this machine
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines()[-1].startswith("error: --host: cannot listen on 192.0.2.1:0: ")  # the OS says why


def test_server_on_a_port_in_use_names_port(run: Any, isolated_env: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("server", "--port", str(port))
    assert (result.code, result.out) == (2, "")
    assert result.err == f"error: --port: cannot listen on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.parametrize(
    "args",
    [
        ["workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario", "button", "--timeout", "nan"],
        ["workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario", "button", "--timeout", "inf"],
        ["workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario", "inbound-call", "--hold", "nan"],
        ["workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario", "inbound-call", "--hold", "1e400"],
        ["workflow", "dev", ".", "--once", "--timeout", "nan"],
    ],
)
def test_seconds_that_are_not_a_number_are_refused(run: Any, args: list[str]) -> None:
    """NaN passed Typer's `min=` check: `--timeout nan` went on to 'no WebSocket handshake within nans' (exit 1)."""
    result = run(*args)
    option, value = args[-2:]
    assert (result.code, result.out) == (2, "")
    shown = {"1e400": "inf"}.get(value, value)
    assert result.err == f"error: {option}: expected a number of seconds, got {shown}\n"
