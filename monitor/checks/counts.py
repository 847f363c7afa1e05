"""The counts kind: events per exposure of each version (e.g. 5xx responses per request)."""

from __future__ import annotations

import asyncio

from monitor.checks.kind import Judging, Look, VersionQuery
from monitor.checks.metric import Fetched, MetricKind, periodic, query, total
from monitor.judges.checks import counts_min_p, judge_counts
from monitor.models import CheckResult, CountsData
from monitor.profiles.model import CheckSpec


async def fetch_counts(spec: CheckSpec, look: Look, version: VersionQuery) -> Fetched:
    """Events and exposure of one version, period by period when the look has periods.

    Periods let a traffic split that changes mid-window be accounted for; without an ``events``
    template the events are zero (a traffic check counts exposure only).
    """
    assert spec.exposure is not None
    exposure_q = periodic(look.source, query(spec.exposure, look, version), version.window, look.period_s)
    if spec.events is not None:
        events_q = periodic(look.source, query(spec.events, look, version), version.window, look.period_s)
        events, exposure = await asyncio.gather(events_q, exposure_q)
    else:
        exposure = await exposure_q
        events = [[] for _ in exposure]
    periods = tuple((total(e), total(x)) for e, x in zip(events, exposure, strict=True))
    data = CountsData(
        sum(e for e, _ in periods), sum(x for _, x in periods), periods if len(periods) > 1 else ()
    )
    return Fetched(data, any(exposure), version.matchers)


class Counts(MetricKind[CountsData]):
    """Judged by the exact rate-ratio test (:func:`monitor.judges.checks.judge_counts`)."""

    data_type = CountsData

    async def fetch_version(self, spec: CheckSpec, look: Look, version: VersionQuery) -> Fetched:
        """See :func:`fetch_counts`."""
        return await fetch_counts(spec, look, version)

    def min_p_of(self, spec: CheckSpec, canary: CountsData, baseline: CountsData) -> float:
        """See :func:`monitor.judges.checks.counts_min_p`."""
        return counts_min_p(spec, canary, baseline)

    def judge_of(
        self, spec: CheckSpec, canary: CountsData, baseline: CountsData, judging: Judging
    ) -> CheckResult:
        """See :func:`monitor.judges.checks.judge_counts`."""
        return judge_counts(spec, canary, baseline, judging.alpha, judging.relevance)


COUNTS = Counts()
