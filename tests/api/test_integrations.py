"""Argo Rollouts' web metric and Flagger's webhooks, with the documented request shapes.

No Argo Rollouts or Flagger controller runs here: the requests are built from their documented
contracts (``docs/integrations.md``), and the checks are the decisions those
controllers take from our answers (2xx-only success for Argo, ``> 202`` = failure for Flagger).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.api.keys import STORE
from monitor.config import TokenSpec
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


# Flagger's question per hook: healthy so far (rollout), may it be promoted, roll back now?
HOOK_STATUS = {
    "running": {"rollout": 200, "confirm-promotion": 412, "rollback": 412},
    "pass": {"rollout": 200, "confirm-promotion": 200, "rollback": 412},
    "marginal": {"rollout": 200, "confirm-promotion": 412, "rollback": 412},
    "fail": {"rollout": 412, "confirm-promotion": 412, "rollback": 200},
    "inconclusive": {"rollout": 412, "confirm-promotion": 412, "rollback": 412},
}


@pytest.mark.parametrize("verdict", ["pass", "marginal", "fail", "inconclusive"])
async def test_each_flagger_hook_answers_its_own_question(client: TestClient[Any, Any], verdict: str) -> None:
    created = await (
        await client.post("/api/v1/deployments", json={**BODY, "started_at": "2026-01-01T00:00:00Z"})
    ).json()
    for hook, status in HOOK_STATUS["running"].items():
        answer = await client.post(f"/api/v1/integrations/flagger/{hook}", json=FLAGGER)
        assert answer.status == status, hook  # <= 202: Flagger counts it as a success
    await _final(client, created["id"], verdict)
    for hook, status in HOOK_STATUS[verdict].items():
        answer = await client.post(f"/api/v1/integrations/flagger/{hook}", json=FLAGGER)
        body = await answer.json()
        assert answer.status == status, hook
        assert body["verdict"] == verdict and body["flagger"]["name"] == "checkout"


async def test_flagger_may_send_a_read_token_in_its_metadata(make_client: Any) -> None:
    reader = TokenSpec("flagger", ("read",), "r" * 32)
    client = await make_client([reader, TokenSpec("ci", ("deploy",), "d" * 32)])
    registered = await client.post(
        "/api/v1/deployments", json=BODY, headers={"Authorization": f"Bearer {'d' * 32}"}
    )
    assert registered.status == 201
    with_token = {**FLAGGER, "metadata": {**FLAGGER["metadata"], "token": "r" * 32}}
    answer = await client.post("/api/v1/integrations/flagger/rollout", json=with_token)
    assert answer.status == 200 and "r" * 32 not in await answer.text()
    wrong = {**FLAGGER, "metadata": {**FLAGGER["metadata"], "token": "x" * 32}}
    assert (await client.post("/api/v1/integrations/flagger/rollout", json=wrong)).status == 401
    assert (await client.post("/api/v1/integrations/flagger/rollout", json=FLAGGER)).status == 401
    # The body token only opens Flagger's hooks, never a write.
    assert (
        await client.post("/api/v1/deployments", json={**BODY, "metadata": {"token": "d" * 32}})
    ).status == 401


async def test_flagger_hook_needs_the_service_in_its_metadata(client: TestClient[Any, Any]) -> None:
    answer = await client.post("/api/v1/integrations/flagger/rollout", json={**FLAGGER, "metadata": {}})
    assert answer.status == 400 and (await answer.json())["field"] == "metadata.service"
    unknown_hook = await client.post("/api/v1/integrations/flagger/launch", json=FLAGGER)
    assert unknown_hook.status == 404


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({k: v for k, v in FLAGGER.items() if k != "metadata"}, "metadata", "set the webhook's metadata"),
        ({**FLAGGER, "metadata": "checkout"}, "metadata", "must be a JSON object"),
        ({**FLAGGER, "metadata": {"service": 7}}, "metadata.service", "must be a string, got 7"),
        (  # a token is never echoed, even one of the wrong type
            {**FLAGGER, "metadata": {"service": "checkout", "token": 123456789}},
            "metadata.token",
            "must be a string, got a number",
        ),
        ({**FLAGGER, "name": ["checkout"]}, "name", "must be a string"),
        (["checkout"], "body", "must be a JSON object"),
    ],
)
async def test_a_flagger_payload_at_fault_is_a_400_naming_the_field(
    client: TestClient[Any, Any], payload: Any, field: str, words: str
) -> None:
    answer = await client.post("/api/v1/integrations/flagger/rollout", json=payload)
    problem = await answer.json()
    assert answer.status == 400 and problem["field"] == field and words in problem["detail"]


async def test_flagger_fields_and_metadata_keys_the_monitor_does_not_use_are_let_through(
    client: TestClient[Any, Any],
) -> None:
    await client.post("/api/v1/deployments", json=BODY)
    payload = {**FLAGGER, "type": "rollout", "metadata": {**FLAGGER["metadata"], "cmd": "hey -z 1m"}}
    answer = await client.post("/api/v1/integrations/flagger/rollout", json=payload)
    assert answer.status == 200 and "hey -z" not in await answer.text()
