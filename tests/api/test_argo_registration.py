"""Argo Rollouts' web metric registering the deployment on its first call, against the real app.

No Argo Rollouts controller runs here: the requests are the ones ``examples/argo-rollouts`` makes
(its web metric's URL, every interval), and the checks are what Argo decides from the answers
(any 2xx is a measurement, a non-2xx an Error; ``docs/integrations.md``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.api.keys import STORE
from monitor.config import TokenSpec
from monitor.models import Strategy

pytestmark = pytest.mark.prometheus

URL = "/api/v1/integrations/argo-rollouts/verdict"
ASK = {
    "service": "checkout",
    "environment": "production",
    "version": "v2",
    "baseline_version": "v1",
    "strategy": "canary",
}
READER, DEPLOYER = (
    TokenSpec("argo-read", ("read",), "r" * 32),
    TokenSpec("argo", ("read", "deploy"), "d" * 32),
)


def _bearer(token: TokenSpec) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.secret}"}


@pytest.fixture
async def client(make_client: Any) -> TestClient[Any, Any]:
    made: TestClient[Any, Any] = await make_client([READER, DEPLOYER])
    return made


async def test_the_first_call_registers_and_later_calls_read_the_same_deployment(
    client: TestClient[Any, Any],
) -> None:
    first = await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))
    assert first.status == 201  # a 2xx: Argo counts a measurement, not an Error
    body = await first.json()
    assert body["verdict"] == "running"
    deployment_id = body["deployment_id"]
    assert first.headers["Location"] == f"/api/v1/deployments/{deployment_id}"
    (deployment,) = await client.app[STORE].list_deployments(service="checkout")
    assert deployment.id == deployment_id and deployment.spec.baseline_version == "v1"
    assert deployment.spec.strategy is Strategy.CANARY and deployment.spec.environment == "production"
    # The environment's defaults fill the rest, as for POST /api/v1/deployments.
    assert deployment.spec.max_duration_s == 3600.0 and deployment.spec.profile == "otel-http"

    for _ in range(2):
        again = await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))
        assert again.status == 200 and "Location" not in again.headers
        assert (await again.json())["deployment_id"] == deployment_id
    assert len(await client.app[STORE].list_deployments(service="checkout")) == 1

    # A final verdict keeps answering (a cancelled deployment reads inconclusive): the same version
    # and baseline are not analysed again behind the pipeline's back.
    cancel = await client.post(f"/api/v1/deployments/{deployment_id}/cancel", headers=_bearer(DEPLOYER))
    assert cancel.status == 200
    final = await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))
    assert final.status == 200 and (await final.json())["verdict"] == "inconclusive"
    assert len(await client.app[STORE].list_deployments(service="checkout")) == 1


async def test_concurrent_first_calls_register_one_deployment(client: TestClient[Any, Any]) -> None:
    answers = await asyncio.gather(
        *(client.get(URL, params=ASK, headers=_bearer(DEPLOYER)) for _ in range(4))
    )
    assert sorted(a.status for a in answers) == [200, 200, 200, 201]
    ids = {(await a.json())["deployment_id"] for a in answers}
    assert len(ids) == 1
    assert len(await client.app[STORE].list_deployments(service="checkout")) == 1


async def test_going_back_to_an_earlier_baseline_registers_afresh(client: TestClient[Any, Any]) -> None:
    first = await (await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))).json()
    other = await client.get(URL, params={**ASK, "baseline_version": "v0"}, headers=_bearer(DEPLOYER))
    assert other.status == 201
    back = await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))
    assert back.status == 201  # not the superseded first deployment
    assert (await back.json())["deployment_id"] != first["deployment_id"]


async def test_another_baseline_registers_a_new_deployment_that_supersedes(
    client: TestClient[Any, Any],
) -> None:
    first = await (await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))).json()
    other = await client.get(URL, params={**ASK, "baseline_version": "v0"}, headers=_bearer(DEPLOYER))
    assert other.status == 201
    second = await other.json()
    assert second["deployment_id"] != first["deployment_id"]
    older = next(
        d
        for d in await client.app[STORE].list_deployments(service="checkout")
        if d.id == first["deployment_id"]
    )
    assert older.status.value == "cancelled"


async def test_a_registering_call_needs_the_deploy_scope_and_a_read_does_not(
    client: TestClient[Any, Any],
) -> None:
    refused = await client.get(URL, params=ASK, headers=_bearer(READER))
    assert refused.status == 403 and "'deploy'" in (await refused.json())["detail"]
    assert await client.app[STORE].list_deployments(service="checkout") == []
    assert (await client.get(URL, params=ASK)).status == 401
    await client.get(URL, params=ASK, headers=_bearer(DEPLOYER))
    read = {k: v for k, v in ASK.items() if k not in ("baseline_version", "strategy")}
    answer = await client.get(URL, params=read, headers=_bearer(READER))
    assert answer.status == 200 and (await answer.json())["verdict"] == "running"


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        (
            {k: v for k, v in ASK.items() if k != "environment"},
            "environment",
            "required with baseline_version",
        ),
        ({k: v for k, v in ASK.items() if k != "version"}, "version", "required with baseline_version"),
        ({**ASK, "strategy": "big-bang"}, "strategy", "must be one of canary, bluegreen, rolling"),
        ({**ASK, "baseline_version": "v2"}, "baseline_version", "must differ from version"),
        ({**ASK, "environment": "prod"}, "environment", "unknown 'prod'"),
        ({**ASK, "profile": "/etc/passwd"}, "profile", "is not available"),
        ({**ASK, "deployment_id": "x"}, "deployment_id", "leave out baseline_version"),
    ],
)
async def test_a_registering_call_is_validated_like_a_registration(
    client: TestClient[Any, Any], params: dict[str, str], field: str, words: str
) -> None:
    answer = await client.get(URL, params=params, headers=_bearer(DEPLOYER))
    problem = await answer.json()
    assert answer.status == 400 and problem["field"] == field and words in problem["detail"], problem
    assert await client.app[STORE].list_deployments(service="checkout") == []


async def test_registration_fields_without_baseline_version_are_refused(client: TestClient[Any, Any]) -> None:
    """``strategy`` on a read would silently do nothing: a 400 names it instead."""
    read = {"service": "checkout", "environment": "production", "version": "v2", "strategy": "rolling"}
    answer = await client.get(URL, params=read, headers=_bearer(DEPLOYER))
    problem = await answer.json()
    assert answer.status == 400 and problem["field"] == "strategy", problem
