"""Deploy and verdict annotations: written with the event, delivered to Grafana through the outbox.

No Grafana server can run here: the ``grafana`` fixture is a fake of Grafana 11.4 built from
``docs/integrations.md`` that validates every body against the request-body schemas of Grafana's
published OpenAPI spec (``tests/fakes/grafana.py``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fakes.grafana import ADMIN_TOKEN, VIEWER_TOKEN

from monitor.api.app import create_app
from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings
from monitor.settings.grafana import GrafanaSpec
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store, StoredVerdict

PUBLIC = "https://deploy-monitor.example.com"


@pytest.fixture
async def store(tmp_path: Path, clock: Any) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    yield opened
    await opened.close()


def _settings(grafana: Any, token: str = ADMIN_TOKEN) -> Settings:
    return Settings(grafana=GrafanaSpec(url=grafana.url, token=token), public_url=PUBLIC)


async def _register(store: Store, settings: Settings) -> str:
    """Register a deployment through the HTTP API, as a pipeline does."""
    source = PrometheusSource("http://127.0.0.1:9")  # registration does not query it
    app = create_app(store, source, None, notifier=Notifier(settings))
    async with TestClient(TestServer(app)) as client:
        body = {"service": "checkout", "environment": "production", "version": "v2",
                "baseline_version": "v1", "started_at": "2026-11-26T09:58:00Z"}  # fmt: skip
        response = await client.post("/api/v1/deployments", json=body)
        assert response.status == 201
        deployment_id: str = (await response.json())["id"]
    await source.close()
    return deployment_id


async def test_deploy_and_final_verdict_are_annotated_with_tags_and_a_report_link(
    grafana: Any, store: Store, clock: Any
) -> None:
    settings = _settings(grafana)
    deployment_id = await _register(store, settings)
    deliverer = Deliverer(store, channels=channels_for(settings), clock=clock)
    assert await deliverer.run_once() == 1

    deployment = await store.get(deployment_id)
    clock.advance(900)
    await store.claim_due("engine", lease_s=30)
    at = clock()
    document = json.dumps({"verdict": "fail"})
    items = Notifier(settings).final(deployment, "fail", at, "http_error_ratio 3.1x the baseline", document)
    await store.record_verdict(
        deployment_id, owner="engine", verdict=StoredVerdict(15, at, "fail", 12.0, True, document),
        next_look_at=None, notifications=items,
    )  # fmt: skip
    assert await deliverer.run_once() == 1

    started, final = sorted(grafana.annotations, key=lambda a: a["id"])
    started_ms = int(datetime(2026, 11, 26, 9, 58, tzinfo=UTC).timestamp() * 1000)
    assert started["time"] == started_ms
    assert set(started["tags"]) == {"deploy-monitor", "event:deploy", "service:checkout",
                                    "environment:production", "version:v2", "verdict:running"}  # fmt: skip
    assert final["time"] == started_ms and final["timeEnd"] == int(at.timestamp() * 1000)
    assert {"event:verdict", "verdict:fail", "service:checkout"} <= set(final["tags"])
    assert "FAIL" in final["text"] and "http_error_ratio 3.1x the baseline" in final["text"]
    assert f'href="{PUBLIC}/api/v1/deployments/{deployment_id}/report"' in final["text"]
    assert grafana.violations == []


async def test_annotations_wait_while_grafana_fails_and_none_is_lost(
    grafana: Any, store: Store, clock: Any
) -> None:
    settings = _settings(grafana)
    grafana.fail_next("POST", "/api/annotations", 503, times=2)
    await _register(store, settings)
    deliverer = Deliverer(store, channels=channels_for(settings), clock=clock)
    assert await deliverer.run_once() == 0  # 503: retried after 2 s
    clock.advance(1)
    assert await deliverer.run_once() == 0  # not due yet: no request
    clock.advance(1)
    assert await deliverer.run_once() == 0  # 503 again: retried after 4 s
    assert grafana.annotations == []
    assert (await store.outbox_backlog())[0] == 1
    clock.advance(4)
    assert await deliverer.run_once() == 1
    assert len(grafana.requests_to("POST", "/api/annotations")) == 3
    assert len(grafana.annotations) == 1
    assert grafana.violations == []


async def test_a_token_without_rights_is_abandoned_and_recorded(
    grafana: Any, store: Store, clock: Any
) -> None:
    settings = _settings(grafana, VIEWER_TOKEN)
    deployment_id = await _register(store, settings)
    assert await Deliverer(store, channels=channels_for(settings), clock=clock).run_once() == 0
    clock.advance(3600)
    assert await store.claim_deliveries(claim_s=60) == []
    [failed] = [e for e in await store.events(deployment_id) if e.kind == "delivery_failed"]
    assert failed.message.startswith("grafana:annotation: HTTP 403")
    assert VIEWER_TOKEN not in failed.message
