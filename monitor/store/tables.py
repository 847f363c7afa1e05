"""The database schema (SQLAlchemy Core). Alembic migrations under ``migrations/`` create it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("version", String(200), nullable=False),
    Column("baseline_version", String(200), nullable=False),
    Column("strategy", String(20), nullable=False),
    # Before/after strategies' baseline window (models.BaselineChoice); older rows were all previous.
    Column("baseline", String(20), nullable=False, server_default="previous"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("profile", String(500), nullable=False),
    Column("warmup_s", Float, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("min_duration_s", Float, nullable=False),
    Column("max_duration_s", Float, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("idempotency_key", String(200), unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("looks_done", Integer, nullable=False),
    Column("next_look_at", DateTime(timezone=True)),
    # A replica evaluates a deployment only while it holds an unexpired lease on it.
    Column("lease_owner", String(200)),
    Column("lease_expires_at", DateTime(timezone=True)),
    # Smoke probes as JSON (monitor.store.probe_rows: definitions without header values) and a
    # blue/green deployment's preview address; NULL for none (and for rows older than 0007).
    Column("probes", Text),
    Column("preview_url", Text),
    Index("ix_deployments_due", "status", "next_look_at"),
    Index("ix_deployments_service_env", "service", "environment"),
    Index("ix_deployments_updated_at", "updated_at"),
)

verdicts = Table(
    "verdicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False),
    Column("look", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("score", Float, nullable=False),
    Column("final", Boolean, nullable=False),
    Column("document", Text, nullable=False),
    # One verdict per look: a replica that lost its lease cannot write the same look twice.
    UniqueConstraint("deployment_id", "look", name="uq_verdicts_deployment_look"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("message", Text, nullable=False),
    # State a component keeps in the trail as fields (a rollback's starting revision), so it is
    # read back without parsing the message, which is for people.
    Column("data", JSON),
    Index("ix_events_deployment", "deployment_id", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text),
    # Set when a receiver's answer means retrying cannot help (e.g. 400, 401, 404): kept for an operator.
    Column("abandoned_at", DateTime(timezone=True)),
    Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),
)

# Per-minute aggregates of received logs and spans (payload: JSON), flushed by each replica's
# receiver; several rows for one key and minute are summed when read.
telemetry = Table(
    "telemetry",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),
    Column("service", String(200), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("version", String(200), nullable=False),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_telemetry_lookup", "kind", "service", "environment", "minute"),
)

# One row per smoke-probe attempt: inserted when a replica claims it (finished_at NULL), completed
# with the outcome; the unique key makes a claim something exactly one replica can win.
probe_attempts = Table(
    "probe_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False),
    Column("probe", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("ok", Boolean),
    Column("status", Integer),
    Column("latency_s", Float),
    Column("url", Text, nullable=False),  # redacted
    Column("body_head", Text, nullable=False, server_default=""),
    Column("failed", Text),
    Column("error", String(50)),
    Column("detail", Text, nullable=False, server_default=""),
    UniqueConstraint("deployment_id", "probe", "role", "seq", name="uq_probe_attempts_seq"),
    Index("ix_probe_attempts_deployment", "deployment_id"),
)
