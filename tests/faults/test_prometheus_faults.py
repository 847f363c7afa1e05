"""Prometheus down, slower than the timeout, or answering 5xx HTML pages half the time.

Each case runs a bad canary (``errors_3x``: three times the errors) and a good one (``aa``) through
the engine and the outbox, against the real Prometheus behind a fault proxy (``conftest.py``),
then asserts: no false pass, exactly one final verdict delivered to the webhook receiver, and the
verdict naming the backend when it could not be read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.faults import FaultProxy, Hooks, run_to_the_end, spec_of

from monitor.config import WebhookSpec
from monitor.models import DeploymentStatus
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus


async def _run(
    store: Store,
    url: str,
    hooks: tuple[Hooks, WebhookSpec],
    prometheus: SimulatedPrometheus,
    name: str,
    *,
    timeout_s: float = 0.5,
    attempts: int = 3,
    step_s: float = 20,
) -> tuple[DeploymentStatus, dict[str, Any]]:
    receiver, webhook = hooks
    spec = spec_of(prometheus, name)
    source = PrometheusSource(url, timeout_s=timeout_s, max_attempts=attempts, backoff_s=0.01)
    try:
        status = await run_to_the_end(store, source, webhook, spec, step_s=step_s)
    finally:
        await source.close()
    [deployment] = await store.list_deployments(service=name)
    [final] = receiver.finals(deployment.id)  # exactly one final verdict delivered
    latest = await store.latest_verdict(deployment.id)
    assert latest is not None and latest.final
    assert final["verdict"] == status.value == latest.status
    assert await store.outbox_backlog() == (0, None)  # nothing left undelivered
    return status, json.loads(latest.document_json)


@pytest.mark.parametrize("name", ["errors_3x", "aa"])
async def test_prometheus_down_ends_inconclusive_naming_it(
    sqlite_store: Store, hooks: tuple[Hooks, WebhookSpec], prometheus: SimulatedPrometheus, name: str
) -> None:
    status, document = await _run(sqlite_store, "http://127.0.0.1:9", hooks, prometheus, name)
    assert status is DeploymentStatus.INCONCLUSIVE
    assert "127.0.0.1:9" in document["summary"]


async def test_prometheus_slower_than_the_timeout_ends_inconclusive(
    sqlite_store: Store,
    hooks: tuple[Hooks, WebhookSpec],
    prometheus: SimulatedPrometheus,
    proxy: tuple[FaultProxy, str],
) -> None:
    """The good canary: a pass is what a careless engine would give when every query times out."""
    fault, url = proxy
    fault.mode, fault.delay_s = "slow", 0.4  # twice the source's timeout
    status, document = await _run(
        sqlite_store, url, hooks, prometheus, "aa", timeout_s=0.2, attempts=1, step_s=60
    )
    assert status is DeploymentStatus.INCONCLUSIVE
    assert "Timeout" in document["summary"] or "timed out" in document["summary"]


async def test_intermittent_html_5xx_are_ridden_out_and_change_nothing(
    sqlite_store: Store,
    hooks: tuple[Hooks, WebhookSpec],
    prometheus: SimulatedPrometheus,
    proxy: tuple[FaultProxy, str],
) -> None:
    """Every other request is a load balancer's 502 page: the retries read through it, and the
    verdicts are the ones a healthy network gives (the bad canary fails, the good one is not failed)."""
    fault, url = proxy
    fault.mode = "flaky"
    bad, _ = await _run(sqlite_store, url, hooks, prometheus, "errors_3x")
    good, _ = await _run(sqlite_store, url, hooks, prometheus, "aa")
    assert fault.requests > 10  # the proxy saw the traffic, so half of it failed
    assert bad is DeploymentStatus.FAIL
    assert good is not DeploymentStatus.FAIL
