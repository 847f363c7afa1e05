"""Argo Rollouts' web metric and Flagger's webhooks, with the documented request shapes.

No Argo Rollouts or Flagger controller runs here: the requests are built from their documented
contracts (``shared/reference/contracts.md`` 5.1 and 5.2), and the checks are the decisions those
controllers take from our answers (2xx-only success for Argo, ``> 202`` = failure for Flagger).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.api.keys import STORE
from monitor.store import StoredVerdict

pytestmark = pytest.mark.prometheus

BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}
FLAGGER = {
    "name": "checkout",
    "namespace": "shop",
    "phase": "Progressing",
    "checksum": "85d557f47b",
    "metadata": {"service": "checkout", "environment": "production"},
}


@pytest.fixture
async def client(make_client: Any) -> TestClient[Any, Any]:
    return await make_client(None)


async def _final(client: TestClient[Any, Any], deployment_id: str, status: str) -> None:
    """Record a final verdict as the engine would (claiming the lease first)."""
    store = client.app[STORE]
    await store.claim_due("engine", lease_s=30)
    document = f'{{"deployment_id": "{deployment_id}", "verdict": "{status}", "checks": []}}'
    verdict = StoredVerdict(1, datetime.now(UTC), status, 0.0, True, document)
    await store.record_verdict(deployment_id, owner="engine", verdict=verdict, next_look_at=None)


async def test_argo_web_metric_is_2xx_with_a_stable_verdict_field(client: TestClient[Any, Any]) -> None:
    created = await (
        await client.post("/api/v1/deployments", json={**BODY, "started_at": "2026-01-01T00:00:00Z"})
    ).json()
    params = {"service": "checkout", "environment": "production", "version": "v2"}
    running = await client.get("/api/v1/integrations/argo-rollouts/verdict", params=params)
    assert running.status == 200 and (await running.json())["verdict"] == "running"
    await _final(client, created["id"], "fail")
    failed = await client.get(
        "/api/v1/integrations/argo-rollouts/verdict", params={"deployment_id": created["id"]}
    )
    # A failed verdict is a 200 with verdict "fail": Argo's failureCondition fails the analysis
    # instead of counting a measurement Error.
    assert failed.status == 200 and (await failed.json())["verdict"] == "fail"
    unknown = await client.get("/api/v1/integrations/argo-rollouts/verdict", params={"service": "nope"})
    assert unknown.status == 404


@pytest.mark.parametrize(("verdict", "status"), [("pass", 200), ("fail", 412), ("inconclusive", 412)])
async def test_flagger_hooks_fail_only_on_a_blocking_verdict(
    client: TestClient[Any, Any], verdict: str, status: int
) -> None:
    created = await (
        await client.post("/api/v1/deployments", json={**BODY, "started_at": "2026-01-01T00:00:00Z"})
    ).json()
    while_running = await client.post("/api/v1/integrations/flagger/rollout", json=FLAGGER)
    assert while_running.status == 200  # <= 202: Flagger counts it as a success
    await _final(client, created["id"], verdict)
    for hook in ("rollout", "confirm-promotion"):
        answer = await client.post(f"/api/v1/integrations/flagger/{hook}", json=FLAGGER)
        assert answer.status == status
        assert (await answer.json())["verdict"] == verdict


async def test_flagger_hook_needs_the_service_in_its_metadata(client: TestClient[Any, Any]) -> None:
    answer = await client.post("/api/v1/integrations/flagger/rollout", json={**FLAGGER, "metadata": {}})
    assert answer.status == 400 and (await answer.json())["field"] == "metadata.service"
    unknown_hook = await client.post("/api/v1/integrations/flagger/launch", json=FLAGGER)
    assert unknown_hook.status == 404
