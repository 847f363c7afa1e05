"""Turning a check's PromQL templates into data for one version over one window."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from string import Template

from monitor.models import CheckData, ComparisonKind, CountsData, HistogramData, SamplesData, Window
from monitor.profiles import CheckSpec, Profile
from monitor.sources.base import InstantSample, MetricsSource
from monitor.sources.prometheus import MAX_POINTS

SAMPLES_STEP_S = 60.0


@dataclass(frozen=True)
class Fetched:
    """A version's data for one check, and whether any series matched its selector at all."""

    data: CheckData
    matched: bool
    selector: str


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(
    profile: Profile, service: str, version: str | None, extra: tuple[tuple[str, str], ...] = ()
) -> str:
    """PromQL label matchers selecting one version of the service (every version when None)."""
    pairs = [(profile.labels.service, service)]
    if version is not None:
        pairs.append((profile.labels.version, version))
    pairs.extend(extra)
    return ", ".join(f"{name}={_quote(value)}" for name, value in pairs)


def render(template: str, profile: Profile, matchers: str, window_s: float) -> str:
    """Substitute ``$selector``, ``$window`` and ``$<key>_label`` in a query template."""
    values = {"selector": matchers, "window": f"{max(1, round(window_s))}s"}
    values.update(profile.labels.placeholders())
    return Template(template).substitute(values)


def _total(samples: list[InstantSample]) -> float:
    return float(sum(s.value for s in samples if math.isfinite(s.value)))


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


def _histogram(periods: list[list[InstantSample]]) -> HistogramData:
    """Per-bucket counts of every period (on the union of bucket bounds) and their sum."""
    per_period = [_cumulative_by_le(samples) for samples in periods]
    bounds = sorted({bound for cumulative in per_period for bound in cumulative})
    counts = [_bucket_counts(cumulative, bounds) for cumulative in per_period]
    totals = tuple(float(sum(column)) for column in zip(*counts, strict=True)) if counts else ()
    return HistogramData(tuple(bounds), totals or tuple(0.0 for _ in bounds), tuple(counts))


async def _periodic(
    source: MetricsSource, query: Callable[[float], str], window: Window, period_s: float | None
) -> list[list[InstantSample]]:
    """Samples of each period tiling ``window``: whole ``period_s`` periods from its start, then the rest.

    Period boundaries are anchored at the window's start, so a later look sees the same
    periods plus newer ones: what the anytime-valid tests need. ``query(range_s)`` renders the
    template with ``$window`` set to a period's length.
    """
    total_s = window.duration_s
    if not period_s or total_s < period_s:
        return [await source.instant(query(total_s), window.end)]
    period_s = max(period_s, math.ceil(total_s / MAX_POINTS))
    full = int(total_s // period_s)
    last_full_end = window.start + timedelta(seconds=full * period_s)
    series = await source.range(
        query(period_s), Window(window.start + timedelta(seconds=period_s), last_full_end), period_s
    )
    by_end: dict[int, list[InstantSample]] = {}
    for s in series:
        for ts, value in s.points:
            by_end.setdefault(round(ts), []).append(InstantSample(s.labels, value))
    first_end = window.start.timestamp() + period_s
    periods = [by_end.get(round(first_end + j * period_s), []) for j in range(full)]
    rest_s = total_s - full * period_s
    if rest_s >= 1.0:
        periods.append(await source.instant(query(rest_s), window.end))
    return periods


async def fetch_check(
    source: MetricsSource,
    spec: CheckSpec,
    profile: Profile,
    matchers: str,
    window: Window,
    period_s: float | None = None,
) -> Fetched:
    """Query one version's data for ``spec`` over ``window``.

    Counts and histograms come period by period when ``period_s`` is set (canary mode, so that a
    changing traffic split can be accounted for), else as one increase over the whole window.
    """

    def renderer(template: str) -> Callable[[float], str]:
        return lambda range_s: render(template, profile, matchers, range_s)

    if spec.comparison is ComparisonKind.COUNTS:
        assert spec.exposure is not None
        exposure_q = _periodic(source, renderer(spec.exposure), window, period_s)
        if spec.events is not None:
            events, exposure = await asyncio.gather(
                _periodic(source, renderer(spec.events), window, period_s), exposure_q
            )
        else:
            exposure = await exposure_q
            events = [[] for _ in exposure]
        periods = tuple((_total(e), _total(x)) for e, x in zip(events, exposure, strict=True))
        data = CountsData(
            sum(e for e, _ in periods), sum(x for _, x in periods), periods if len(periods) > 1 else ()
        )
        return Fetched(data, any(exposure), matchers)
    if spec.comparison is ComparisonKind.DISTRIBUTION:
        assert spec.buckets is not None
        buckets = await _periodic(source, renderer(spec.buckets), window, period_s)
        histogram = _histogram(buckets)
        if len(buckets) == 1:
            histogram = HistogramData(histogram.upper_bounds, histogram.counts)
        return Fetched(histogram, any(buckets), matchers)
    assert spec.series is not None
    series = await source.range(
        render(spec.series, profile, matchers, window.duration_s), window, SAMPLES_STEP_S
    )
    values = tuple(v for s in series for _, v in s.points if math.isfinite(v))
    return Fetched(SamplesData(values), bool(series), matchers)
