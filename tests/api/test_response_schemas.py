"""Documents the API really serves conform to the OpenAPI components generated from the models;
a cancel body at fault is a 400 naming the field (Flagger's payload: ``test_integrations.py``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from monitor.config import TokenSpec

pytestmark = pytest.mark.prometheus

SPEC = json.loads(resources.files("monitor.api").joinpath("openapi.json").read_text())
BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}
FLAGGER = {"name": "checkout", "metadata": {"service": "checkout"}}


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema node as JSON Schema 2020-12: ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: {name: _json_schema(s) for name, s in value.items()}
        if key == "properties"
        else _json_schema(value)
        for key, value in node.items()
    }
    return {"anyOf": [node, {"type": "null"}]} if node.pop("nullable", False) else node


COMPONENTS = {name: _json_schema(schema) for name, schema in SPEC["components"]["schemas"].items()}


def _errors(document: Any, component: str) -> list[str]:
    schema = {"$ref": f"#/components/schemas/{component}", "components": {"schemas": COMPONENTS}}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


async def _conforms(response: Any, status: int, component: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(await response.text())
    assert response.status == status, document
    assert _errors(document, component) == [], component
    return document


@pytest.fixture
async def client(make_client: Any) -> TestClient[Any, Any]:
    return await make_client(None)


async def test_every_json_document_of_a_deployment_conforms(client: TestClient[Any, Any]) -> None:
    body = {**BODY, "labels": {"region": "eu-1"}, "started_at": "2026-01-01T00:00:00Z"}
    created = await _conforms(await client.post("/api/v1/deployments", json=body), 201, "Deployment")
    path = f"/api/v1/deployments/{created['id']}"
    assert created["next_look_at"] is not None and created["labels"] == {"region": "eu-1"}
    await _conforms(await client.get(path), 200, "Deployment")
    await _conforms(await client.get("/api/v1/deployments"), 200, "DeploymentList")
    await _conforms(await client.get(f"{path}/verdict"), 200, "Verdict")
    flagger = await client.post("/api/v1/integrations/flagger/rollout", json=FLAGGER)
    assert (await _conforms(flagger, 200, "FlaggerVerdict"))["flagger"]["name"] == "checkout"
    argo = await client.get("/api/v1/integrations/argo-rollouts/verdict", params={"service": "checkout"})
    await _conforms(argo, 200, "Verdict")
    cancelled = await _conforms(
        await client.post(f"{path}/cancel", json={"reason": "rolled back"}), 200, "Deployment"
    )
    assert cancelled["status"] == "cancelled"
    trail = await _conforms(await client.get(f"{path}/events"), 200, "Events")
    assert [e["kind"] for e in trail["events"]] == ["registered", "cancelled"]
    promotion = await client.post("/api/v1/integrations/flagger/confirm-promotion", json=FLAGGER)
    assert (await _conforms(promotion, 412, "FlaggerVerdict"))["verdict"] == "inconclusive"
    # The check could fail: a member the model does not know is a finding.
    assert _errors({**created, "colour": "red"}, "Deployment") != []
    assert _errors({**trail, "events": [{"at": "now"}]}, "Events") != []


async def test_every_problem_conforms(make_client: Any) -> None:
    client = await make_client([TokenSpec("reader", ("read",), "r" * 32)])
    reader = {"Authorization": f"Bearer {'r' * 32}"}
    await _conforms(await client.get("/api/v1/deployments"), 401, "Problem")
    forbidden = await client.post("/api/v1/deployments", json=BODY, headers=reader)
    assert "field" not in await _conforms(forbidden, 403, "Problem")
    await _conforms(await client.get("/api/v1/deployments/nope", headers=reader), 404, "Problem")
    bad_wait = await client.get("/api/v1/deployments/nope/verdict", params={"wait_s": "x"}, headers=reader)
    assert (await _conforms(bad_wait, 400, "Problem"))["field"] == "wait_s"
    assert _errors(
        {"type": "about:blank", "title": "x", "status": 200, "detail": "d", "instance": "/"}, "Problem"
    )


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"reason": 42}, "reason", "must be a string, got 42"),
        ({"reasn": "wrong build"}, "reasn", "unknown field 'reasn'; allowed: reason"),
        ("wrong build", "body", "must be a JSON object"),
    ],
)
async def test_a_cancel_body_at_fault_is_a_400_and_cancels_nothing(
    client: TestClient[Any, Any], body: Any, field: str, words: str
) -> None:
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    path = f"/api/v1/deployments/{created['id']}"
    problem = await _conforms(await client.post(f"{path}/cancel", json=body), 400, "Problem")
    assert problem["field"] == field and words in problem["detail"]
    assert (await (await client.get(path)).json())["status"] == "pending"
    assert (await client.post(f"{path}/cancel")).status == 200  # the body is optional


@pytest.mark.parametrize(
    ("path", "params", "field", "words"),
    [
        ("/api/v1/deployments", {"status": "done"}, "status", "one of pending, running, pass"),
        ("/api/v1/deployments/d-1/verdict", {"wait_s": "nan"}, "wait_s", "between 0 and 600"),
        (
            "/api/v1/integrations/argo-rollouts/verdict",
            {"environment": "production"},
            "deployment_id",
            "or service",
        ),
    ],
)
async def test_a_query_parameter_at_fault_is_a_400_naming_it(
    client: TestClient[Any, Any], path: str, params: dict[str, str], field: str, words: str
) -> None:
    problem = await _conforms(await client.get(path, params=params), 400, "Problem")
    assert problem["field"] == field and words in problem["detail"]


async def test_query_parameters_a_route_does_not_read_are_a_problem(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/api/v1/deployments", json=BODY)).json()
    listed = await client.get("/api/v1/deployments", params={"status": ""})  # ?status= is any
    assert [d["id"] for d in (await _conforms(listed, 200, "DeploymentList"))["deployments"]] == [
        created["id"]
    ]
    params = {"deployment_id": created["id"], "cache": "no"}
    refused = await client.get("/api/v1/integrations/argo-rollouts/verdict", params=params)
    assert (await _conforms(refused, 400, "Problem"))["field"] == "cache"
