"""Hostile bodies on every JSON route: each is a 400 problem naming the field, never a 500 or a 503.

Regressions of the hardening probe: JSON nested 1,000 deep, lone surrogates and NUL bytes in text,
absurd start times, unbounded labels and label keys that only matched a ``$``-anchored pattern.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.api.requests import MAX_LABELS
from monitor.config import TokenSpec

pytestmark = pytest.mark.prometheus

BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}
DEEP = "[" * 1000 + "]" * 1000
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(make_client: Any) -> TestClient[Any, Any]:
    return await make_client(None)


async def _nothing_registered(client: TestClient[Any, Any]) -> None:
    listed = await (await client.get("/api/v1/deployments")).json()
    assert listed["deployments"] == []


@pytest.mark.parametrize(
    "path",
    ["/api/v1/deployments", "/api/v1/deployments/{id}/cancel", "/api/v1/integrations/flagger/rollout"],
)
async def test_deep_json_is_a_400(client: TestClient[Any, Any], path: str) -> None:
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    path = path.format(id=created["id"])
    shallow = json.dumps({"reason": json.loads("[" * 30 + "]" * 30)})
    assert (await client.post(path, data=shallow, headers=JSON)).status in (200, 400)  # 30 levels parse
    answer = await client.post(path, data=DEEP, headers=JSON)
    assert answer.status == 400
    problem = await answer.json()
    assert problem["field"] == "body" and "nested too deeply" in problem["detail"]


async def test_deep_json_to_flagger_without_a_token_is_refused_not_crashed(make_client: Any) -> None:
    client = await make_client([TokenSpec("flagger", ("read",), "r" * 32)])
    answer = await client.post("/api/v1/integrations/flagger/rollout", data=DEEP, headers=JSON)
    assert answer.status == 401  # the token is looked for in the body; a body it cannot read has none


async def test_deep_otlp_json_is_a_400(client: TestClient[Any, Any]) -> None:
    body = '{"resourceSpans": ' + DEEP + "}"
    answer = await client.post("/v1/traces", data=body, headers=JSON)
    assert answer.status == 400 and "nested" in (await answer.json())["message"]


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ('"service": "check\\ud800out"', "service", "lone surrogate"),
        ('"service": "check\\u0000out"', "service", "NUL"),
        ('"service": "checkout\\n"', "service", "trailing whitespace"),
        ('"labels": {"region": "eu\\udfff"}', "labels.region", "lone surrogate"),
        ('"labels": {"region\\n": "eu"}', "labels.region\n", "Prometheus label name"),
    ],
)
async def test_text_that_no_store_or_query_accepts_is_a_400(
    client: TestClient[Any, Any], raw: str, field: str, words: str
) -> None:
    fields = {k: v for k, v in BODY.items() if f'"{k}"' not in raw}
    body = json.dumps(fields)[:-1] + ", " + raw + "}"
    answer = await client.post("/api/v1/deployments", data=body, headers=JSON)
    assert answer.status == 400
    problem = await answer.json()
    assert problem["field"] == field and words in problem["detail"]
    await _nothing_registered(client)


@pytest.mark.parametrize(
    "started_at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2000-01-01T00:00:00Z"]
)
async def test_start_times_far_from_now_are_refused(client: TestClient[Any, Any], started_at: str) -> None:
    answer = await client.post("/api/v1/deployments", json={**BODY, "started_at": started_at})
    assert answer.status == 400
    problem = await answer.json()
    assert problem["field"] == "started_at" and "365 days" in problem["detail"]
    await _nothing_registered(client)


async def test_labels_are_bounded(client: TestClient[Any, Any]) -> None:
    many = {f"l{i}": "x" for i in range(MAX_LABELS + 1)}
    answer = await client.post("/api/v1/deployments", json={**BODY, "labels": many})
    assert answer.status == 400 and f"at most {MAX_LABELS} labels" in (await answer.json())["detail"]
    long_value = await client.post("/api/v1/deployments", json={**BODY, "labels": {"region": "e" * 201}})
    assert long_value.status == 400 and (await long_value.json())["field"] == "labels.region"
    enough = {f"l{i}": "x" for i in range(MAX_LABELS)}
    assert (await client.post("/api/v1/deployments", json={**BODY, "labels": enough})).status == 201


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"service": "checkout", "version": ["a"]}, "metadata.version"),
        ({"service": "checkout", "environment": {"a": 1}}, "metadata.environment"),
        ({"service": "check\udc00out"}, "metadata.service"),
    ],
)
async def test_flagger_metadata_of_the_wrong_type_is_a_400(
    client: TestClient[Any, Any], metadata: dict[str, Any], field: str
) -> None:
    body = {"name": "checkout", "namespace": "shop", "phase": "Progressing", "metadata": metadata}
    raw = json.dumps(body)  # json.dumps escapes the lone surrogate as \udc00, as a hostile client would
    answer = await client.post("/api/v1/integrations/flagger/rollout", data=raw, headers=JSON)
    assert answer.status == 400
    assert (await answer.json())["field"] == field


async def test_a_cancel_reason_is_bounded_and_checked(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    path = f"/api/v1/deployments/{created['id']}/cancel"
    bad = await client.post(path, data='{"reason": "a\\ud800"}', headers=JSON)
    assert bad.status == 400 and (await bad.json())["field"] == "reason"
    long = await client.post(path, json={"reason": "r" * 5000})
    assert long.status == 200
    verdict = await (await client.get(f"/api/v1/deployments/{created['id']}/verdict")).json()
    assert len(verdict["summary"]) < 600


async def test_an_idempotency_key_that_does_not_fit_is_a_400(client: TestClient[Any, Any]) -> None:
    for key in ("k" * 201, "tab\there"):
        answer = await client.post("/api/v1/deployments", json=BODY, headers={"Idempotency-Key": key})
        assert answer.status == 400 and (await answer.json())["field"] == "Idempotency-Key"
    await _nothing_registered(client)
