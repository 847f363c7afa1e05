"""One exception tree for the whole monitor.

Every error the monitor raises on purpose derives from :class:`MonitorError`;
third-party exceptions are translated at the boundary that meets them, with a
message that says what to do::

    MonitorError
    ├── InputError              bad command-line input: times, windows, durations
    ├── ConfigError             a profile or config file is invalid (names file, field, fix)
    ├── SourceError             a backend failed
    │   ├── BackendUnavailable  unreachable or failing after bounded retries (names the URL)
    │   └── QueryError          the backend rejected a query (names the check and the backend's reason)
    ├── StoreError              the database failed or refused a write
    │   ├── ConflictError       an idempotency key reused with another body, or a lost lease
    │   └── NotFoundError       no such deployment
    └── SimulationError         the simulator or the local Prometheus it drives failed

The CLI maps every ``MonitorError`` to exit code 3 with its message on one line. A
:class:`SourceError` also carries what went wrong as fields, like httpx's ``.request`` and
``.response``: the URL it asked (credentials masked), the HTTP status (None when no answer came)
and an excerpt of the body; code decides on those, never on the message's wording.
"""

from __future__ import annotations

BODY_EXCERPT_CHARS = 300  # of an error answer kept on a SourceError


class MonitorError(Exception):
    """Base of every error the monitor raises deliberately."""


class InputError(MonitorError):
    """Invalid user input such as an unparseable time or a window that is too long.

    ``problem`` and ``fix`` are the message's parts when the raiser gave them (else ``problem`` is
    the message and ``fix`` empty): a caller that words its own message, such as a config error
    naming file and line, reads them instead of taking the message apart.
    """

    def __init__(self, message: str, *, problem: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.problem, self.fix = problem or message, fix


class ConfigError(MonitorError):
    """An invalid profile or configuration file; the message names the file, field and fix."""


class SourceError(MonitorError):
    """A telemetry backend could not answer.

    ``url`` is the address asked, fit for messages (credentials masked); ``status`` the HTTP
    status of the answer, None when none came (refused, timed out); ``body`` an excerpt of the
    answer with secrets scrubbed.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.url, self.status, self.body = url, status, body[:BODY_EXCERPT_CHARS]


class BackendUnavailable(SourceError):
    """The backend is unreachable or kept failing after bounded retries."""


class QueryError(SourceError):
    """The backend rejected a query (bad PromQL, execution error)."""


class SimulationError(MonitorError):
    """The scenario simulator, promtool or the local Prometheus it starts failed."""


class StoreError(MonitorError):
    """The database could not be reached or refused a write."""


class ConflictError(StoreError):
    """A write conflicts with what is stored: a reused idempotency key, a lost lease."""


class NotFoundError(StoreError):
    """The deployment does not exist."""
