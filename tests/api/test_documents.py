"""What the API and the gate show while a look waits on a failing backend (pure: no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from monitor.api.documents import deployment_verdict_document
from monitor.commands.gate import _worst
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.store import StoredVerdict

AT = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, AT, "otel-http", 0, 60, 600, 1800
)
TROUBLE = "look 1 of 30 cannot be judged: http_error_ratio: Prometheus unreachable (connection refused)"


def _deployment(status: DeploymentStatus, reason: str) -> Deployment:
    return Deployment("d-1", SPEC, status, reason, AT, AT, looks_done=0, next_look_at=AT)


def test_before_the_first_look_the_summary_names_the_trouble() -> None:
    document = deployment_verdict_document(_deployment(DeploymentStatus.PENDING, TROUBLE), None)
    assert document["verdict"] == "running"
    assert document["summary"] == f"waiting for the first look: {TROUBLE}"
    assert _worst(document) == document["summary"]  # the gate's progress line
    calm = deployment_verdict_document(_deployment(DeploymentStatus.PENDING, ""), None)
    assert calm["summary"].startswith("waiting for the first look at 2026-01-01T00:00:00Z")


def test_after_a_look_the_interim_summary_adds_the_trouble_and_a_final_one_stands() -> None:
    checks = [{"name": "http_latency", "classification": "pass", "message": "ok"}]
    body = {"verdict": "running", "summary": "running after 5m: score 1 so far", "checks": checks}
    interim = StoredVerdict(5, AT, "running", 1.0, False, json.dumps(body))
    document = deployment_verdict_document(_deployment(DeploymentStatus.RUNNING, TROUBLE), interim)
    assert document["summary"] == f"running after 5m: score 1 so far; now {TROUBLE}"
    assert document["waiting_on"] == TROUBLE and _worst(document) == TROUBLE
    # The gate reads the field, not the prose: a summary that happens to say "; now" is not trouble.
    assert _worst({**document, "waiting_on": None}) == "http_latency: ok"
    final = StoredVerdict(30, AT, "fail", 0.0, True, json.dumps({**body, "verdict": "fail"}))
    ended = deployment_verdict_document(_deployment(DeploymentStatus.FAIL, "verdict fail"), final)
    assert ended["summary"] == body["summary"] and "waiting_on" not in ended
