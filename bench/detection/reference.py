"""Fixed-horizon reference judge: one look at a horizon known in advance, classical exact tests.

What a statistician would run once, at the end, with no sequential looks to pay for, at the
monitor's own false-alarm budget (``alpha`` = the profile's, split evenly by Bonferroni over the
test families it runs) and the monitor's own allowances as effect floors, so the difference
between the two is what judging every minute costs:

* **errors**: the conditional binomial test of the canary's share of 5xx responses
  (``scipy.stats.binomtest``, one-sided), pooled over the window; fails when significant, the
  rate ratio above 1.25x and the canary's 5xx ratio above 0.05%;
* **latency**: Pearson's chi-square test of homogeneity on both versions' bucket counts
  (``scipy.stats.chi2_contingency``); fails when significant and a quantile (p50, p90, p99,
  estimated as the monitor does) at least 5% slower;
* with logs and traces (when the run sent them): the error-level log lines per request and each
  WARN-or-worse template (binomial, templates Bonferroni-corrected, 1.25x and 2x floors); each
  operation's failed spans, calls per callee (binomial, 1.25x and 1.5x) and span durations
  (chi-square, 1.25x), operations Bonferroni-corrected.

Everything is read at ``start + horizon``: Prometheus' ``increase()`` over the horizon, and the
receiver's aggregates of the same window.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from scipy.stats import binomtest, chi2_contingency

from bench.detection import promql
from bench.detection.client import RangeClient
from bench.detection.outcome import Decision, Status
from monitor.logs.counts import Level, LogData
from monitor.models import HistogramData, Signal, TraceData, Window
from monitor.otlp.views import TelemetryReader, Versions
from monitor.simulate import SimulatedRun
from monitor.stats.quantiles import quantile

ALPHA = 0.01
ERROR_FLOOR, ERROR_ALLOWED = 0.0005, 1.25
LATENCY_ALLOWED, SPAN_LATENCY_ALLOWED = 1.05, 1.25
TEMPLATE_ALLOWED, FANOUT_ALLOWED = 2.0, 1.5
QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class Finding:
    """One test family's smallest p-value (Bonferroni-adjusted within it) among relevant effects."""

    family: str
    p_value: float
    detail: str


def _binomial(k: float, n: float, canary_exposure: float, baseline_exposure: float) -> tuple[float, float]:
    """One-sided conditional binomial p-value of the canary's share of ``n`` events, and the rate ratio."""
    k_i, n_i = round(k), round(n)
    if n_i <= 0 or canary_exposure <= 0 or baseline_exposure <= 0:
        return 1.0, 1.0
    theta = canary_exposure / (canary_exposure + baseline_exposure)
    p = float(binomtest(min(k_i, n_i), n_i, theta, alternative="greater").pvalue)
    ratio = ((k_i + 0.5) / canary_exposure) / ((n_i - k_i + 0.5) / baseline_exposure)
    return p, ratio


def _chi_square(canary: Sequence[float], baseline: Sequence[float]) -> float:
    table = np.array([canary, baseline], dtype=float)
    table = np.rint(table[:, table.sum(axis=0) > 0])
    if table.shape[1] < 2 or (table.sum(axis=1) <= 0).any():
        return 1.0
    return float(chi2_contingency(table, correction=False).pvalue)


def _slowest_ratio(bounds: tuple[float, ...], canary: Sequence[float], baseline: Sequence[float]) -> float:
    c, b = HistogramData(bounds, tuple(canary)), HistogramData(bounds, tuple(baseline))
    if c.total <= 0 or b.total <= 0:
        return 1.0
    return max(quantile(c, q) / max(quantile(b, q), 1e-12) for q in QUANTILES)


def _errors(counts: dict[str, float]) -> Finding:
    p, ratio = _binomial(counts["errors/canary"], counts["errors/canary"] + counts["errors/baseline"],
                         counts["requests/canary"], counts["requests/baseline"])  # fmt: skip
    canary_ratio = counts["errors/canary"] / counts["requests/canary"] if counts["requests/canary"] else 0.0
    relevant = ratio > ERROR_ALLOWED and canary_ratio > ERROR_FLOOR
    return Finding("errors", p if relevant else 1.0, f"5xx {ratio:.2f}x, p={p:.2g}")


def _latency(bounds: tuple[float, ...], canary: list[float], baseline: list[float]) -> Finding:
    p, ratio = _chi_square(canary, baseline), _slowest_ratio(bounds, canary, baseline)
    return Finding("latency", p if ratio > LATENCY_ALLOWED else 1.0, f"latency {ratio:.2f}x, p={p:.2g}")


