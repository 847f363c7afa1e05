"""One probe attempt's outcome, typed: what the runner returns, the judge and the store read."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class ErrorKind(enum.StrEnum):
    """Why an attempt got no answer to judge (or was not made)."""

    TIMEOUT = "timeout"
    TLS = "tls"
    DNS = "dns"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION = "connection"
    HOST_NOT_ALLOWED = "host_not_allowed"
    REDIRECT_REFUSED = "redirect_refused"


@dataclass(frozen=True)
class ProbeResult:
    """One attempt: ok, or the answer's status, latency and body head with the assertion it failed,
    or the error kind with a detail naming it (e.g. ``certificate verify failed``)."""

    probe: str
    url: str  # redacted
    ok: bool
    status: int | None = None
    latency_s: float | None = None
    body_head: str = ""
    failed: str | None = None  # the assertion that failed, in words
    error: ErrorKind | None = None
    detail: str = ""
    at: datetime | None = None  # when the attempt started (UTC)
    role: str = "canary"  # which version answered: "canary" (the new one) or "baseline"
