"""Probe checks in a look: a failing probe fails the run at once; a blue/green preview passes on
its probes before any traffic; no probe, no pass.

The metrics come from a real Prometheus holding no series of this service, which is what it
answers for a green side that has had no traffic yet (the preview case); the probes' attempts are
given in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.checks.probes import probe_checks
from monitor.engine.evaluate import evaluate_look
from monitor.engine.request import AnalysisRequest, RequestDefaults, build_request
from monitor.models import Classification, ProbeSpec, Verdict, VerdictStatus, Window
from monitor.probes.result import ProbeResult
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PROBE = ProbeSpec("health", "https://checkout-preview.example.com/healthz", count=3, fail_after=3)


class Attempts:
    """Attempts given in memory, filtered by role and start time like the store's."""

    def __init__(self, results: Sequence[ProbeResult]) -> None:
        self.results = list(results)

    async def attempts(self, probe: str, role: str, until: datetime) -> Sequence[ProbeResult]:
        return [
            r
            for r in self.results
            if r.probe == probe and r.role == role and r.at is not None and r.at < until
        ]


def _attempt(minute: float, ok: bool) -> ProbeResult:
    status = 200 if ok else 500
    return ProbeResult(
        "health", PROBE.url, ok, status, 0.03, "" if ok else "boom",
        None if ok else "status 500, expected 200", at=T0 + timedelta(minutes=minute),
    )  # fmt: skip


def _request(
    *, preview: bool, probes: Sequence[ProbeSpec] = (PROBE,), compared: Sequence[str] = ()
) -> AnalysisRequest:
    profile = load_profile("otel-http")
    window = Window(T0, T0 + timedelta(minutes=30))
    return build_request(
        RequestDefaults(), replace(profile, decision=replace(profile.decision, min_duration_s=300)),
        service="checkout", canary_version="v2", baseline_version="v1", canary_window=window,
        baseline_window=Window(T0 - timedelta(minutes=30), T0) if preview else None,
        environment="production", added=probe_checks(probes, compared),
        preview_url="https://checkout-preview.example.com" if preview else None,
    )  # fmt: skip


@pytest.fixture
async def source(prometheus: SimulatedPrometheus) -> AsyncIterator[PrometheusSource]:
    client = PrometheusSource(prometheus.url)
    yield client
    await client.close()


async def _look(
    source: PrometheusSource,
    request: AnalysisRequest,
    minutes: float,
    attempts: Attempts | None,
    last: bool = False,
) -> Verdict:
    at = T0 + timedelta(minutes=minutes)
    return await evaluate_look(source, request, at, 1, last_look=last, planned_looks=30, probes=attempts)


async def test_a_probe_failing_three_times_in_a_row_fails_the_run_at_once(source: PrometheusSource) -> None:
    attempts = Attempts([_attempt(0.0, False), _attempt(0.2, False), _attempt(0.4, False)])
    verdict = await _look(source, _request(preview=False), 1, attempts)
    assert verdict.status is VerdictStatus.FAIL
    assert "probe_health" in verdict.summary and "failed 3 attempts in a row" in verdict.summary
    probe = next(c for c in verdict.checks if c.name == "probe_health")
    assert probe.classification is Classification.HIGH and len(probe.evidence) == 3


async def test_attempts_after_the_look_are_not_seen_by_it(source: PrometheusSource) -> None:
    attempts = Attempts([_attempt(0.0, False), _attempt(0.2, False), _attempt(5.0, False)])
    verdict = await _look(source, _request(preview=False), 1, attempts)
    assert verdict.status is VerdictStatus.RUNNING
    probe = next(c for c in verdict.checks if c.name == "probe_health")
    assert probe.classification is Classification.NODATA and "2 of 3 attempts made" in probe.message


async def test_a_preview_passes_on_its_probes_before_any_traffic(source: PrometheusSource) -> None:
    attempts = Attempts([_attempt(0.0, True), _attempt(0.2, True), _attempt(0.4, True)])
    verdict = await _look(source, _request(preview=True), 6, attempts)
    # The metric checks have no data (no traffic before the switch) and are not required.
    assert verdict.status is VerdictStatus.PASS, verdict.summary
    assert "judged before the switch" in verdict.summary
    metrics = [c for c in verdict.checks if c.signal.value == "metrics"]
    assert metrics and all(c.classification is Classification.NODATA for c in metrics)


async def test_a_preview_waits_for_its_probes_and_for_the_minimum_duration(source: PrometheusSource) -> None:
    attempts = Attempts([_attempt(0.0, True), _attempt(0.2, True), _attempt(0.4, True)])
    early = await _look(source, _request(preview=True), 2, attempts)  # min_duration_s is 300
    assert early.status is VerdictStatus.RUNNING
    partial = await _look(source, _request(preview=True), 6, Attempts(attempts.results[:2]))
    assert partial.status is VerdictStatus.RUNNING


@pytest.mark.parametrize("attempts", [None, Attempts([])])
async def test_a_preview_whose_probes_did_not_run_is_never_a_pass(
    source: PrometheusSource, attempts: Attempts | None
) -> None:
    verdict = await _look(source, _request(preview=True), 30, attempts, last=True)
    assert verdict.status is VerdictStatus.INCONCLUSIVE, verdict.summary
    assert "probe_health" in verdict.summary


async def test_a_preview_without_probes_has_nothing_to_pass_on(source: PrometheusSource) -> None:
    early = await _look(source, _request(preview=True, probes=()), 10, None)
    assert early.status is VerdictStatus.RUNNING
    verdict = await _look(source, _request(preview=True, probes=()), 30, None, last=True)
    assert verdict.status is VerdictStatus.INCONCLUSIVE, verdict.summary


async def test_an_unsettled_latency_comparison_does_not_hold_a_preview_back(source: PrometheusSource) -> None:
    """Three answers a side can never make the rank test conclusive (p >= 1/20): the comparison is
    shown, but the preview passes on its probe once every attempt answered."""
    canary = [_attempt(m, True) for m in (0.0, 0.2, 0.4)]
    baseline = [replace(a, role="baseline", latency_s=0.02) for a in canary]
    verdict = await _look(
        source, _request(preview=True, compared=[PROBE.name]), 6, Attempts(canary + baseline)
    )
    assert verdict.status is VerdictStatus.PASS, verdict.summary
    latency = next(c for c in verdict.checks if c.name == "probe_health_latency")
    assert not latency.conclusive and latency.canary_n == 3 and latency.baseline_n == 3
