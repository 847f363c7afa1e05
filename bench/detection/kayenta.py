"""Kayenta-style judge: one fixed-horizon look, as Kayenta's ``NetflixACAJudge`` decides.

Reproduced from spinnaker/kayenta (``kayenta-judge``), per metric:

1. transform (``NetflixACAJudge.transformMetric``): drop NaN (``nanStrategy: remove``), then
   drop outliers with ``IQRDetector(factor = 3.0, reduceSensitivity = true)``: a point is an
   outlier below ``min(p1, p25 - 3 IQR)`` or above ``max(p99, p75 + 3 IQR)``, percentiles R-7;
2. classify (``MannWhitneyClassifier(tolerance = 0.25, confLevel = 0.98)``): no data on either
   side is ``Nodata``; identical samples, or a single distinct value overall, ``Pass``; two
   constant samples get Gaussian noise of sd ``1e-5 * value``; then the two-sided Mann-Whitney
   interval of ``canary - baseline`` at 98%: ``High`` when its lower end exceeds
   ``tolerance * |Hodges-Lehmann estimate|`` *and* the effect size (mean ratio canary/baseline;
   1 when the baseline mean is 0, NaN when the canary's is) is at least ``allowedIncrease``;
   a critical metric's ``High`` is critical when the effect size is at least ``criticalIncrease``;
   a failed test is ``Error``;
3. score (``WeightedSumScorer``, one group): any critical metric not ``Pass`` scores 0; so do
   50% or more ``Nodata`` metrics; otherwise 100 * Pass / (Pass + High + Low).

Metric set (our choice, a typical HTTP canary config): p50, p90 and p99 latency and the 5xx
ratio, all ``direction: increase``, effect sizes left at Kayenta's defaults (1.0); the error ratio
is ``critical``. The run fails below a score of 75, else passes (Kayenta's marginal band, 75 to
95, counts as pass). The interval comes from :func:`monitor.stats.mann_whitney_interval` (R's
``wilcox.test``); Kayenta's own port differs only in its estimate, which it takes with the
continuity correction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial

import numpy as np
from numpy.typing import NDArray

from bench.detection import promql
from bench.detection.client import STEP_S, RangeClient
from bench.detection.outcome import Decision, Status
from monitor.simulate import SimulatedRun
from monitor.stats import mann_whitney_interval

CONFIDENCE = 0.98
TOLERANCE = 0.25
ALLOWED_INCREASE = 1.0
CRITICAL_INCREASE = 1.0
IQR_FACTOR = 3.0
NOISE_SCALE = 1e-5
NODATA_THRESHOLD_PERCENT = 50.0
FAIL_BELOW_SCORE = 75.0

FloatArray = NDArray[np.float64]


class Label(StrEnum):
    """Kayenta's metric classifications (the ones reachable with this config)."""

    PASS = "Pass"
    HIGH = "High"
    NODATA = "Nodata"
    ERROR = "Error"


@dataclass(frozen=True)
class KayentaMetric:
    """One metric of the canary config: a PromQL builder for a version's selector."""

    name: str
    query: Callable[[str], str]
    critical: bool = False


METRICS: tuple[KayentaMetric, ...] = (
    KayentaMetric("latency_p50", partial(promql.latency_quantile, 0.5)),
    KayentaMetric("latency_p90", partial(promql.latency_quantile, 0.9)),
    KayentaMetric("latency_p99", partial(promql.latency_quantile, 0.99)),
    KayentaMetric("error_ratio", promql.error_ratio, critical=True),
)


@dataclass(frozen=True)
class MetricResult:
    """A classified metric: label, whether it counts as critical, and the effect size."""

    name: str
    label: Label
    critical: bool
    deviation: float


@dataclass(frozen=True)
class KayentaVerdict:
    """The run's score, status and the metric results behind it."""

    score: float
    status: Status
    reason: str
    results: tuple[MetricResult, ...]


def remove_outliers(values: FloatArray) -> FloatArray:
    """``IQRDetector(factor = 3.0, reduceSensitivity = true)`` then drop the outliers."""
    if values.size == 0:
        return values
    p1, p25, p75, p99 = np.percentile(values, [1, 25, 75, 99])  # R-7, as Kayenta's
    iqr = p75 - p25
    lower = min(p1, p25 - IQR_FACTOR * iqr)
    upper = max(p99, p75 + IQR_FACTOR * iqr)
    kept: FloatArray = values[(values >= lower) & (values <= upper)]
    return kept


def prepare(values: Sequence[float] | FloatArray) -> FloatArray:
    """Kayenta's transform with ``nanStrategy: remove``: drop NaN, then outliers."""
    array = np.asarray(values, dtype=np.float64)
    return remove_outliers(array[~np.isnan(array)])


