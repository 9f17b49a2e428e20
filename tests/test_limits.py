"""Every input has a bound: the files relay reads (manifests, relay.toml, scenario files, id files, config.toml,
credentials.json) have a size limit, are read with that bound (never a ``read()`` of an unbounded stream), and are
refused when nested too deeply, before parsing: one line naming the file, exit 2, never MemoryError,
RecursionError or exit 70. ``relay_cli/inputs.py`` is the one place that reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

POSIX = os.name == "posix"
MiB = 1 << 20
DEEP = 1000  # far past the limit: tomllib and json recurse once or more a level, and Python stops at 1000 frames


def deep_toml(key: str = "x") -> str:
    return f"{key} = " + "[" * DEEP + "]" * DEEP + "\n"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# --- the nesting check itself -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("x = " + "[" * 64 + "]" * 64, False),
        ("x = " + "[" * 65 + "]" * 65, True),
        ("x = " + "[" * 65, True),  # left open: tomllib would recurse just the same before seeing the end
        ("x = " + "{a = " * 65 + "1" + "}" * 65, True),
        ('x = "' + "[" * 500 + '"\n', False),  # brackets in strings and comments are text
        ("x = '" + "[" * 500 + "'\n", False),
        ('x = """\n' + "[{" * 500 + '\n"""\n', False),
        ("x = '''\n" + "[{" * 500 + "\n'''\n", False),
        ("x = 1 # " + "[" * 500 + "\n", False),
        ('x = "\\"' + "[" * 500 + '"\n', False),  # an escaped quote does not end the string
        (".".join(["a"] * 64) + " = 1\n", False),  # a dotted key of 64 parts, and of 65
        (".".join(["a"] * 65) + " = 1\n", True),
        ("[" + " . ".join(['"a"'] * 65) + "]\n", True),  # quoted parts and blanks count too
        ("[" + ".".join(["a"] * 65) + "]\n", True),
        ("x = {" + ", ".join(f"k{i}.v = 1.5" for i in range(100)) + "}\n", False),  # many dots, short keys
        ("x = [" + ", ".join(["[1]"] * 1000) + "]\n", False),  # many brackets, shallow
    ],
)
def test_the_nesting_of_toml_is_measured_before_parsing(text: str, deep: bool) -> None:
    from relay_cli import inputs

    if deep:
        with pytest.raises(inputs.InputError, match=r"^f\.toml: nested too deeply: at most 64 levels"):
            inputs.loads_toml(text, "f.toml")
    else:
        inputs.check_toml_depth(text, "f.toml")


def test_nesting_made_of_dotted_keys_inside_inline_tables_is_refused_after_parsing() -> None:
    """Each level of braces may add 64 levels of dotted key: the parsed value's depth is checked too."""
    from relay_cli import inputs

    key = ".".join(["a"] * 60)
    text = "x = " + f"{{{key} = " * 3 + "1" + "}" * 3 + "\n"
    inputs.check_toml_depth(text, "f.toml")  # the text alone is within both limits
    with pytest.raises(inputs.InputError, match="nested too deeply"):
        inputs.loads_toml(text, "f.toml")


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": ' * 65 + "1" + "}" * 65, True),
        ('["' + "[" * 500 + '"]', False),
        ('["\\"' + "{" * 500 + '"]', False),
    ],
)
def test_the_nesting_of_json_is_measured_before_parsing(text: str, deep: bool) -> None:
    from relay_cli import inputs

    if deep:
        with pytest.raises(inputs.InputError, match=r"^f\.json: nested too deeply: at most 64 levels"):
            inputs.loads_json(text, "f.json")
    else:
        inputs.loads_json(text, "f.json")


# --- each file relay reads ---------------------------------------------------------------------------------------


