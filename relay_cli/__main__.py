"""Entry point: ``relay`` and ``python -m relay_cli``.

``relay --version`` is answered here, before Typer or anything else is imported: it is the command
scripts call most often to check the tool is there. A lone ``-v`` is the reference CLI's version flag, so
``relay -v`` prints the version too (with a command after it, ``-v`` means ``--verbose``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"], ["-v"]):  # a lone -v: the reference CLI's version flag (else -v is --verbose)
        from . import __version__

        sys.stdout.write(f"relay {__version__}\n")
        return 0
    from .app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
