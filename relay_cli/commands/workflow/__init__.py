"""``relay workflow ...``"""


from .._common import new_app

HELP = "Create, list, install and manage workflows."
app = new_app(HELP)

from . import args, create, instance, listing, logs, manage  # noqa: E402  (each registers its commands on `app`)
from . import deploy  # noqa: E402,F401  (diff, apply, export, check)
from . import simulate  # noqa: E402,F401  (simulate: play the Relay server against a workflow app)
from . import dev, init  # noqa: E402,F401  (init: a new project from a template; dev: run it against the simulator)

app.add_typer(create.app, name="create", help=create.HELP)
app.add_typer(args.app, name="args", help=args.HELP)
app.add_typer(instance.app, name="instance", help=instance.HELP)
