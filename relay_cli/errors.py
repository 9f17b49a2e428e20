"""The one exception hierarchy. Each class carries its exit code; only ``relay_cli.__main__`` prints them.

Exit codes (documented in the README):
0 ok · 1 API or network failure · 2 usage or bad input · 3 not found · 4 authentication ·
5 changes pending (``workflow diff``) · 6 a check failed: a preflight check (``workflow check``, ``--strict``), or a workflow app
that misbehaved under ``workflow simulate`` · 70 internal error (a bug) · 130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_CHANGES_PENDING = 5
EXIT_CHECK_FAILED = 6
EXIT_INTERRUPTED = 130


class RelayError(Exception):
    """Base class: a message for the user, an optional hint, and an exit code."""

    exit_code = EXIT_API

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(RelayError):
    """Bad input: a flag, an argument, an environment variable or a config value. Nothing was sent."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, option: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{option}: {message}" if option else message, hint=hint)
        self.option = option


class NotFoundError(RelayError):
    exit_code = EXIT_NOT_FOUND


class AuthError(RelayError):
    exit_code = EXIT_AUTH


class ApiError(RelayError):
    """The server answered with an error status."""

    exit_code = EXIT_API

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
    exit_code = EXIT_NOT_FOUND


class ApiAuthError(ApiError):
    exit_code = EXIT_AUTH


class NetworkError(RelayError):
    """The server could not be reached (refused, DNS, timeout)."""

    exit_code = EXIT_API


class CheckFailed(RelayError):
    """A preflight check found a problem: ``workflow check`` (not with ``--warn-only``), or ``--strict`` was given
    to a command that saves (nothing was sent)."""

    exit_code = EXIT_CHECK_FAILED


class AppMisbehaved(RelayError):
    """``workflow simulate``: the workflow app broke the scenario (a request that never came, a malformed
    message, a refused request, a premature close). The message names the step."""

    exit_code = EXIT_CHECK_FAILED


#: an unexpected exception (a bug): ``app.run`` prints one line asking for a report (like sysexits' EX_SOFTWARE)
EXIT_INTERNAL = 70


class OutputError(RelayError):
    """stdout or stderr cannot be written (a full disk, an I/O error); a closed pipe is not this but a quiet stop."""

    exit_code = EXIT_API
