"""Bearer tokens with scopes on the deployments API (real SQLite store, real Prometheus)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.api.app import STORE
from monitor.config import TokenSpec, load_settings
from monitor.errors import ConfigError

pytestmark = pytest.mark.prometheus

DEPLOYER = "d" * 32
READER = "r" * 32
BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}


@pytest.fixture
async def client(make_client: Any) -> TestClient[Any, Any]:
    return await make_client(
        [TokenSpec("jenkins", ("read", "deploy"), DEPLOYER), TokenSpec("grafana", ("read",), READER)]
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_no_or_wrong_token_is_401_and_scope_is_403(client: TestClient[Any, Any]) -> None:
    anonymous = await client.get("/api/v1/deployments")
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await client.get("/api/v1/deployments", headers=_bearer("x" * 32))
    assert wrong.status == 401
    read_only = await client.post("/api/v1/deployments", json=BODY, headers=_bearer(READER))
    assert read_only.status == 403
    assert "'grafana' lacks the 'deploy' scope" in (await read_only.json())["detail"]
    assert (await client.get("/api/v1/deployments", headers=_bearer(READER))).status == 200
    assert (await client.get("/healthz")).status == 200  # health needs no token


async def test_the_token_name_is_the_actor_and_the_secret_is_never_logged(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await client.post("/api/v1/deployments", json=BODY, headers=_bearer(DEPLOYER))
    assert created.status == 201
    deployment_id = (await created.json())["id"]
    store = client.app[STORE]
    events = await store.events(deployment_id)
    assert [e.actor for e in events] == ["jenkins"]
    assert DEPLOYER not in caplog.text and READER not in caplog.text


def test_tokens_come_from_files_or_variables_never_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jenkins.token").write_text(DEPLOYER + "\n")
    monkeypatch.setenv("GRAFANA_TOKEN", READER)
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "tokens:\n"
        "  - {name: jenkins, scopes: [read, deploy], token_file: jenkins.token}\n"
        "  - {name: grafana, scopes: [read], token_env: GRAFANA_TOKEN}\n"
    )
    tokens = load_settings(config, environ={}).tokens
    assert [(t.name, t.scopes, t.secret) for t in tokens] == [
        ("jenkins", ("read", "deploy"), DEPLOYER),
        ("grafana", ("read",), READER),
    ]
    assert DEPLOYER not in repr(tokens)
    config.write_text("tokens:\n  - {name: ci, scopes: [read], token: hunter2hunter2hunter2}\n")
    with pytest.raises(ConfigError, match=r"monitor.yaml:2.*tokens\[0\].*token_file"):
        load_settings(config, environ={})
    config.write_text("tokens:\n  - {name: ci, scopes: [root], token_env: GRAFANA_TOKEN}\n")
    with pytest.raises(ConfigError, match="read, deploy, ingest, admin"):
        load_settings(config, environ={})