def _logs(data: LogData) -> list[Finding]:
    c_exp, b_exp = data.canary_exposure, data.baseline_exposure
    errors = [t for t in data.templates if t.level >= Level.ERROR]
    k, j = sum(t.canary for t in errors), sum(t.baseline for t in errors)
    p, ratio = _binomial(k, k + j, c_exp, b_exp)
    relevant = ratio > ERROR_ALLOWED and c_exp > 0 and k / c_exp > ERROR_FLOOR
    findings = [Finding("log error rate", p if relevant else 1.0, f"error lines {ratio:.2f}x")]
    notable = [t for t in data.templates if t.level >= Level.WARN and t.canary > 0]
    best = 1.0
    for t in notable:
        p, ratio = _binomial(t.canary, t.canary + t.baseline, c_exp, b_exp)
        if ratio > TEMPLATE_ALLOWED:
            best = min(best, p * len(notable))
    findings.append(Finding("log templates", min(best, 1.0), f"{len(notable)} templates"))
    return findings


def _traces(data: TraceData) -> list[Finding]:
    bounds = (*data.bucket_bounds_s, math.inf)
    pairs = [(name, c, data.baseline[name]) for name, c in data.canary.items() if name in data.baseline]
    errors = latency = fanout = 1.0
    edges = sum(len(c.calls) for _, c, _ in pairs) or 1
    for _, c, b in pairs:
        p, ratio = _binomial(c.errors, c.errors + b.errors, c.count, b.count)
        if ratio > ERROR_ALLOWED and c.count and c.errors / c.count > ERROR_FLOOR:
            errors = min(errors, p * len(pairs))
        if _slowest_ratio(bounds, c.buckets, b.buckets) > SPAN_LATENCY_ALLOWED:
            latency = min(latency, _chi_square(c.buckets, b.buckets) * len(pairs))
        for callee, calls in c.calls.items():
            base_calls = b.calls.get(callee, 0)
            p, ratio = _binomial(calls, calls + base_calls, c.count, b.count)
            if ratio > FANOUT_ALLOWED:
                fanout = min(fanout, p * edges)
    return [Finding("span errors", errors, ""), Finding("span latency", latency, ""),
            Finding("fan-out", fanout, "")]  # fmt: skip


async def judge_run(
    client: RangeClient, telemetry: TelemetryReader, run: SimulatedRun, horizon_min: float
) -> Decision:
    """One look at ``start + horizon_min``: fail when any family's test is significant at its share."""
    sc = run.scenario
    window = run.canary_window
    at = window.start + timedelta(minutes=horizon_min)
    rng = f"{round(horizon_min * 60)}s"
    queries: dict[str, str] = {}
    for side, version in (("canary", sc.canary_version), ("baseline", sc.baseline_version)):
        sel = promql.selector(sc.name, version)
        queries[f"errors/{side}"] = promql.increase_errors(sel, rng)
        queries[f"requests/{side}"] = promql.increase_requests(sel, rng)
        queries[f"buckets/{side}"] = promql.increase_buckets(sel, rng)
    results = dict(
        zip(queries, await asyncio.gather(*(client.instant(q, at) for q in queries.values())), strict=True)
    )
    counts = {k: sum(v for _, v in results[k]) for k in queries if not k.startswith("buckets/")}
    bounds, canary_buckets, baseline_buckets = _buckets(
        results["buckets/canary"], results["buckets/baseline"]
    )
    findings = [_errors(counts), _latency(bounds, canary_buckets, baseline_buckets)]
    versions = Versions(sc.name, "", sc.canary_version, Window(window.start, at), sc.baseline_version,
                        Window(window.start, at))  # fmt: skip
    snapshot = await telemetry.snapshot(versions)
    if snapshot.engaged(Signal.LOGS):
        findings += _logs(snapshot.logs())
    if snapshot.engaged(Signal.TRACES):
        findings += _traces(snapshot.traces())
    share = ALPHA / len(findings)
    failing = [f for f in findings if f.p_value <= share]
    detail = "; ".join(f"{f.family} p={f.p_value:.2g}{' ' + f.detail if f.detail else ''}" for f in findings)
    status = Status.FAIL if failing else Status.PASS
    return Decision(status, horizon_min if failing else window.duration_s / 60.0, detail)


def _buckets(
    canary: list[tuple[dict[str, str], float]], baseline: list[tuple[dict[str, str], float]]
) -> tuple[tuple[float, ...], list[float], list[float]]:
    """Per-bucket counts of both versions on their shared ``le`` bounds (cumulative to per bucket)."""

    def cumulative(samples: list[tuple[dict[str, str], float]]) -> dict[float, float]:
        return {float(labels["le"]): value for labels, value in samples if "le" in labels}

    c, b = cumulative(canary), cumulative(baseline)
    bounds = tuple(sorted(set(c) | set(b)))

    def per_bucket(cum: dict[float, float]) -> list[float]:
        values, previous = [], 0.0
        for bound in bounds:
            current = max(cum.get(bound, previous), previous)
            values.append(current - previous)
            previous = current
        return values

    return bounds, per_bucket(c), per_bucket(b)
