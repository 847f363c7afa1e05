"""Turning a check's PromQL templates into data for one version over one window."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from string import Template

from monitor.models import CheckData, ComparisonKind, CountsData, HistogramData, SamplesData, Window
from monitor.profiles import CheckSpec, Profile
from monitor.sources.base import InstantSample, MetricsSource

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
    pairs = [(profile.labels["service"], service)]
    if version is not None:
        pairs.append((profile.labels["version"], version))
    pairs.extend(extra)
    return ", ".join(f"{name}={_quote(value)}" for name, value in pairs)


def render(template: str, profile: Profile, matchers: str, window_s: float) -> str:
    """Substitute ``$selector``, ``$window`` and ``$<key>_label`` in a query template."""
    values = {"selector": matchers, "window": f"{max(1, round(window_s))}s"}
    values.update({f"{key}_label": label for key, label in profile.labels.items()})
    return Template(template).substitute(values)


def _total(samples: list[InstantSample]) -> float:
    return float(sum(s.value for s in samples if math.isfinite(s.value)))


def _histogram(samples: list[InstantSample]) -> HistogramData:
    cumulative: dict[float, float] = {}
    for sample in samples:
        le = sample.labels.get("le")
        if not le or not math.isfinite(sample.value):
            continue
        bound = float(le)
        cumulative[bound] = cumulative.get(bound, 0.0) + sample.value
    bounds = sorted(cumulative)
    counts: list[float] = []
    previous = 0.0
    for bound in bounds:
        # increase() extrapolates each bucket separately, so cumulative counts may dip a little.
        current = max(cumulative[bound], previous)
        counts.append(current - previous)
        previous = current
    return HistogramData(tuple(bounds), tuple(counts))


async def fetch_check(
    source: MetricsSource, spec: CheckSpec, profile: Profile, matchers: str, window: Window
) -> Fetched:
    """Query one version's data for ``spec`` over ``window`` (evaluated at the window's end)."""

    def query(template: str) -> str:
        return render(template, profile, matchers, window.duration_s)

    if spec.comparison is ComparisonKind.COUNTS:
        assert spec.exposure is not None
        exposure_q = source.instant(query(spec.exposure), window.end)
        if spec.events is not None:
            events, exposure = await asyncio.gather(
                source.instant(query(spec.events), window.end), exposure_q
            )
        else:
            events, exposure = [], await exposure_q
        return Fetched(CountsData(_total(events), _total(exposure)), bool(exposure), matchers)
    if spec.comparison is ComparisonKind.DISTRIBUTION:
        assert spec.buckets is not None
        buckets = await source.instant(query(spec.buckets), window.end)
        return Fetched(_histogram(buckets), bool(buckets), matchers)
    assert spec.series is not None
    series = await source.range(query(spec.series), window, SAMPLES_STEP_S)
    values = tuple(v for s in series for _, v in s.points if math.isfinite(v))
    return Fetched(SamplesData(values), bool(series), matchers)
