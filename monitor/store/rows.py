"""Mapping between table rows and value objects."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, RowMapping

from monitor.models import BaselineChoice, Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.store.probe_rows import probes_from, probes_json
from monitor.store.records import StoredVerdict


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def aware_or_none(moment: datetime | None) -> datetime | None:
    """:func:`aware` of a nullable column."""
    return None if moment is None else aware(moment)


def stored_verdict(m: RowMapping, status: str = "status") -> StoredVerdict:
    """A :class:`StoredVerdict` from a ``verdicts`` row's mapping (``status`` names its status column)."""
    return StoredVerdict(m["look"], aware(m["at"]), m[status], m["score"], m["final"], m["document"])


def spec_values(spec: DeploymentSpec) -> dict[str, Any]:
    """Column values of a deployment spec."""
    return {
        "service": spec.service,
        "environment": spec.environment,
        "version": spec.version,
        "baseline_version": spec.baseline_version,
        "strategy": spec.strategy.value,
        "baseline": spec.baseline.value,
        "started_at": spec.started_at,
        "profile": spec.profile,
        "warmup_s": spec.warmup_s,
        "interval_s": spec.interval_s,
        "min_duration_s": spec.min_duration_s,
        "max_duration_s": spec.max_duration_s,
        "labels": dict(spec.labels),
        "probes": probes_json(spec.probes),
        "preview_url": spec.preview_url,
    }


def request_hash(spec: DeploymentSpec) -> str:
    """A stable digest of what was asked for: same key and same body means the same deployment."""
    values = spec_values(spec)
    values["started_at"] = aware(spec.started_at).isoformat()
    if spec.baseline is BaselineChoice.PREVIOUS:
        # The default leaves the digest as it was before the field existed: a registration retried
        # with its idempotency key across an upgrade still matches.
        del values["baseline"]
    for later in ("probes", "preview_url"):  # likewise: none leaves the digest as it was
        if values[later] is None:
            del values[later]
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def deployment(row: Row[Any]) -> Deployment:
    """A :class:`Deployment` from a ``deployments`` row."""
    m = row._mapping
    spec = DeploymentSpec(
        service=m["service"],
        environment=m["environment"],
        version=m["version"],
        baseline_version=m["baseline_version"],
        strategy=Strategy(m["strategy"]),
        baseline=BaselineChoice(m["baseline"]),
        started_at=aware(m["started_at"]),
        profile=m["profile"],
        warmup_s=m["warmup_s"],
        interval_s=m["interval_s"],
        min_duration_s=m["min_duration_s"],
        max_duration_s=m["max_duration_s"],
        labels=tuple(sorted((str(k), str(v)) for k, v in (m["labels"] or {}).items())),
        probes=probes_from(m["probes"]),
        preview_url=m["preview_url"],
    )
    return Deployment(
        id=m["id"],
        spec=spec,
        status=DeploymentStatus(m["status"]),
        status_reason=m["status_reason"],
        created_at=aware(m["created_at"]),
        updated_at=aware(m["updated_at"]),
        looks_done=m["looks_done"],
        next_look_at=aware_or_none(m["next_look_at"]),
    )
