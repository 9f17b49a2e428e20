"""What the command line says about a simulation, as ``relay workflow simulate`` and ``relay workflow dev``
both take it: the scenario, its parameters, the workflow args the app reads, the step timeout, the
transcript's form. ``relay_cli.commands.workflow._scenario`` declares the options once for both commands; this
is what they mean, with no Typer in it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from ..errors import UsageError
from .protocol import DEFAULT_MAX_TIME, MAX_MAX_TIME, MAX_SECONDS

if TYPE_CHECKING:
    from ..jsontypes import JSONObject, JSONValue
    from .protocol import World
    from .scenario import Record, Scenario


@dataclass(frozen=True)
class ScenarioFlags:
    scenario: str | None = None
    scenario_file: str | None = None
    device: str | None = None
    caller: str | None = None  # --from
    callee: str | None = None  # --to
    hold: float | None = None
    reject: bool = False
    taps: str | None = None
    phrase: str | None = None
    arg: list[str] | None = None
    boolean: list[str] | None = None
    number: list[str] | None = None
    settings: list[str] | None = None  # --set NAME=VALUE
    timeout: float = 10.0
    max_time: float = DEFAULT_MAX_TIME
    json_output: bool = False

    def check(self) -> None:
        """What can be refused before anything is read or started (exit 2)."""
        _finite_seconds(self.timeout, "--timeout", MAX_SECONDS)
        _finite_seconds(self.hold, "--hold", MAX_SECONDS)
        _finite_seconds(self.max_time, "--max-time", MAX_MAX_TIME)
        if self.scenario is not None and self.scenario_file is not None:
            raise UsageError(
                "--scenario and --scenario-file cannot be used together; pick one", option="--scenario-file"
            )
        self.args()

    def load(self) -> Scenario | None:
        """The scenario --scenario or --scenario-file names; None when neither is given."""
        from . import runner

        if self.scenario_file is not None:
            return runner.load_file(self.scenario_file)
        if self.scenario is not None:
            return runner.load_builtin(self.scenario)
        return None

    def params(self) -> dict[str, tuple[str, JSONValue]]:
        """The scenario parameters the flags set: parameter → (the flag, its value; None when not given)."""
        return {
            "device": ("--device", self.device),
            "from": ("--from", self.caller),
            "to": ("--to", self.callee),
            "hold": ("--hold", self.hold),
            "reject": ("--reject", True if self.reject else None),
            "taps": ("--taps", self.taps),
            "phrase": ("--phrase", self.phrase),
        }

    def args(self) -> JSONObject:
        """-a/-b/-r: the workflow args they give (over the workflow's own)."""
        from ..core import workflow as wf

        return wf.parse_args(self.arg, self.boolean, self.number)

    def resolve(
        self,
        chosen: Scenario,
        defaults: Mapping[str, JSONValue],
        variables: Mapping[str, JSONValue],
        world: World | None,
    ) -> JSONObject:
        """The parameters of a run of ``chosen``: what the workflow says (``defaults``, its args in
        ``variables``) under the flags, under --set; the app's get_var values in ``vars``."""
        from .. import output
        from . import protocol, scenario as sc

        params = sc.resolve_params(chosen, self.params(), self.settings, defaults, world)
        params["vars"] = {**variables, **self.args()}
        for warning in protocol.option_warnings(params):
            output.warning(warning)
        return params

    def printer(self, write: Callable[[TextIO, str], None] | None = None) -> Callable[[Record], None]:
        """Prints one transcript record on stdout: a line for people, escaped by the one escaping function (an
        app's _type or text cannot drive the terminal), or with --json one JSON object, exact.
        ``write(stream, text)`` writes (default: write and flush)."""
        import json

        from .. import output

        def emit(record: Record) -> None:
            if self.json_output:
                text = json.dumps(record.to_json(), ensure_ascii=False)
            else:
                text = output.safe(record.line(), stream=sys.stdout)
            if write is not None:
                write(sys.stdout, text + "\n")
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()

        return emit


def _finite_seconds(value: float | None, option: str, most: float) -> None:
    """Typer's range check lets NaN through (every comparison with it is false), and infinity above a minimum;
    a huge finite value would wait for ever: ``most`` is the largest accepted."""
    import math

    if value is not None and not math.isfinite(value):
        raise UsageError(f"expected a number of seconds, got {value}", option=option)
    if value is not None and value > most:
        raise UsageError(f"expected at most {most:g} seconds, got {value:g}", option=option)
