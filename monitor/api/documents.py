"""JSON documents the API returns for deployments, and their verdict documents (even before the first
look, built like every other verdict document by :func:`monitor.report.verdict_document`)."""

from __future__ import annotations

import json
from typing import Any

from monitor.models import Deployment, DeploymentStatus, Verdict, VerdictStatus, VersionWindow, Window
from monitor.redact import redact_url
from monitor.report import verdict_document
from monitor.store import StoredVerdict
from monitor.timeparse import format_time


def deployment_document(deployment: Deployment) -> dict[str, Any]:
    """A deployment as the API shows it."""
    spec = deployment.spec
    base = f"/api/v1/deployments/{deployment.id}"
    return {
        "id": deployment.id,
        "service": spec.service,
        "environment": spec.environment,
        "version": spec.version,
        "baseline_version": spec.baseline_version,
        "strategy": spec.strategy.value,
        "baseline": spec.baseline.value,
        "started_at": format_time(spec.started_at),
        "profile": spec.profile,
        "warmup_s": spec.warmup_s,
        "interval_s": spec.interval_s,
        "min_duration_s": spec.min_duration_s,
        "max_duration_s": spec.max_duration_s,
        "labels": dict(spec.labels),
        "probes": [{"name": p.name, "method": p.method, "url": redact_url(p.url)} for p in spec.probes],
        "preview_url": None if spec.preview_url is None else redact_url(spec.preview_url),
        "status": deployment.status.value,
        "status_reason": deployment.status_reason,
        "looks_done": deployment.looks_done,
        "next_look_at": format_time(deployment.next_look_at) if deployment.next_look_at else None,
        "created_at": format_time(deployment.created_at),
        "updated_at": format_time(deployment.updated_at),
        "links": {"self": base, "verdict": f"{base}/verdict", "cancel": f"{base}/cancel"},
    }


def verdict_json(deployment: Deployment, stored: StoredVerdict | None) -> tuple[str, str]:
    """The verdict (``running``, ``pass``…) and the verdict JSON text, without parsing what is stored."""
    if stored is not None and (stored.final or deployment.status is not DeploymentStatus.CANCELLED):
        if stored.final or not deployment.status_reason:
            return stored.status, stored.document_json
        # A later look is waiting on a failing backend: the summary says so while it lasts.
        interim: dict[str, Any] = json.loads(stored.document_json)
        interim["summary"] = f"{interim.get('summary', '')}; now {deployment.status_reason}"
        interim["waiting_on"] = deployment.status_reason
        return stored.status, json.dumps(interim)
    verdict = _before_first_look(deployment)
    return verdict.status.value, json.dumps(verdict_document(verdict))


def deployment_verdict_document(deployment: Deployment, stored: StoredVerdict | None) -> dict[str, Any]:
    """The verdict document (one schema with the CLI's) of a deployment, even before its first look.

    A cancelled deployment reads as ``inconclusive`` with the reason: the verdict schema has no
    ``cancelled``, and a pipeline must not read a cancelled analysis as a pass.
    """
    document: dict[str, Any] = json.loads(verdict_json(deployment, stored)[1])
    return document


def _before_first_look(deployment: Deployment) -> Verdict:
    spec = deployment.spec
    window = Window(spec.started_at, spec.started_at)
    cancelled = deployment.status is DeploymentStatus.CANCELLED
    first_look = format_time(deployment.next_look_at) if deployment.next_look_at else "soon"
    waiting = (
        f"waiting for the first look: {deployment.status_reason}"
        if deployment.status_reason
        else f"waiting for the first look at {first_look}"
    )
    return Verdict(
        service=spec.service,
        environment=spec.environment,
        canary=VersionWindow(spec.version, window),
        baseline=VersionWindow(spec.baseline_version, window),
        status=VerdictStatus.INCONCLUSIVE if cancelled else VerdictStatus.RUNNING,
        score=0.0,
        summary=f"cancelled: {deployment.status_reason}" if cancelled else waiting,
        checks=(),
        decided_at=deployment.updated_at if cancelled else None,
        deployment_id=deployment.id,
    )
