"""Every command of ``relay``, declared once: its name, where its code is, its one-line summary, and its place in
``--help`` (section and order).

``relay_cli.app`` builds the command line from this table (a lazily-loading group imports only the module of
the command that runs), and the pages of the groups (``relay --help``, ``relay workflow --help``, ...) are laid
out here from the table alone: no command module and no Typer is imported to print them. How to add a command:
docs/adding-a-command.md.

This module imports only the standard library's cheapest parts; ``relay --help`` is its reason to exist.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the way to a help page
if TYPE_CHECKING:
    from collections.abc import Iterator

Words = tuple[str, ...]


class Command:
    """``relay PATH``: runs ``function`` of ``relay_cli.commands.MODULE`` (``target`` is ``"MODULE:function"``).
    ``summary`` is its line in its group's page; the function's docstring is its own page."""

    __slots__ = ("hidden", "path", "section", "summary", "target", "variant")

    def __init__(
        self, path: str, target: str, summary: str, *, section: str = "Commands", hidden: bool = False
    ) -> None:
        self.path: Words = tuple(path.split())
        self.target = target
        self.summary = summary
        self.section = section
        self.hidden = hidden
        #: for a command made by a factory (``relay workflow create <trigger>``): what the factory is called with
        self.variant: str | None = None

    @property
    def name(self) -> str:
        return self.path[-1]


class Group:
    """``relay PATH ...``: a group of commands. ``summary`` is its line in its parent's page, ``help`` the text of
    its own page (the summary when not given). With ``triggers``, its commands are the triggers of
    ``core.triggers.TRIGGERS``, each made by ``target`` (a factory taking the trigger's name)."""

    __slots__ = ("help", "hidden", "path", "section", "summary", "target", "triggers")

    def __init__(
        self,
        path: str,
        summary: str,
        *,
        help: str | None = None,
        section: str = "Commands",
        hidden: bool = False,
        triggers: str | None = None,
    ) -> None:
        self.path: Words = tuple(path.split())
        self.summary = summary
        self.help = help or summary
        self.section = section
        self.hidden = hidden
        self.target = triggers
        self.triggers = triggers is not None

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else "relay"


class GlobalOption:
    """An option of every command (``relay_cli.app`` adds it to each): ``flags`` as written in --help."""

    __slots__ = ("flags", "help", "metavar", "name")

    def __init__(self, name: str, flags: tuple[str, ...], help: str, metavar: str | None = None) -> None:
        self.name = name
        self.flags = flags
        self.help = help
        self.metavar = metavar

    @property
    def term(self) -> str:
        shown = sorted(self.flags, key=lambda flag: flag.startswith("--"))  # -P, --profile: as click shows them
        return ", ".join(shown) + (f" {self.metavar}" if self.metavar else "")


ROOT_HELP = """\
Register and manage Relay workflows.

A workflow is a WebSocket app you host; registering it tells the Relay server to start it when a
trigger fires on your devices (a call, a button tap, a phrase, a timer, ...).

Examples:

\b
  relay workflow create call --trigger inbound --name my_auto_answer \\
      --uri wss://myhost.mydomain.com/autoanswerpath --install 990007560045678
  relay workflow create button --trigger double --name place-call \\
      --uri wss://myhost.mydomain.com/placecallpath --install-all
  relay workflow list

The global options may come before or after the command: relay workflow list --profile qa.

Exit codes: 0 ok, 1 API or network failure, 2 bad input, 3 not found, 4 authentication, 5 diff: changes
pending, 6 a check of your workflow app failed, 70 internal error (please report it), 130 interrupted.
"""

ROOT = Group("", "Register and manage Relay workflows.", help=ROOT_HELP)

GLOBAL_OPTIONS = (
    GlobalOption(
        "profile", ("--profile", "-P"), "Profile to use for this command. [env: RELAY_PROFILE]", metavar="NAME"
    ),
    GlobalOption(
        "verbose", ("--verbose", "-v"), "Log each HTTP request and response on stderr (credentials are redacted)."
    ),
    GlobalOption(
        "timeout",
        ("--timeout",),
        "Deadline of each request to the API, from connecting to the last byte of the answer (default 30). "
        "[env: RELAY_TIMEOUT]",
        metavar="SECONDS",
    ),
)
VERSION_OPTION = ("-V, --version", "Print the version and exit.")
HELP_OPTION = ("-h, --help", "Show this message and exit.")

WORKFLOW = "Workflow commands"
ACCOUNT = "Account commands"
RESOURCES = "Account resources"
SANDBOX = "Sandbox commands"
CONFIGURATION = "Configuration commands"
OTHER = "Other commands"
MANIFEST = "Manifest commands"
DEVELOP = "Development commands"

#: every group and command, each group's in the order its page lists them (its sections in the order they first
#: appear); a target is ``MODULE:function`` under relay_cli.commands
COMMANDS = (
    Group("workflow", "Create, list, install and manage workflows.", section=WORKFLOW),
    Group(
        "workflow create",
        "Create a workflow that starts when a trigger fires.",
        help="Create a workflow: start your app at --uri when a trigger fires on the devices it is installed on.",
        triggers="workflow.create:for_trigger",
    ),
    Command("workflow list", "workflow.list_cmd:list_workflows", "List the account's workflows."),
    Command("workflow update", "workflow.update:update", "Change a workflow in place: its URI, name, trigger or args."),
    Command("workflow delete", "workflow.manage:delete", "Delete a workflow."),
    Command(
        "workflow install", "workflow.manage:install", "Install a workflow on more devices, every device or a group."
    ),
    Command("workflow uninstall", "workflow.manage:uninstall", "Uninstall a workflow from devices, or everywhere."),
    Group("workflow args", "Show and change the args a workflow is started with."),
    Command("workflow args list", "workflow.args:list_args", "List a workflow's args with their types."),
    Command("workflow args get", "workflow.args:get_arg", "Print one arg's value."),
    Command("workflow args set", "workflow.args:set_args", "Set args (merged into the existing ones)."),
    Command("workflow args unset", "workflow.args:unset_args", "Remove args."),
    Command(
        "workflow trigger", "workflow.manage:trigger", "Start an HTTP-triggered workflow now, on behalf of a user."
    ),
    Group("workflow instance", "List and stop workflow instances (the runs of workflows)."),
    Command(
        "workflow instance list",
        "workflow.instance:list_instances",
        "List the running workflow instances; -H adds the ended ones.",
    ),
    Command(
        "workflow instance stop", "workflow.instance:stop", "Stop one running instance, or every one of a workflow."
    ),
    Command("workflow logs", "workflow.logs:logs", "Stream the realtime workflow log."),
    Command(
        "workflow apply", "workflow.deploy:apply", "Make the account's workflows match a manifest.", section=MANIFEST
    ),
    Command(
        "workflow diff", "workflow.deploy:diff", "Compare a manifest with the account's workflows.", section=MANIFEST
    ),
    Command(
        "workflow export", "workflow.deploy:export", "Print the account's workflows as a manifest.", section=MANIFEST
    ),
    Command(
        "workflow check",
        "workflow.deploy:check",
        "Check that each workflow's app answers, and risky installs.",
        section=MANIFEST,
    ),
    Command("workflow init", "workflow.init:init", "Start a workflow project from a template.", section=DEVELOP),
    Command(
        "workflow simulate",
        "workflow.simulate:simulate",
        "Play a call, a button tap or a phrase against your app.",
        section=DEVELOP,
    ),
    Command(
        "workflow dev", "workflow.dev:dev", "Run your app: simulated on every change, or on a device.", section=DEVELOP
    ),
    Command(
        "workflow doctor",
        "workflow.doctor:doctor",
        "Check why a workflow does not run on a device.",
        section=DEVELOP,
    ),
    # --- the account
    Command("login", "auth:login", "Log in to Relay in your browser (the tokens go to the keyring).", section=ACCOUNT),
    Command("logout", "auth:logout", "End the session and delete the stored tokens.", section=ACCOUNT),
    Command("whoami", "auth:whoami", "Show who you are logged in as and your default account.", section=ACCOUNT),
    Group("subscriber", "The Relay account (subscriber) commands act on.", section=ACCOUNT),
    Command(
        "subscriber get", "auth:subscriber_get", "Show the account commands act on by default, and where it comes from."
    ),
    Command("subscriber set", "auth:subscriber_set", "Save the default account in the selected profile."),
    Command(
        "subscriber list", "auth:subscriber_list", "List the accounts your login can act on (the first is the default)."
    ),
    Command(
        "devices",
        "account:devices",
        "List the account's device and user ids (what -i takes).",
        section=ACCOUNT,
    ),
    Group(
        "group",
        "List the account's groups (what -G takes).",
        help="List the account's groups (install a workflow on one with -G).",
        section=ACCOUNT,
    ),
    Command("group list", "account:list_groups", "List the account's groups and their members."),
    Group(
        "user",
        "List user profiles and their assignments to devices.",
        help="List the account's user profiles and their assignments to devices.",
        section=ACCOUNT,
    ),
    Command("user list", "user:list_users", "List the account's user profiles (name and id), sorted by name."),
    Command("user assignments", "user:assignments", "List which user profile was assigned to which device, and when."),
    Group("token", "Tokens for the Relay SDK (relay-py apps).", section=ACCOUNT),
    Command("token generate", "auth:generate", "Log in as the SDK client and print its refresh token."),
    # --- what the account holds besides workflows
    Group("geofence", "Create, list and delete geofences.", section=RESOURCES),
    Command(
        "geofence create", "geofence:create", "Create a geofence around an address, or around --latitude/--longitude."
    ),
    Command("geofence list", "geofence:list_geofences", "List the account's geofences."),
    Command("geofence delete", "geofence:delete", "Delete a geofence."),
    Group(
        "tag",
        "Manage NFC tag configurations.",
        help="Manage the configurations that can be associated with an NFC tag.",
        section=RESOURCES,
    ),
    Command("tag create", "tag:create", "Create a tag configuration."),
    Command("tag list", "tag:list_tags", "List the tag configurations."),
    Command("tag update", "tag:update", "Replace a tag configuration's content."),
    Command("tag delete", "tag:delete", "Delete a tag configuration."),
    Group(
        "audio",
        "Upload, list and delete custom audio files.",
        help="Upload, list and delete custom audio files (played by workflows as relay-static://NAME).",
        section=RESOURCES,
    ),
    Command("audio create", "audio:create", "Upload a WAV file as custom audio."),
    Command("audio list", "audio:list_audio", "List the account's custom audio files."),
    Command("audio delete", "audio:delete", "Delete a custom audio file."),
    Command("venues", "venues:venues", "List the account's indoor positioning venues.", section=RESOURCES),
    Command("positions", "venues:positions", "List the positions of an indoor positioning venue.", section=RESOURCES),
    Command("analytics", "analytics:analytics", "Show the account's analytics events, filtered.", section=RESOURCES),
    # --- the local sandbox
    Command("server", "server:server", "Serve the local sandbox's Relay API over HTTP.", section=SANDBOX),
    Group(
        "sandbox",
        "Fire events on sandbox devices: their workflows run.",
        help="Make things happen on sandbox devices: a call, a button press, a phrase, ... The sandbox starts the "
        "registered workflows Relay would start for it and plays them (docs/sandbox.md).",
        section=SANDBOX,
    ),
    Command("sandbox call", "sandbox:call", "A call comes in to a device."),
    Command("sandbox dial", "sandbox:dial", "The user of a device places a call."),
    Command("sandbox press", "sandbox:press", "The user presses a device's action button."),
    Command("sandbox say", "sandbox:say", "The user of a device says a phrase to the assistant."),
    Command("sandbox nfc", "sandbox:nfc", "A device reads an NFC tag."),
    Command("sandbox battery", "sandbox:battery", "A device's battery level changes."),
    Command("sandbox move", "sandbox:move", "A device moves (geofences entered or left)."),
    Command("sandbox position", "sandbox:position", "A device comes to an indoor position."),
    Command("sandbox emergency", "sandbox:emergency", "The user of a device raises an emergency."),
    Command("sandbox tick", "sandbox:tick", "Run the timer workflows due by a given time."),
    # --- relay's own settings
    Group(
        "profile",
        "Manage profiles: named sets of environment, host and account.",
        help="Manage profiles: named settings (environment, host, account) in the config file.",
        section=CONFIGURATION,
    ),
    Command("profile list", "profile:list_profiles", "List the profiles; the selected one is marked."),
    Command("profile show", "profile:show", "Show every setting in effect and where it comes from."),
    Command("profile use", "profile:use", "Select the profile later commands use."),
    Command("profile set", "profile:set_value", "Set a key on the selected profile (or the one named by --profile)."),
    Command("profile unset", "profile:unset_value", "Remove a key from the selected profile."),
    Command("profile add", "profile:add", "Create a profile."),
    Command("profile remove", "profile:remove", "Delete a profile (stored tokens are not touched)."),
    Command(
        "env",
        "auth:env",
        "Show the API host, issuer and client ids, and their sources.",
        section=CONFIGURATION,
    ),
    Group(
        "completion",
        "Print or install the shell completion script.",
        help="Shell completion: print or install the completion script for bash, zsh, fish or PowerShell.",
        section=CONFIGURATION,
    ),
    Command("completion show", "completion:show", "Print the completion script for SHELL on stdout."),
    Command("completion install", "completion:install", "Install the completion script for SHELL and say where."),
    # --- relay itself
    Command("api", "api:api", "Make a request to any endpoint of the Relay API.", section=OTHER),
    Command("help", "meta:help_command", "Show the help of relay or of one of its commands.", section=OTHER),
    Command("version", "meta:version", "Print the version of relay.", section=OTHER),
    Command("update", "meta:update", "Name the command that updates relay, for this install.", section=OTHER),
)

_GROUPS = {ROOT.path: ROOT, **{g.path: g for g in COMMANDS if isinstance(g, Group)}}


def group(path: Words) -> Group | None:
    """The group at ``path`` (``()`` is ``relay`` itself), or None."""
    return _GROUPS.get(tuple(path))


def children(parent: Group) -> list[Command | Group]:
    """The commands and groups of ``parent``, in the order its page lists them (hidden ones included)."""
    if parent.triggers:
        return list(_trigger_commands(parent))
    depth = len(parent.path) + 1
    return [e for e in COMMANDS if len(e.path) == depth and e.path[:-1] == parent.path]


def child(parent: Group, name: str) -> Command | Group | None:
    for entry in children(parent):
        if entry.name == name:
            return entry
    return None


def _trigger_commands(parent: Group) -> Iterator[Command]:
    """``relay workflow create <trigger>``: one command per trigger of the trigger table, in its order (adding a
    trigger is one declaration there: docs/adding-a-trigger.md)."""
    from .core.triggers import TRIGGERS

    for trigger in TRIGGERS:
        entry = Command(" ".join((*parent.path, trigger.name)), parent.target or "", first_sentence(trigger.help))
        entry.variant = trigger.name
        yield entry


def first_sentence(text: str) -> str:
    """The first sentence of ``text``'s first paragraph (up to a period followed by a space or the end)."""
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def walk(parent: Group = ROOT) -> Iterator[Command | Group]:
    """Every group and command under ``parent``, depth first, in --help order."""
    for entry in children(parent):
        yield entry
        if isinstance(entry, Group):
            yield from walk(entry)


# --- the pages of the groups ------------------------------------------------------------------------------

#: click's limits: a page is as wide as the terminal, at most 100 columns and at least 52, less a margin of 2
MAX_WIDTH = 100
MIN_WIDTH = 50


def width() -> int:
    """The width help pages are laid out at: the terminal's (COLUMNS first, else stdout's, else 80), at most 98
    and at least 50 (click's rule, so that the groups' pages and the commands' pages are as wide)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]  # None: caught
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, MAX_WIDTH) - 2, MIN_WIDTH)


def page(group: Group, width: int) -> str:
    """The help page of ``group``, ``width`` columns wide, ending with a newline."""
    command_path = " ".join(("relay", *group.path))
    out = [_wrap(f"{command_path} [OPTIONS] COMMAND [ARGS]...", width, "Usage: ", " " * 7), ""]
    out += [_text(group.help, width, "  "), ""]
    options = [HELP_OPTION] if group.path else [VERSION_OPTION, HELP_OPTION]
    out += ["Options:", *_definitions(options, width), ""]
    out += ["Global options:", *_definitions([(o.term, o.help) for o in GLOBAL_OPTIONS], width), ""]
    sections: dict[str, list[tuple[str, str]]] = {}
    for entry in children(group):
        if not entry.hidden:
            sections.setdefault(entry.section, []).append((entry.name, entry.summary))
    column = max((len(name) for rows in sections.values() for name, _ in rows), default=0)
    for title, rows in sections.items():
        out += [f"{title}:", *_definitions(rows, width, column), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _wrap(text: str, width: int, first: str, rest: str) -> str:
    import textwrap

    return textwrap.fill(
        text, width, initial_indent=first, subsequent_indent=rest, break_long_words=False, break_on_hyphens=False
    )


def _text(text: str, width: int, indent: str) -> str:
    """Help text as click lays it out: paragraphs re-wrapped, a paragraph whose first line is ``\\b`` kept as
    written (examples), each indented."""
    out = []
    for paragraph in text.strip("\n").split("\n\n"):
        lines = paragraph.split("\n")
        if lines[0].strip() == "\b":
            out.append("\n".join(indent + line for line in lines[1:]))
        else:
            out.append(_wrap(" ".join(paragraph.split()), width, indent, indent))
    return "\n\n".join(out)


def _definitions(rows: list[tuple[str, str]], width: int, column: int = 0) -> list[str]:
    """Terms and their text side by side, the text wrapped in its column (as click's ``write_dl``): the column
    starts after the longest term (at least ``column`` wide, at most 30), a longer term has its text below."""
    first = min(max(column, *(len(term) for term, _ in rows)), 30) + 4
    out = []
    for term, text in rows:
        lines = _wrap(text, width, " " * first, " " * first).split("\n") if text else [""]
        if len(term) + 4 <= first:
            out.append(f"  {term.ljust(first - 2)}{lines[0].lstrip()}".rstrip())
        else:
            out += [f"  {term}", lines[0]]
        out += lines[1:]
    return out
