"""The traffic kind: whether the canary got the traffic it should (a suspect run, never a regression)."""

from __future__ import annotations

from monitor.checks.counts import Counts
from monitor.checks.kind import Judging
from monitor.judges.checks import judge_traffic
from monitor.models import CheckResult, CountsData
from monitor.profiles.model import CheckSpec


class Traffic(Counts):
    """Reads each version's exposure as a counts check does (and so claims like one: a traffic check
    is never decisive, so it takes no false-alarm budget); judged against the traffic policy."""

    def judge_of(
        self, spec: CheckSpec, canary: CountsData, baseline: CountsData, judging: Judging
    ) -> CheckResult:
        """See :func:`monitor.judges.checks.judge_traffic`."""
        return judge_traffic(spec, canary, baseline, judging.traffic, judging.window_ratio)


TRAFFIC = Traffic()
