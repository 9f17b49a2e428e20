"""Entry point: ``relay`` and ``python -m relay_cli``.

``relay --version`` is answered here, before Typer or anything else is imported: it is the command
scripts call most often to check the tool is there. A lone ``-v`` is the reference CLI's version flag, so
``relay -v`` prints the version too (with a command after it, ``-v`` means ``--verbose``).
``relay --help`` and ``relay workflow --help`` are answered here too, by ``quickhelp`` (the same text as
Typer's, without importing Typer or building the command tree).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before a command runs (while the command tree is imported): app.run's rule
        from .output import say_interrupted

        say_interrupted()
        return 130


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"], ["-v"]):  # a lone -v: the reference CLI's version flag (else -v is --verbose)
        from . import __version__

        return _write(f"relay {__version__}\n")
    if 0 < len(args) <= 2 and args[-1] in ("--help", "-h"):
        from .quickhelp import page_for

        page = page_for(args)
        if page is not None:
            return _write(page)
    if argv is not None or "relay_cli.app" in sys.modules:
        # called as a function (the tests, a program that embeds relay): the command, and the process as it was
        from .app import run

        return run(args)
    _settle()  # the `relay` command (`python -m relay_cli`): this process runs one command and ends
    from .app import run

    return _end(run(args))


def _settle() -> None:
    """Import the command tree (Typer's and our modules: some 25,000 objects the cyclic garbage collector tracks,
    which live until the process ends) with the collector off, then move what is alive into its permanent
    generation, and do the same once more at exit: its passes over these objects, while they are made (28 of a
    `workflow list`'s 36 collections) and at exit, free nothing and cost 20-30 ms. Reference counting frees
    everything as before; the collector goes on as before for what is made from now on."""
    import atexit
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        from . import app  # noqa: F401
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    atexit.register(gc.freeze)
    from . import output

    output.one_command = True


def _end(code: int) -> int:
    """The end of a process that ran one command: what the interpreter does at exit, less freeing the memory
    the process leaves (some 25,000 objects of the command tree, a listing's answer; 5-20 ms), which the
    operating system takes back at once. So: wait for nothing (when a thread that is not a daemon is still
    running, such as an interrupted apply's, the interpreter's own exit does it all), run the ``atexit``
    functions, flush stdout and stderr (``app.run`` has already flushed stdout and reported any failure),
    and end with ``code``."""
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return code
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


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
