"""The samples kind: points of each version's time series (gauges such as CPU or memory)."""

from __future__ import annotations

import math

from monitor.checks.kind import Judging, Look, VersionQuery
from monitor.checks.metric import Fetched, MetricKind
from monitor.judges.checks import judge_samples, samples_min_p
from monitor.models import CheckResult, SamplesData
from monitor.profiles.model import CheckSpec
from monitor.profiles.templates import render

SAMPLES_STEP_S = 60.0


class Samples(MetricKind[SamplesData]):
    """Judged by the Mann-Whitney shift on batch means (:func:`monitor.judges.checks.judge_samples`)."""

    data_type = SamplesData

    async def fetch_version(self, spec: CheckSpec, look: Look, version: VersionQuery) -> Fetched:
        """One version's points over its window, one a minute (never split into periods)."""
        assert spec.series is not None
        window = version.window
        series = await look.source.range(
            render(spec.series, look.profile, version.matchers, window.duration_s), window, SAMPLES_STEP_S
        )
        values = tuple(v for s in series for _, v in s.points if math.isfinite(v))
        return Fetched(SamplesData(values), bool(series), version.matchers)

    def min_p_of(self, spec: CheckSpec, canary: SamplesData, baseline: SamplesData) -> float:
        """See :func:`monitor.judges.checks.samples_min_p`."""
        return samples_min_p(spec, canary, baseline)

    def judge_of(
        self, spec: CheckSpec, canary: SamplesData, baseline: SamplesData, judging: Judging
    ) -> CheckResult:
        """See :func:`monitor.judges.checks.judge_samples`."""
        return judge_samples(spec, canary, baseline, judging.alpha)


SAMPLES = Samples()
