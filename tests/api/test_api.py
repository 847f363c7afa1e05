"""The deployments API over a SQLite store and the real Prometheus of ``conftest.py``."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.prometheus

BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}


@pytest.fixture
async def client(make_client: Any) -> TestClient[Any, Any]:
    return await make_client(None)


async def test_register_read_list_cancel(client: TestClient[Any, Any]) -> None:
    created = await client.post("/api/v1/deployments", json=BODY)
    assert created.status == 201
    deployment = await created.json()
    assert created.headers["Location"] == f"/api/v1/deployments/{deployment['id']}"
    assert deployment["status"] == "pending" and deployment["strategy"] == "canary"
    read = await client.get(f"/api/v1/deployments/{deployment['id']}")
    assert (await read.json())["id"] == deployment["id"]
    listed = await (await client.get("/api/v1/deployments", params={"service": "checkout"})).json()
    assert [d["id"] for d in listed["deployments"]] == [deployment["id"]]
    cancelled = await client.post(
        f"/api/v1/deployments/{deployment['id']}/cancel", json={"reason": "rolled back"}
    )
    assert (await cancelled.json())["status"] == "cancelled"
    verdict = await (await client.get(f"/api/v1/deployments/{deployment['id']}/verdict")).json()
    assert verdict["verdict"] == "inconclusive" and verdict["summary"] == "cancelled: rolled back"


async def test_idempotency_key(client: TestClient[Any, Any]) -> None:
    headers = {"Idempotency-Key": "pipeline-run-7"}
    first = await client.post("/api/v1/deployments", json=BODY, headers=headers)
    again = await client.post("/api/v1/deployments", json=BODY, headers=headers)
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    other = await client.post("/api/v1/deployments", json={**BODY, "version": "v3"}, headers=headers)
    assert other.status == 409
    problem = await other.json()
    assert other.headers["Content-Type"].startswith("application/problem+json")
    assert problem["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**BODY, "colour": "red"}, "colour", "unknown field"),
        ({**BODY, "version": "v1"}, "baseline_version", "must differ"),
        ({**BODY, "strategy": "yolo"}, "strategy", "canary, bluegreen, rolling"),
        ({**BODY, "interval_s": "1m"}, "interval_s", "number of seconds"),
        ({**BODY, "interval_s": 1}, "interval_s", "between 10 and 3600"),
        ({**BODY, "started_at": "yesterday"}, "started_at", "RFC 3339"),
        ({**BODY, "profile": "nope"}, "profile", "otel-http, prometheus-http"),
        ({**BODY, "profile": "/etc/passwd"}, "profile", "not available"),  # never a file of the daemon's
        ({k: v for k, v in BODY.items() if k != "service"}, "service", "required"),
        ({**BODY, "labels": {"region": 1}}, "labels", "string label values"),
        (
            {**BODY, "labels": {"Team/": "x"}},
            "labels.Team/",
            "prefixed key",
        ),
        ({**BODY, "labels": {"team name": "x"}}, "labels.team name", "Prometheus label name"),
    ],
)
async def test_bad_bodies_name_the_field(
    client: TestClient[Any, Any], body: dict[str, Any], field: str, words: str
) -> None:
    response = await client.post("/api/v1/deployments", json=body)
    assert response.status == 400
    problem = await response.json()
    assert problem["field"] == field and words in problem["detail"]
    listed = await (await client.get("/api/v1/deployments")).json()
    assert listed["deployments"] == []  # nothing half-written


async def test_malformed_json_oversized_body_and_unknown_ids(client: TestClient[Any, Any]) -> None:
    malformed = await client.post(
        "/api/v1/deployments", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status == 400 and (await malformed.json())["field"] == "body"
    huge = await client.post("/api/v1/deployments", data=b"x" * (1024 * 1024 + 1))
    assert huge.status == 413
    assert huge.headers["Content-Type"].startswith("application/problem+json")
    missing = await client.get("/api/v1/deployments/no-such-id")
    assert missing.status == 404 and "no-such-id" in (await missing.json())["detail"]
    bad_wait = await client.get("/api/v1/deployments/no-such-id/verdict", params={"wait_s": "601"})
    assert bad_wait.status == 400


async def test_unknown_query_parameters_are_named(client: TestClient[Any, Any]) -> None:
    """A misspelt filter is a 400 naming it, not a list of every service; routes without
    parameters take none; the parameters a route reads still work."""
    typo = await client.get("/api/v1/deployments", params={"servce": "checkout"})
    problem = await typo.json()
    assert typo.status == 400 and problem["field"] == "servce"
    assert "it takes service, status" in problem["detail"]
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    none = await client.post(f"/api/v1/deployments/{created['id']}/cancel", params={"verbose": "1"})
    assert none.status == 400 and (await none.json())["detail"].endswith("it takes none")
    signed = await client.get(f"/api/v1/deployments/{created['id']}", params={"verbose": "1"})
    assert signed.status == 400 and (await signed.json())["detail"].endswith("it takes exp, sig")  # a link's
    known = await client.get("/api/v1/deployments", params={"service": "checkout", "status": ""})
    assert known.status == 200
    assert (await client.get("/healthz", params={"probe": "1"})).status == 200  # not an API route


async def test_verdict_before_the_first_look_is_running(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    response = await client.get(f"/api/v1/deployments/{created['id']}/verdict", params={"wait_s": "1"})
    verdict = await response.json()
    assert verdict["verdict"] == "running" and verdict["checks"] == []
    assert verdict["summary"].startswith("waiting for the first look")


async def test_health_and_readiness(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_environment_defaults_and_unknown_environments(client: TestClient[Any, Any]) -> None:
    production = await (await client.post("/api/v1/deployments", json=BODY)).json()
    assert (production["warmup_s"], production["max_duration_s"], production["min_duration_s"]) == (
        120,
        3600,
        900,
    )
    development = await (
        await client.post("/api/v1/deployments", json={**BODY, "environment": "development"})
    ).json()
    assert (development["interval_s"], development["max_duration_s"]) == (30, 600)
    explicit = await (await client.post("/api/v1/deployments", json={**BODY, "max_duration_s": 1200})).json()
    assert explicit["max_duration_s"] == 1200 and explicit["min_duration_s"] == 900
    typo = await client.post("/api/v1/deployments", json={**BODY, "environment": "prodution"})
    assert typo.status == 400
    problem = await typo.json()
    assert (
        problem["field"] == "environment" and "development, production, staging, testing" in problem["detail"]
    )


async def test_the_audit_trail_is_served_as_json(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    await client.post(f"/api/v1/deployments/{created['id']}/cancel", json={"reason": "wrong build"})
    answer = await client.get(f"/api/v1/deployments/{created['id']}/events")
    assert answer.status == 200
    trail = await answer.json()
    assert trail["deployment_id"] == created["id"]
    assert [e["kind"] for e in trail["events"]] == ["registered", "cancelled"]
    assert "wrong build" in trail["events"][1]["message"]
    assert (await client.get("/api/v1/deployments/nope/events")).status == 404
