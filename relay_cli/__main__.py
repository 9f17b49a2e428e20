"""Entry point: ``relay`` and ``python -m relay_cli``.

``relay --version`` and the help pages of the groups (``relay --help``, ``relay workflow --help``, ...) are
answered here, before Typer or any command is imported: the version is what scripts call most often to check
the tool is there, and the pages come from the command registry alone (relay_cli/registry.py lays them out; a
group's page is the same text when Typer shows it, e.g. for ``relay help workflow``). A lone ``-v`` is the
reference CLI's version flag, so ``relay -v`` prints the version too (with a command, ``-v`` means ``--verbose``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:  # Ctrl-C before a command runs (while the command tree is imported): app.run's rule
        from .errors import ExitStatus
        from .output import Output

        Output().interrupted()
        return ExitStatus.INTERRUPTED


def _main(args: list[str]) -> int:
    if args in (["--version"], ["-V"], ["-v"]):  # a lone -v: the reference CLI's version flag (else -v is --verbose)
        from . import __version__

        return _write(f"relay {__version__}\n")
    if args and args[-1] in ("--help", "-h") and not os.environ.get("_RELAY_COMPLETE"):
        from . import registry

        group = registry.group(tuple(args[:-1]))
        if group is not None:
            return _write(registry.page(group, registry.width()))
    from .app import run

    return run(args)


def _write(text: str) -> int:
    """A fast path's one write, with ``app.run``'s rules: a closed pipe is a quiet 0, a full disk exit 1, and
    text the stream cannot encode is written with backslash escapes."""
    try:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:  # raised before anything is written
            encoding = getattr(sys.stdout, "encoding", None) or "ascii"
            sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
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
