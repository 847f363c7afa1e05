"""The distribution kind: each version's histogram buckets (e.g. request latency)."""

from __future__ import annotations

import math

from monitor.checks.kind import Judging, Look, VersionQuery
from monitor.checks.metric import Fetched, MetricKind, periodic, query
from monitor.judges.checks import distribution_min_p, judge_distribution
from monitor.models import CheckResult, HistogramData
from monitor.profiles.model import CheckSpec
from monitor.sources.base import InstantSample


def _cumulative_by_le(samples: list[InstantSample]) -> dict[float, float]:
    cumulative: dict[float, float] = {}
    for sample in samples:
        le = sample.labels.get("le")
        if not le or not math.isfinite(sample.value):
            continue
        bound = float(le)
        cumulative[bound] = cumulative.get(bound, 0.0) + sample.value
    return cumulative


def _bucket_counts(cumulative: dict[float, float], bounds: list[float]) -> tuple[float, ...]:
    counts: list[float] = []
    previous = 0.0
    for bound in bounds:
        # increase() extrapolates each bucket separately, so cumulative counts may dip a little.
        current = max(cumulative.get(bound, previous), previous)
        counts.append(current - previous)
        previous = current
    return tuple(counts)


def histogram(periods: list[list[InstantSample]]) -> HistogramData:
    """Per-bucket counts of every period (on the union of bucket bounds) and their sum."""
    per_period = [_cumulative_by_le(samples) for samples in periods]
    bounds = sorted({bound for cumulative in per_period for bound in cumulative})
    counts = [_bucket_counts(cumulative, bounds) for cumulative in per_period]
    totals = tuple(float(sum(column)) for column in zip(*counts, strict=True)) if counts else ()
    data = HistogramData(tuple(bounds), totals or tuple(0.0 for _ in bounds), tuple(counts))
    return data if len(periods) > 1 else HistogramData(data.upper_bounds, data.counts)


class Distribution(MetricKind[HistogramData]):
    """Judged by bucket-bound tests and sized by quantile ratios (:mod:`monitor.judges.checks`)."""

    data_type = HistogramData

    async def fetch_version(self, spec: CheckSpec, look: Look, version: VersionQuery) -> Fetched:
        """One version's buckets, period by period when the look has periods."""
        assert spec.buckets is not None
        buckets = await periodic(
            look.source, query(spec.buckets, look, version), version.window, look.period_s
        )
        return Fetched(histogram(buckets), any(buckets), version.matchers)

    def min_p_of(self, spec: CheckSpec, canary: HistogramData, baseline: HistogramData) -> float:
        """See :func:`monitor.judges.checks.distribution_min_p`."""
        return distribution_min_p(spec, canary, baseline)

    def judge_of(
        self, spec: CheckSpec, canary: HistogramData, baseline: HistogramData, judging: Judging
    ) -> CheckResult:
        """See :func:`monitor.judges.checks.judge_distribution`."""
        return judge_distribution(spec, canary, baseline, judging.alpha, judging.relevance)


DISTRIBUTION = Distribution()
