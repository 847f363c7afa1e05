"""The traffic kind: whether the canary got the traffic it should (a suspect run, never a regression)."""

from __future__ import annotations

from monitor.checks.counts import fetch_counts
from monitor.checks.kind import Judging, Look, VersionQuery
from monitor.checks.metric import Fetched, MetricKind
from monitor.judges.checks import counts_min_p, judge_traffic
from monitor.models import CheckResult, CountsData
from monitor.profiles.model import CheckSpec


class Traffic(MetricKind[CountsData]):
    """Reads each version's exposure as a counts check does; judged against the traffic policy."""

    data_type = CountsData

    async def fetch_version(self, spec: CheckSpec, look: Look, version: VersionQuery) -> Fetched:
        """See :func:`monitor.checks.counts.fetch_counts`."""
        return await fetch_counts(spec, look, version)

    def min_p_of(self, spec: CheckSpec, canary: CountsData, baseline: CountsData) -> float:
        """As a counts check's; a traffic check is never decisive, so it claims no false-alarm budget."""
        return counts_min_p(spec, canary, baseline)

    def judge_of(
        self, spec: CheckSpec, canary: CountsData, baseline: CountsData, judging: Judging
    ) -> CheckResult:
        """See :func:`monitor.judges.checks.judge_traffic`."""
        return judge_traffic(spec, canary, baseline, judging.traffic, judging.window_ratio)


TRAFFIC = Traffic()
