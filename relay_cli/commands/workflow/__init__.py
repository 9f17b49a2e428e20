"""``relay workflow ...``"""


from .._common import new_app

HELP = "Create, list, install and manage workflows."
app = new_app(HELP)

from . import args, create, listing, manage  # noqa: E402  (each registers its commands on `app`)

app.add_typer(create.app, name="create", help=create.HELP)
app.add_typer(args.app, name="args", help=args.HELP)
