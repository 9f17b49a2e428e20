"""The one exception hierarchy. Each class carries its exit status; ``relay_cli.app.run`` is the one place an
exception becomes a message on stderr and an exit status (``ExitStatus``, documented in the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """The exit statuses of relay (README: Output and exit codes)."""

    OK = 0
    #: the API refused a request, or the network failed
    API = 1
    #: bad input: a flag, an argument, a file, an environment variable or a config value
    USAGE = 2
    NOT_FOUND = 3
    #: authentication required or rejected
    AUTH = 4
    #: changes pending (``workflow diff``; ``workflow export`` that left something out)
    CHANGES_PENDING = 5
    #: a check failed: a preflight check (``workflow check``, ``--strict``), or a workflow app that misbehaved
    #: under ``workflow simulate``
    CHECK_FAILED = 6
    #: an unexpected exception (a bug): ``app.run`` prints one line asking for a report (sysexits' EX_SOFTWARE)
    INTERNAL = 70
    #: Ctrl-C
    INTERRUPTED = 130


class RelayError(Exception):
    """Base class: a message for the user, an optional hint, and an exit code."""

    exit_code: int = ExitStatus.API

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(RelayError):
    """Bad input: a flag, an argument, an environment variable or a config value. Nothing was sent."""

    exit_code = ExitStatus.USAGE

    def __init__(self, message: str, *, option: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{option}: {message}" if option else message, hint=hint)
        self.option = option


class NotFoundError(RelayError):
    exit_code = ExitStatus.NOT_FOUND


class AuthError(RelayError):
    exit_code = ExitStatus.AUTH


class ApiError(RelayError):
    """The server answered with an error status."""

    exit_code = ExitStatus.API

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        hint: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error = error
        #: the server's own ``message``, as it sent it (``message`` above says which request it refused)
        self.detail = detail


class ApiNotFoundError(ApiError):
    exit_code = ExitStatus.NOT_FOUND


class ApiAuthError(ApiError):
    exit_code = ExitStatus.AUTH


class NetworkError(RelayError):
    """The server could not be reached (refused, DNS, timeout)."""

    exit_code = ExitStatus.API


class CheckFailed(RelayError):
    """A preflight check found a problem: ``workflow check`` (not with ``--warn-only``), or ``--strict`` was given
    to a command that saves (nothing was sent)."""

    exit_code = ExitStatus.CHECK_FAILED


class AppMisbehaved(RelayError):
    """``workflow simulate``: the workflow app broke the scenario (a request that never came, a malformed
    message, a refused request, a premature close). The message names the step."""

    exit_code = ExitStatus.CHECK_FAILED


class OutputError(RelayError):
    """stdout or stderr cannot be written (a full disk, an I/O error); a closed pipe is not this but a quiet stop."""

    exit_code = ExitStatus.API