def _noise(values: FloatArray, rng: np.random.Generator) -> FloatArray:
    scale = abs(float(values[0])) * NOISE_SCALE
    return values + rng.normal(0.0, scale, values.size) if scale > 0 else values


def _deviation(canary: FloatArray, baseline: FloatArray) -> float:
    base_mean, canary_mean = float(np.mean(baseline)), float(np.mean(canary))
    if base_mean == 0.0:
        return 1.0
    return math.nan if canary_mean == 0.0 else canary_mean / base_mean


def classify(
    name: str,
    canary: FloatArray,
    baseline: FloatArray,
    *,
    critical: bool,
    rng: np.random.Generator,
) -> MetricResult:
    """``MannWhitneyClassifier.classify`` for ``direction: increase`` on prepared samples."""
    if canary.size == 0 or baseline.size == 0:
        return MetricResult(name, Label.NODATA, critical, 1.0)
    if np.array_equal(np.sort(canary), np.sort(baseline)):
        return MetricResult(name, Label.PASS, False, 1.0)
    if np.unique(np.concatenate((canary, baseline))).size == 1:
        return MetricResult(name, Label.PASS, False, 1.0)
    if np.unique(canary).size == 1 and np.unique(baseline).size == 1:
        canary, baseline = _noise(canary, rng), _noise(baseline, rng)
    try:
        low, _high, estimate = mann_whitney_interval(canary, baseline, CONFIDENCE)
    except ValueError:
        return MetricResult(name, Label.ERROR, False, math.nan)
    deviation = _deviation(canary, baseline)
    high = low > TOLERANCE * abs(estimate) and deviation >= ALLOWED_INCREASE
    if not high:
        return MetricResult(name, Label.PASS, False, deviation)
    return MetricResult(name, Label.HIGH, critical and deviation >= CRITICAL_INCREASE, deviation)


def score(results: Sequence[MetricResult]) -> tuple[float, str]:
    """``WeightedSumScorer`` with all metrics in one group: ``(score, reason)``."""
    failures = [r for r in results if r.critical and r.label is not Label.PASS]
    if failures:
        return 0.0, f"critical {failures[0].name} {failures[0].label}"
    nodata = sum(1 for r in results if r.label is Label.NODATA)
    if results and 100.0 * nodata / len(results) >= NODATA_THRESHOLD_PERCENT:
        return 0.0, f"{nodata} of {len(results)} metrics Nodata"
    counted = [r for r in results if r.label in (Label.PASS, Label.HIGH)]
    if not counted:
        return 100.0, "no metric counted"
    passed = sum(1 for r in counted if r.label is Label.PASS)
    high = [r.name for r in counted if r.label is Label.HIGH]
    return round(100.0 * passed / len(counted), 2), f"High: {', '.join(high) or 'none'}"


def judge(
    samples: Mapping[str, tuple[Sequence[float] | FloatArray, Sequence[float] | FloatArray]],
    rng: np.random.Generator,
) -> KayentaVerdict:
    """Judge raw per-minute ``(canary, baseline)`` samples of every metric in ``METRICS``."""
    results = tuple(
        classify(
            m.name,
            prepare(samples[m.name][0]),
            prepare(samples[m.name][1]),
            critical=m.critical,
            rng=rng,
        )
        for m in METRICS
    )
    value, reason = score(results)
    status = Status.FAIL if value < FAIL_BELOW_SCORE else Status.PASS
    return KayentaVerdict(value, status, reason, results)


async def judge_run(client: RangeClient, run: SimulatedRun) -> Decision:
    """Fetch both versions' one-minute series over the window and judge them once, at its end.

    The grid is the window's end minus 19, 18, ... 0 minutes: 20 points per version, each
    covering one minute inside the window.
    """
    sc = run.scenario
    window = run.canary_window
    selectors = {
        "canary": promql.selector(sc.name, sc.canary_version),
        "baseline": promql.selector(sc.name, sc.baseline_version),
    }
    queries = {f"{m.name}/{v}": m.query(sel) for m in METRICS for v, sel in selectors.items()}
    frame = await client.aligned(queries, window.start + timedelta(seconds=STEP_S), window.end)
    samples = {
        m.name: (
            frame[f"{m.name}/canary"].to_numpy(dtype=np.float64),
            frame[f"{m.name}/baseline"].to_numpy(dtype=np.float64),
        )
        for m in METRICS
    }
    verdict = judge(samples, np.random.default_rng(sc.seed))
    labels = ", ".join(f"{r.name} {r.label}" for r in verdict.results)
    return Decision(
        verdict.status,
        window.duration_s / 60.0,
        f"score {verdict.score:g} ({verdict.reason}); {labels}",
    )
