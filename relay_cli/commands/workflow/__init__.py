"""``relay workflow ...``

Each subcommand's module registers it on ``app`` when imported. ``load`` imports them: every one, or for a
command line that names a subcommand (``relay workflow list ...``) only the module that registers it, which is
all that command line needs (startup time: the others cost some 30 ms to import and build).
"""

from .._common import new_app

HELP = "Create, list, install and manage workflows."
app = new_app(HELP)

#: each subcommand → the module that registers it, in the order --help lists them (tests/test_startup.py checks
#: this against the tree)
COMMANDS = {
    "list": "listing", "delete": "manage", "install": "manage", "uninstall": "manage", "trigger": "manage",
    "logs": "logs", "diff": "deploy", "apply": "deploy", "export": "deploy", "check": "deploy",
    "simulate": "simulate", "dev": "dev", "init": "init", "update": "update", "create": "create", "args": "args",
    "instance": "instance",
}  # fmt: skip
#: the subcommands that are groups: their module has an ``app`` of its own, and its ``HELP``
GROUPS = ("create", "args", "instance")


def load(only: str | None = None) -> None:
    """Register the subcommands: all of them, or with ``only`` (a subcommand's name) its module's. Whatever was
    loaded before, the commands stay in the order of ``COMMANDS``."""
    names = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    added = {info.name for info in app.registered_groups}
    for name in names:
        module = getattr(__import__(__name__, fromlist=[name]), name)  # `from . import NAME` (-X importtime sees it)
        if name in GROUPS and name not in added:
            app.add_typer(module.app, name=name, help=module.HELP)
    order = list(COMMANDS)
    app.registered_commands.sort(key=lambda info: order.index(info.name or ""))
    app.registered_groups.sort(key=lambda info: order.index(info.name or ""))
