"""The contract of a check kind: how it reads one look's data, and how it judges them.

A kind's data ``D`` holds both versions: a metric kind's is the two versions' query results
(:class:`monitor.checks.metric.MetricPair`), a log or trace kind's the look's merged aggregates.
Judging stays in the pure judges (:mod:`monitor.judges`); a kind only calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from monitor.judges.checks import error_result
from monitor.logs.counts import LogData
from monitor.models import CheckData, CheckResult, TraceData, Window
from monitor.probes.result import ProbeResult
from monitor.profiles.model import CheckSpec, Profile, TrafficPolicy
from monitor.sources.base import MetricsSource

D = TypeVar("D")


@dataclass(frozen=True)
class VersionQuery:
    """One version as a metrics query selects it: its label matchers, over its window."""

    matchers: str
    window: Window


class Aggregates(Protocol):
    """The look's log and trace aggregates of both versions, each signal merged once per look."""

    async def logs(self) -> LogData:
        """Template counts of both versions."""
        ...

    async def traces(self) -> TraceData:
        """Per-operation span statistics of both versions."""
        ...

    def server_spans(self, spec: CheckSpec) -> tuple[CheckData, CheckData] | None:
        """``(canary, baseline)`` data for a metric check from the versions' server spans, or None."""
        ...


class ProbeAttempts(Protocol):
    """The smoke probes' attempts made so far for one deployment (the store's, or one run's).

    One exception to "finished before ``until``": a one-off run's attempts
    (:class:`monitor.probes.session.RunAttempts`, ``analyze --probe``) are made now, after the
    analysed window may have ended; they are live and the only ones there are, so every look sees
    all of them, whatever ``until``.
    """

    async def attempts(self, probe: str, role: str, until: datetime) -> Sequence[ProbeResult]:
        """The attempts of ``probe`` against ``role`` (canary or baseline) finished before
        ``until`` (a one-off run's: all of them, see the class), oldest first; a ``MonitorError``
        when they cannot be read."""
        ...


@dataclass(frozen=True)
class AddedCheck:
    """A check a profile does not list, added to a request: a smoke probe's or an SLO's.

    ``subject`` is what its kind judges (a :class:`monitor.models.ProbeSpec`, an SLO); the kind
    finds it in :attr:`Look.subjects` under the check's name.
    """

    spec: CheckSpec
    subject: object
    # Whether its lack of data holds a verdict back (an SLO's series may carry no version label:
    # then it is not judged, while an error reading it still makes the run inconclusive).
    awaited: bool = True


@dataclass(frozen=True)
class Look:
    """What a check kind may read at one look: the metrics source and, when sent, logs and traces."""

    source: MetricsSource
    profile: Profile
    canary: VersionQuery
    baseline: VersionQuery
    # Canary mode splits counts and histograms into periods of this length (None: one whole window).
    period_s: float | None
    aggregates: Aggregates | None = None
    # What the added checks judge, by check name (AddedCheck.subject).
    subjects: Mapping[str, object] = field(default_factory=dict)
    probes: ProbeAttempts | None = None  # None: no probe was run for this analysis


@dataclass(frozen=True)
class Judging:
    """How one check is judged at this look.

    ``alpha`` is the level its test may spend; ``relevance`` how sure its effect size must be to
    regress (0.5: the estimate; early looks ask for a one-sided bound). ``window_ratio`` is the
    canary's window over the baseline's in before/after mode, None in canary mode.
    """

    alpha: float
    traffic: TrafficPolicy
    window_ratio: float | None = None
    relevance: float = 0.5


class CheckKind(Protocol[D]):
    """One kind of check: registered under a key (:mod:`monitor.profiles.kinds`)."""

    async def fetch(self, spec: CheckSpec, look: Look) -> D:
        """Both versions' data for ``spec`` at this look; a ``MonitorError`` when the backend fails."""
        ...

    def min_p(self, spec: CheckSpec, data: D) -> float:
        """The smallest p-value ``spec`` could give on ``data``: 1 when it cannot judge at all.

        What the check may claim of the look's false-alarm budget (:func:`monitor.stats.allocate`).
        """
        ...

    def judge(self, spec: CheckSpec, data: D, judging: Judging) -> CheckResult:
        """The judged result of ``spec`` on ``data``."""
        ...


def judge_safely(kind: CheckKind[Any], spec: CheckSpec, data: Any, judging: Judging) -> CheckResult:
    """Judge one check; a failure inside becomes an ``error`` result instead of an exception."""
    try:
        return kind.judge(spec, data, judging)
    except Exception as exc:  # one check raising is an error result, never a crash
        return error_result(spec, f"could not be judged ({type(exc).__name__}: {exc})")
