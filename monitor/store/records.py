"""Value types the store returns besides :class:`~monitor.models.Deployment`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import Deployment


@dataclass(frozen=True)
class AuditEvent:
    """One entry of a deployment's audit trail: who did what, or which verdict changed.

    ``message`` is for people; ``data`` holds what a component reads back (JSON values).
    """

    at: datetime
    kind: str
    actor: str
    message: str
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxItem:
    """A notification to deliver after a final verdict, written in the verdict's transaction."""

    kind: str
    idempotency_key: str
    payload_json: str


@dataclass(frozen=True)
class StoredVerdict:
    """A verdict document as stored for one look."""

    look: int
    at: datetime
    status: str
    score: float
    final: bool
    document_json: str


@dataclass(frozen=True)
class LookScore:
    """One look's verdict and score, for the history of a deployment."""

    look: int
    at: datetime
    status: str
    score: float


@dataclass(frozen=True)
class Notification:
    """One outbox item of a deployment and how its delivery stands (for the report's banner).

    ``delivered_at`` and ``abandoned_at`` are None while the item waits for (another) attempt;
    ``last_error`` is the receiver's answer to the latest failed attempt.
    """

    kind: str
    idempotency_key: str
    created_at: datetime
    attempts: int
    delivered_at: datetime | None
    abandoned_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Delivery:
    """An outbox item claimed for one delivery attempt."""

    id: int
    deployment_id: str
    kind: str
    idempotency_key: str
    payload_json: str
    attempts: int


@dataclass(frozen=True)
class TelemetryRow:
    """One flushed aggregate: logs or spans of a service's version in one minute (payload JSON)."""

    kind: str
    service: str
    environment: str
    version: str
    minute: datetime
    payload_json: str


@dataclass(frozen=True)
class RefusedRow:
    """A telemetry row the database refused as data (a NUL byte, a value too long), with its reason."""

    row: TelemetryRow
    reason: str


@dataclass(frozen=True)
class ProbeClaim:
    """A probe attempt's row as claimed or seen: which attempt (``seq`` of ``probe`` against
    ``role``), when its claim began, and whether its outcome is in.

    ``id`` and ``started_at`` together are the claim: finishing or retaking it is conditional on
    both, so a replica whose claim was retaken cannot overwrite the attempt made in its place.
    """

    id: int
    deployment_id: str
    probe: str
    role: str
    seq: int
    started_at: datetime
    finished: bool = False


@dataclass(frozen=True)
class ProbeProgress:
    """How far the attempts of one probe against one role of a deployment have got, in one row of
    a grouped query: the highest ``seq`` claimed, how many claims are unfinished and when the
    oldest of those began (None: none is)."""

    deployment_id: str
    probe: str
    role: str
    last_seq: int
    unfinished: int
    oldest_unfinished_at: datetime | None


@dataclass(frozen=True)
class ProbingDeployment:
    """A non-final deployment with smoke probes, and the names of those whose headers are the
    config's to re-attach (their values are never stored)."""

    deployment: Deployment
    config_probes: frozenset[str] = frozenset()
