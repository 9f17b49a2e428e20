"""What a trigger declaration is: a ``Trigger`` and its ``Option``s, plain data and pure functions.

The commands layer turns a ``Trigger`` into ``relay workflow create <name>`` (one Typer option per
``Option``); ``core.manifest`` reads and writes its ``[workflow.NAME]`` table from the same options. Nothing
here knows Typer or TOML.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Final, Literal, NamedTuple, Protocol

from ...errors import UsageError
from ...jsontypes import JSONObject, JSONValue
from .. import suggest
from ..tomltext import NotRepresentable
from .events import DeviceEvent


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: the default of an option that must be given: a required flag, a key the manifest must hold
REQUIRED: Final = _Required()

#: what an option's value is: its Python type in the payload builder, its flag's and its manifest key's shape
#:   text     a string (a list of strings when ``repeatable``)           --id G1            geofence_id = "G1"
#:   integer  a whole number                                              --threshold 80     threshold = 80
#:   time     a local date-time string; the manifest also takes a TOML local date-time or date
#:   pairs    a dict of strings: the flag repeated as NAME=VALUE, a table of strings in the manifest
Kind = Literal["text", "integer", "time", "pairs"]


class Machine(Protocol):
    """The machine ``relay`` runs on, for the defaults that depend on it (``create`` passes one over
    ``commands/localtime.py``)."""

    def local_zone_name(self) -> str: ...

    def next_full_hour(self) -> str: ...


def choice(value: object, choices: Collection[str], option: str) -> str:
    """``value`` if it is one of ``choices`` (a tuple, or the keys of a mapping), else a usage error naming ``option``."""
    if not isinstance(value, str) or value not in choices:
        raise UsageError(suggest.expected(value, choices), option=option)
    return value


def non_empty(value: str | None, option: str, what: str = "a value") -> str:
    if value is None or not value.strip():
        raise UsageError(f"expected {what}, got an empty string", option=option)
    return value


class Option(NamedTuple):
    """One option of a trigger: a flag of ``relay workflow create <trigger>`` and a key of its manifest table.

    ``name`` is both the manifest key and the keyword the trigger's ``payload`` function takes. The flag's
    ``--help`` line is ``help``, followed by "One of: ..." when there are ``choices``; its value is shown
    as ``metavar`` (by default the choices: ``inbound|outbound``) and its default as ``default``.
    """

    name: str
    #: the long flag first (errors name it), then its aliases and short flag: ("--venue_id", "--venue-id", "-v")
    flags: tuple[str, ...]
    help: str
    kind: Kind = "text"
    #: None: optional, no value; REQUIRED: must be given; else the value when the flag / key is absent
    default: object = None
    #: the only values it takes: checked before ``payload`` runs, listed in --help, offered by shell completion
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    #: a list: the flag may be repeated; the manifest key holds an array (or one string)
    repeatable: bool = False
    #: left out of --help and the command reference (the reference CLI's undocumented flags)
    hidden: bool = False
    #: values shell completion offers when they are not strict ``choices`` (e.g. weekdays, also taken as "mo,we")
    completion: tuple[str, ...] = ()
    #: the manifest's error when a REQUIRED key is absent; default "missing: the <name with spaces>"
    missing: str | None = None
    #: ``workflow export`` writes the value even when it is the default (False: only when it differs)
    export_default: bool = True

    @property
    def flag(self) -> str:
        """The flag error messages name: the first one."""
        return self.flags[0]

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def missing_message(self) -> str:
        return self.missing or f"missing: the {self.name.replace('_', ' ')}"

    def shown_metavar(self) -> str | None:
        return self.metavar or ("|".join(self.choices) if self.choices else None)

    def shown_help(self) -> str:
        return f"{self.help} One of: {', '.join(self.choices)}." if self.choices else self.help

    def suggestions(self) -> tuple[str, ...]:
        """What shell completion offers for the value."""
        return self.choices or self.completion


class Trigger(NamedTuple):
    """One trigger: ``relay workflow create <name>``, manifest ``type = "<name>"``, and its ``on_*`` payload.

    - ``payload(**values)`` builds the ``on_*`` part of ``config.trigger`` from the option values (by option
      name; choices are already checked) and raises ``UsageError(option=<flag>)`` on bad input.
    - ``read(key, value)`` is the way back, for ``workflow export``: one stored ``on_*`` key and its value →
      the option values that build it, or None when this tool would not have created it (``NotRepresentable``
      for a specific reason).
    - ``describe(key, value)`` is the short type ``workflow list`` shows (``battery:charge:80``).
    - ``start(details)`` is the ``trigger`` of the ``wf_api_start_event`` Relay sends when this trigger fires:
      ``{"type": ..., "args": {...}}``, ``args`` without ``source_uri`` (the device, added by whoever knows it).
      ``details`` are what happened, by name (``START_DETAILS`` in ``table.py``); a missing one takes its default.
      The simulator and the sandbox both send exactly this.
    - ``fires(key, value, event)`` says whether a stored ``on_*`` key and its value fire on a device event
      (``events.DeviceEvent``): None when not, else the ``details`` its START is built from.
    """

    name: str
    help: str
    examples: tuple[str, ...]
    options: tuple[Option, ...]
    #: every ``on_*`` key its payloads use (and older spellings ``read``/``describe`` still recognise)
    keys: tuple[str, ...]
    payload: Callable[..., JSONObject]
    read: Callable[[str, JSONValue], JSONObject | None]
    describe: Callable[[str, JSONValue], str]
    #: fills the values that default to something of this machine (the timer's start and zone). Called with
    #: ``machine=None`` for a manifest, which must not depend on the machine it is applied from: it refuses instead.
    machine_defaults: Callable[[dict[str, object], Machine | None], dict[str, object]] | None = None
    #: ``create`` runs the preflight checks first (and has --no-check and --strict)
    preflight: bool = False
    #: details → the START event's ``trigger`` (see above)
    start: Callable[[Mapping[str, JSONValue]], JSONObject] = lambda details: {"type": "other", "args": {}}
    #: (key, value, event) → the START's details when the stored trigger fires on the event, else None
    fires: Callable[[str, JSONValue, DeviceEvent], JSONObject | None] = lambda key, value, event: None

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def build(self, values: Mapping[str, object], machine: Machine | None = None) -> JSONObject:
        """Option values (by name; an absent or None value is the option's "not given") → the ``on_*`` payload.

        A missing value takes the option's default, then ``machine_defaults`` fills what the machine decides,
        the ``choices`` are checked, and ``payload`` runs with every option as a keyword."""
        unknown = set(values) - {option.name for option in self.options}
        if unknown:
            raise TypeError(f"trigger {self.name} has no option {', '.join(sorted(unknown))}")
        given: dict[str, object] = {}
        for option in self.options:
            value = values.get(option.name)
            if value is None and option.required:
                raise UsageError("missing: this option is required", option=option.flag)
            given[option.name] = option.default if value is None else value
        if self.machine_defaults is not None:
            given = self.machine_defaults(given, machine)
        for option in self.options:
            value = given[option.name]
            if option.choices and value is not None:
                choice(value, option.choices, option.flag)
        return self.payload(**given)

    def manifest_values(self, key: str, value: JSONValue) -> JSONObject:
        """One stored ``on_*`` key and its value → the keys of a manifest table, in ``read``'s order; raises
        ``NotRepresentable``. A None value is left out, and so is a default the option does not export."""
        values = self.read(key, value)
        if values is None:
            raise NotRepresentable(f"trigger {key} = {value!r} cannot be written to a manifest")
        out: JSONObject = {}
        for name, item in values.items():
            option = self.option(name)
            if item is None or (not option.export_default and item == option.default):
                continue
            out[name] = item
        return out
