"""GatekeeperError and its subclasses: every failure the user can be told about (stdlib only).

Each message starts with the thing it is about and ends with what to do. ``cli.py`` is the one
place that prints them; ``docs/errors.md`` lists them all.
"""

from __future__ import annotations

# Exit codes: 0 pass, 1 the gate said no, 2 could not decide (bad input, config, database).
EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_CANNOT_DECIDE = 2
EXIT_NO_CREDENTIALS = 3  # `quarantine ticket --create` without a tracker token


def reason_of(err: OSError | ValueError) -> str:
    """Why the OS (``strerror``: "File name too long") or Python ("embedded null byte")
    refused a path, for a message."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


class GatekeeperError(Exception):
    """Base class. ``exit_code`` is always 2: the tool could not do what was asked."""

    exit_code = EXIT_CANNOT_DECIDE
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InputError(GatekeeperError):
    """A report file that cannot be used. ``where`` is ``path`` or ``path:line``."""

    kind = "input"

    def __init__(
        self, path: str, problem: str, *, line: int | None = None, hint: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}", hint=hint)


class ReportParseError(InputError):
    """The file is not well-formed in the format it claims (truncated XML, broken JSON, ...)."""


class UnsafeInputError(InputError):
    """The file tries something a report never needs: entity expansion, external entities."""


class EmptyReportError(InputError):
    """The file is empty, or holds no record of any kind."""


class UnknownFormatError(InputError):
    """No parser recognises the file's content."""


class WrongFormatError(InputError):
    """The file is well-formed but is not the format that was asked for or detected."""


class NoReportsError(GatekeeperError):
    """A path or glob given on the command line matched no file."""

    kind = "input"


class ConfigError(GatekeeperError):
    """gatekeeper.yml / [tool.gatekeeper] / flags / environment are invalid."""

    kind = "config"


class MetadataError(GatekeeperError):
    """Run metadata (service, run id, ...) missing or invalid."""

    kind = "input"


class ManifestError(InputError):
    """A backfill manifest line is invalid."""


class StoreError(GatekeeperError):
    """The history database could not be used."""

    kind = "database"


class DatabaseUnavailableError(StoreError):
    """The database URL cannot be reached (server down, wrong host, bad credentials)."""


class DatabaseLockedError(StoreError):
    """SQLite stayed locked by another process past the timeout."""


class SchemaVersionError(StoreError):
    """The database was written by a newer gatekeeper than this one."""


class ServerError(GatekeeperError):
    """The gatekeeper server (``--server``) gave no usable answer: unreachable, too slow,
    failing after the retries, or answering with an error. Exit code 2, like every error:
    a server that cannot be asked never makes a gate pass."""

    kind = "server"


class MassQuarantineError(GatekeeperError):
    """`classify` would newly quarantine more than the allowed share of a service's tests; it
    wrote nothing for those services (the others were written)."""

    kind = "classify"


class UndecidedError(GatekeeperError):
    """The gate could not decide on the run's own results: most of its benchmarks moved
    together (a loaded machine) and ``benchmarks.common_shift`` is ``undecided``."""

    kind = "undecided"


class TrackerError(GatekeeperError):
    """The issue tracker (GitHub, GitLab) refused a request or could not be reached."""

    kind = "tracker"


class TrackerCredentialsError(TrackerError):
    """No tracker or no token to file an issue with: exit code 3, so a scheduled job can tell
    "not configured" from "the tracker failed"."""

    exit_code = EXIT_NO_CREDENTIALS


class RunConflictError(GatekeeperError):
    """A run with the same (service, run id, attempt) is stored, from other report files."""

    kind = "input"


# ---------------------------------------------------------------------------------------------
# The quarantine registry (flaky-tests.yml)
# ---------------------------------------------------------------------------------------------


class RegistryError(ConfigError):
    """flaky-tests.yml cannot be read, is invalid or cannot be written, or an edit does not apply.

    ``where`` is the file (or, for an edit, the test); the message reads
    ``where:line: field: problem (hint)``, e.g.
    ``flaky-tests.yml:14: flaky_tests[2].expires: '2026-13-01' is not a date (write YYYY-MM-DD)``.
    """

    def __init__(
        self,
        where: str,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.where = where
        self.line = line
        self.field = field
        self.problem = problem
        location = f"{where}:{line}" if line is not None else where
        if field:
            location = f"{location}: {field}"
        super().__init__(f"{location}: {problem}", hint=hint)