def test_deeply_nested_manifests_are_refused_naming_the_file(run: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(deep_toml(), encoding="utf-8")
    for args in (("workflow", "diff", "-f", str(manifest)), ("workflow", "apply", "-f", str(manifest), "--yes")):
        result = run(*args)
        assert result.code == 2
        assert one_line(result.err) == (
            f"error: {manifest}: nested too deeply: at most 64 levels of arrays, tables and dotted keys are read"
        )
    dotted = tmp_path / "dotted.toml"
    dotted.write_text(".".join(["w"] * 100_000) + " = 1\n", encoding="utf-8")  # quadratic in tomllib: minutes
    result = run("workflow", "diff", "-f", str(dotted))
    assert result.code == 2 and "nested too deeply" in one_line(result.err)


def test_a_deeply_nested_project_relay_toml_is_refused_by_dev(run: Any, tmp_path: Path) -> None:
    (tmp_path / "relay.toml").write_text("[dev]\n" + deep_toml("command"), encoding="utf-8")
    result = run("workflow", "dev", str(tmp_path), "--once", "--command", "true")
    assert result.code == 2
    assert one_line(result.err).startswith(f"error: {tmp_path / 'relay.toml'}: nested too deeply")


def test_a_deeply_nested_scenario_file_is_refused(run: Any, tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(deep_toml("name"), encoding="utf-8")
    result = run("workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario-file", str(scenario))
    assert result.code == 2
    assert one_line(result.err).startswith(f"error: {scenario}: nested too deeply")


def test_a_deeply_nested_config_file_is_refused_by_every_command(run: Any, isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True)
    config = isolated_env / "config.toml"
    config.write_text(deep_toml("current_profile"), encoding="utf-8")
    for args in (("profile", "list"), ("profile", "add", "qa", "--env", "qa")):
        result = run(*args)
        assert result.code == 2
        assert one_line(result.err).startswith(f"error: {config}: nested too deeply")
    assert config.read_text(encoding="utf-8") == deep_toml("current_profile")


def test_a_deeply_nested_credentials_file_is_refused(run: Any, isolated_env: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("RELAY_API_KEY")
    isolated_env.mkdir(parents=True)
    credentials = isolated_env / "credentials.json"
    credentials.write_text("[" * DEEP + "]" * DEEP, encoding="utf-8")
    credentials.chmod(0o600)
    result = run("-P", "default", "workflow", "list")
    assert result.code == 2
    assert one_line(result.err).startswith(f"error: {credentials}: nested too deeply")


def test_deeply_nested_relay_headers_are_refused(run: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("RELAY_HEADERS", "[" * DEEP + "]" * DEEP)
    result = run("workflow", "list")
    assert result.code == 2
    assert one_line(result.err) == "error: RELAY_HEADERS: expected a JSON object of header names to values"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("workflow", "diff", "-f", "{big}"), "error: {big}: larger than 16 MiB, the most relay reads for a manifest"),
        (
            ("workflow", "create", "button", "-n", "n", "-u", "wss://h/p", "-i", "@{big}", "--dry-run"),
            "error: --install: @{big}: larger than 16 MiB, the most relay reads for an id file",
        ),
        (
            ("workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario-file", "{big}"),
            "error: {big}: larger than 1 MiB, the most relay reads for a scenario",
        ),
    ],
)
def test_files_larger_than_their_limit_are_refused(
    run: Any, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """A file one byte over the limit (sparse: no disk is written). Endless input is the memory test's, below."""
    big = tmp_path / "big"
    with open(big, "wb") as handle:
        handle.truncate(16 * MiB + 1)
    result = run(*(a.replace("{big}", str(big)) for a in args))
    assert (result.code, one_line(result.err)) == (2, message.replace("{big}", str(big)))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("config.toml", "larger than 1 MiB, the most relay reads for a profiles file"),
        ("credentials.json", "larger than 1 MiB, the most relay reads for a credentials file"),
    ],
)
def test_our_own_files_larger_than_their_limit_are_refused(
    run: Any, isolated_env: Path, monkeypatch: Any, name: str, message: str
) -> None:
    monkeypatch.delenv("RELAY_API_KEY")
    isolated_env.mkdir(parents=True)
    path = isolated_env / name
    path.write_bytes(b" " * (MiB + 1))
    path.chmod(0o600)
    result = run("-P", "default", "workflow", "list")
    assert (result.code, one_line(result.err)) == (2, f"error: {path}: {message}")


def test_an_id_file_at_its_limit_is_read(run: Any, tmp_path: Path) -> None:
    """The limit is not a guess at a size: 100,000 ids (the bulk benchmark's) are well inside it."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"99000756{n:07d}\n" for n in range(100_000)), encoding="utf-8")
    assert ids.stat().st_size < 2 * MiB
    result = run(
        "workflow", "create", "button", "-n", "n", "-u", "wss://h/p", "-i", f"@{ids}", "-s", "S", "-N", "--json"
    )
    assert result.code == 0, result.err
    assert len(result.json()["install"]) == 100_000


# --- memory, measured: under an address-space limit -------------------------------------------------------------

#: each case runs `relay` in one process whose address space is limited (RLIMIT_AS), its stdin /dev/zero
MEMORY_CASES = [
    ["workflow", "diff", "-f", "/dev/zero"],
    ["workflow", "apply", "-f", "-", "--yes"],
    ["workflow", "create", "button", "-n", "n", "-u", "wss://h/p", "-i", "@/dev/zero", "-N"],
    ["workflow", "create", "button", "-n", "n", "-u", "wss://h/p", "-i", "-", "-N"],
    ["workflow", "simulate", "ws://127.0.0.1:9/x", "--scenario-file", "/dev/zero"],
]
MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from relay_cli.__main__ import main
    codes = []
    for args in json.loads(sys.argv[2]):
        codes.append(main(args))
    print(json.dumps(codes))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /dev/zero as Linux has them")
def test_endless_input_is_refused_within_a_memory_limit(tmp_path: Path) -> None:
    """`-f /dev/zero`, `-f -`, `-i @/dev/zero`, `-i -` and `--scenario-file /dev/zero` with 256 MiB of address space:
    each is refused with exit 2 (reading without a bound ends in MemoryError, exit 70, or the OOM killer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_CONFIG_DIR=str(tmp_path / "c"), RELAY_DATA_DIR=str(tmp_path / "d"), RELAY_API_KEY="t")
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(256 * MiB), json.dumps(MEMORY_CASES)],
            stdin=zero,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == [2] * len(MEMORY_CASES)
    assert "MemoryError" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stderr.count("larger than") == len(MEMORY_CASES)
