"""What every metric kind shares: a version's query results, their periods, and the server-spans stand-in.

A metric kind queries each version over its window (:meth:`MetricKind.fetch_version`); when no
series matched for either version, a check with ``from_spans`` reads the versions' server spans
instead. Its judge then says which selector matched nothing, or that spans stood in.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Generic, TypeVar

from monitor.checks.kind import Judging, Look, VersionQuery
from monitor.judges.checks import error_result
from monitor.models import CheckData, CheckResult, Classification, Window
from monitor.profiles.model import CheckSpec
from monitor.profiles.templates import render
from monitor.sources.base import MAX_POINTS, InstantSample, MetricsSource
from monitor.tracing import tracer

SPANS = "the versions' server spans (no metric series matched)"

T = TypeVar("T", bound=CheckData)


@dataclass(frozen=True)
class Fetched:
    """A version's data for one check, and whether any series matched its selector at all."""

    data: CheckData
    matched: bool
    selector: str


@dataclass(frozen=True)
class MetricPair:
    """Both versions' data for one metric check."""

    canary: Fetched
    baseline: Fetched

    @property
    def from_spans(self) -> bool:
        """Whether the versions' server spans stood in for metrics that matched no series."""
        return self.canary.selector == SPANS


def query(template: str, look: Look, version: VersionQuery) -> Callable[[float], str]:
    """``template`` rendered for ``version``, given the range ``$window`` stands for (in seconds)."""
    return lambda range_s: render(template, look.profile, version.matchers, range_s)


def total(samples: list[InstantSample]) -> float:
    """The sum of the finite values of an instant vector."""
    return float(sum(s.value for s in samples if math.isfinite(s.value)))


async def periodic(
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


class MetricKind(Generic[T]):
    """A kind whose data are PromQL query results of each version (data of type ``data_type``)."""

    data_type: type[T]

    async def fetch_version(self, spec: CheckSpec, look: Look, version: VersionQuery) -> Fetched:
        """One version's data for ``spec`` over its window."""
        raise NotImplementedError

    def min_p_of(self, spec: CheckSpec, canary: T, baseline: T) -> float:
        """The smallest p-value ``spec`` could give on both versions' data."""
        raise NotImplementedError

    def judge_of(self, spec: CheckSpec, canary: T, baseline: T, judging: Judging) -> CheckResult:
        """The judged result of ``spec`` on both versions' data."""
        raise NotImplementedError

    async def fetch(self, spec: CheckSpec, look: Look) -> MetricPair:
        """Both versions' data, from server spans when neither version matched any series."""
        with tracer().start_as_current_span(f"check {spec.name}"):
            canary, baseline = await asyncio.gather(
                self.fetch_version(spec, look, look.canary), self.fetch_version(spec, look, look.baseline)
            )
        if canary.matched or baseline.matched or look.aggregates is None:
            return MetricPair(canary, baseline)
        spans = look.aggregates.server_spans(spec)
        if spans is None:
            return MetricPair(canary, baseline)
        return MetricPair(Fetched(spans[0], True, SPANS), Fetched(spans[1], True, SPANS))

    def _typed(self, data: MetricPair) -> tuple[T, T] | None:
        canary, baseline = data.canary.data, data.baseline.data
        if isinstance(canary, self.data_type) and isinstance(baseline, self.data_type):
            return canary, baseline
        return None

    def min_p(self, spec: CheckSpec, data: MetricPair) -> float:
        """See :meth:`monitor.checks.kind.CheckKind.min_p`."""
        typed = self._typed(data)
        return 1.0 if typed is None else self.min_p_of(spec, *typed)

    def judge(self, spec: CheckSpec, data: MetricPair, judging: Judging) -> CheckResult:
        """Judge both versions' data; say which selector matched nothing, or that spans stood in."""
        typed = self._typed(data)
        if typed is None:
            return error_result(spec, "canary and baseline data are of different kinds")
        result = self.judge_of(spec, *typed, judging)
        if result.classification is Classification.NODATA:
            return replace(result, message=result.message + _unmatched(data.canary, data.baseline))
        if data.from_spans:
            return replace(result, message=f"{result.message} (from server spans: no metric series)")
        return result


def _unmatched(*fetched: Fetched) -> str:
    missing = [f"{{{f.selector}}}" for f in fetched if not f.matched]
    return f"; no series matched {' nor '.join(missing)}" if missing else ""
