"""The daemon end to end for probes: a registration (the API's body validation), the probe worker
against a real local HTTP server, and the scheduler judging the looks from the stored attempts.

The metrics come from a real Prometheus that holds no series of this service (a version without
traffic), so the verdicts stand on the probes; the clock is moved by hand, ten seconds a step.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from probe_server import Target
from worker_fixtures import Clock

from monitor.api.registration_probes import ProbeOffer
from monitor.api.report_page import render_report
from monitor.api.requests import deployment_spec
from monitor.checks.kind import Look
from monitor.checks.probes import LatencyData, ProbeLatency
from monitor.engine.probing import ProbeWorker
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.environments import Environments
from monitor.errors import MonitorError
from monitor.models import DeploymentStatus
from monitor.probes.runner import ProbeRunner
from monitor.profiles import CheckSpec, load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store


@dataclass
class Daemon:
    store: Store
    worker: ProbeWorker
    scheduler: Scheduler
    clock: Clock

    async def until_final(self, deployment_id: str, steps: int = 40) -> None:
        """Probe, then judge, ten seconds at a time, until the deployment's verdict is final."""
        for _ in range(steps):
            await self.worker.run_once()
            await self.worker.drain(10.0)
            await self.scheduler.run_once()
            if (await self.store.get(deployment_id)).status.final:
                return
            self.clock.advance(10)
        latest = await self.store.latest_verdict(deployment_id)
        summary = latest.document_json if latest else "no look"
        raise AssertionError(f"no final verdict after {steps} steps: {summary}")


@pytest.fixture
async def daemon(store: Store, clock: Clock, prometheus: SimulatedPrometheus) -> AsyncIterator[Daemon]:
    source = PrometheusSource(prometheus.url)
    async with aiohttp.ClientSession() as session:
        worker = ProbeWorker(store, (), ProbeRunner(session, 4), clock)
        scheduler = Scheduler(store, source, load_profile, SchedulerSettings(owner="replica-a"), clock)
        yield Daemon(store, worker, scheduler, clock)
    await source.close()


def _registered(target: Target, clock: Clock, **fields: Any) -> Any:
    body = {
        "service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1",
        "warmup_s": 0, "interval_s": 60, "min_duration_s": 300, "max_duration_s": 1800, **fields,
    }  # fmt: skip
    offer = ProbeOffer(hosts=("127.0.0.1", "localhost"))
    return deployment_spec(body, clock.now, Environments(), offer)


def _verdict(document_json: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(document_json)
    return parsed


async def test_a_probe_failing_three_times_in_a_row_fails_the_deployment_with_its_evidence(
    target: Target, daemon: Daemon
) -> None:
    probe = {
        "name": "health",
        "url": target.url("/status/503"),
        "count": 5,
        "fail_after": 3,
        "interval_s": 10,
    }
    spec = _registered(target, daemon.clock, probes=[probe])
    deployment, _ = await daemon.store.register(spec, actor="test")
    await daemon.until_final(deployment.id)
    final = await daemon.store.get(deployment.id)
    assert final.status is DeploymentStatus.FAIL
    stored = await daemon.store.latest_verdict(deployment.id)
    assert stored is not None and stored.look == 1  # at the first look: 3 failures by then
    document = _verdict(stored.document_json)
    [check] = [c for c in document["checks"] if c["name"] == "probe_health"]
    assert check["classification"] == "high" and check["critical"] and check["signal"] == "probe"
    assert "failed 3 attempts in a row" in check["message"]
    assert len(check["evidence"]) == 3
    first = check["evidence"][0]
    assert first["label"] == "canary 2026-12-06T10:00:00Z" and first["unit"] == "s"
    assert first["detail"].startswith(f"{target.url('/status/503')}: status 503 in ")
    assert first["detail"].endswith("status 503, expected 200; body: boom: database unavailable")
    # The report page shows the check and its evidence.
    looks = await daemon.store.look_documents(deployment.id)
    page = render_report(final, document, [], await daemon.store.events(deployment.id), looks=looks)
    assert "probe_health" in page and "boom: database unavailable" in page and "status 503" in page


async def test_a_bluegreen_preview_whose_green_side_answers_passes_before_any_traffic(
    target: Target, daemon: Daemon
) -> None:
    # Blue (the probe's own URL) is probed too, and green's answer times are compared with its
    # own: that comparison is required like the probe, so it must be able to conclude. Ten attempts
    # each and a tolerance of 10x make it conclusive on a loopback's sub-millisecond noise.
    probe = {
        "name": "health", "url": target.url("/ok"), "count": 10, "fail_after": 3, "interval_s": 10,
        "latency_allowed_effect": 10,
    }  # fmt: skip
    preview = f"http://localhost:{target.port}"
    spec = _registered(target, daemon.clock, strategy="bluegreen", preview_url=preview, probes=[probe])
    deployment, _ = await daemon.store.register(spec, actor="test")
    await daemon.until_final(deployment.id)
    final = await daemon.store.get(deployment.id)
    stored = await daemon.store.latest_verdict(deployment.id)
    assert stored is not None
    document = _verdict(stored.document_json)
    assert final.status is DeploymentStatus.PASS, document["summary"]
    assert "judged before the switch" in document["summary"]
    # Passed at the minimum duration, on the probes alone: the metrics had no data.
    assert stored.look == 5
    checks = {c["name"]: c for c in document["checks"]}
    assert checks["probe_health"]["classification"] == "pass"
    assert checks["probe_health_latency"]["classification"] == "pass"
    assert checks["probe_health_latency"]["canary"]["n"] == 10
    assert all(c["classification"] == "nodata" for c in checks.values() if c["signal"] == "metrics")


async def test_an_optional_probe_check_that_errors_never_holds_a_look_back(
    target: Target, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The latency comparison is an added check, not the profile's: optional all the same."""

    async def broken(self: ProbeLatency, spec: CheckSpec, look: Look) -> LatencyData:
        raise MonitorError("the attempts could not be read")

    monkeypatch.setattr(ProbeLatency, "fetch", broken)
    probe = {"name": "health", "url": target.url("/ok") + "?v={version}", "interval_s": 10}
    deployment, _ = await daemon.store.register(
        _registered(target, daemon.clock, probes=[probe]), actor="test"
    )
    for _ in range(8):  # past the first look (a minute in), probing every ten seconds
        await daemon.worker.run_once()
        await daemon.worker.drain(10.0)
        await daemon.scheduler.run_once()
        daemon.clock.advance(10)
    current = await daemon.store.get(deployment.id)
    assert current.looks_done >= 1 and "cannot be judged" not in current.status_reason, current.status_reason
    stored = await daemon.store.latest_verdict(deployment.id)
    assert stored is not None
    checks = {c["name"]: c for c in _verdict(stored.document_json)["checks"]}
    assert checks["probe_health_latency"]["classification"] == "error"
    assert checks["probe_health"]["classification"] == "pass"
