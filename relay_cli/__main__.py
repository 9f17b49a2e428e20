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

        return _write_version(f"relay {__version__}\n")
    from .app import run

    return run(args)


def _write_version(text: str) -> int:
    """The fast path's one write, with ``app.run``'s rules: a closed pipe is a quiet 0, a full disk exit 1."""
    import os

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    except OSError as exc:
        try:  # nothing more can reach stdout: the interpreter's flush at exit must not fail again
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        if isinstance(exc, BrokenPipeError):
            return 0
        sys.stderr.write(f"error: cannot write to stdout: {exc.strerror or exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
