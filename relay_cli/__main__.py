"""Entry point: ``relay`` and ``python -m relay_cli``.

``relay --version`` is answered here, before Typer or anything else is imported: it is the command
scripts call most often to check the tool is there.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from . import __version__

        sys.stdout.write(f"relay {__version__}\n")
        return 0
    from .app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
