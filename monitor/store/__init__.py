"""Persistence: deployments, verdicts per look, the audit trail, the notification outbox and the
smoke probes' attempts.

SQLAlchemy 2 (async), SQLite in WAL mode by default and PostgreSQL for several replicas; the
schema comes from the Alembic migrations in ``migrations/``, applied by :meth:`Store.open`.
Several replicas share the work through leases: a replica evaluates a deployment only while it
holds an unexpired lease, claimed with a conditional UPDATE that exactly one replica can win.
"""

from monitor.store.records import (
    AuditEvent,
    Delivery,
    LookScore,
    Notification,
    OutboxItem,
    ProbeClaim,
    ProbeProgress,
    ProbingDeployment,
    RefusedRow,
    StoredVerdict,
    TelemetryRow,
)
from monitor.store.repository import Store

__all__ = [
    "AuditEvent",
    "Delivery",
    "LookScore",
    "Notification",
    "OutboxItem",
    "ProbeClaim",
    "ProbeProgress",
    "ProbingDeployment",
    "RefusedRow",
    "Store",
    "StoredVerdict",
    "TelemetryRow",
]
