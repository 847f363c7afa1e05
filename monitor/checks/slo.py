"""The ``slo_burn`` kind: how fast each version spends an SLO's error budget, against the environment's limit.

Not in a profile: :func:`slo_checks` adds one check per SLO of the analysed service to a request
(:class:`monitor.checks.kind.AddedCheck`), its subject the SLO and the limit. Each version's bad and
total events over its own window are read from the SLO's SLI:

* a PromQL SLI (Sloth's convention) is evaluated at the window's end with ``{{.window}}`` the
  window's length in seconds and the version's label matchers added to every selector
  (:func:`monitor.slo.promql.inject_matchers`). Sloth's SLIs are *rates* (events per second):
  ``rate(x[w])`` over a window of ``w`` seconds is ``increase(x[w]) / w``, so the counts are the
  rates times ``w``. An SLI written with a counting function (``increase``, ``delta``,
  ``count_over_time``, ``sum_over_time``) is already a count, which ``w`` would multiply once more;
  the config refuses it when it is read. A ``good`` SLI's bad events are ``total - good``;
* an SLI given as a profile's counts check is counted as that check counts (its events and
  exposure templates, :func:`monitor.checks.counts.fetch_counts`), the version's matchers written
  in the labels of the SLO's profile (``service_name`` in otel-http, ``service`` in
  prometheus-http), which need not be the analysis's.

Each check is optional: an SLI whose series carry no version label has no data for either
version, and that must not make every deploy of the service inconclusive. It is still critical
where the environment has a limit, and a critical check that regresses fails the run whether or
not it is optional (:func:`monitor.judges.score.decide`).

The judge is :func:`monitor.judges.slo.judge_slo_burn`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.checks.counts import fetch_counts
from monitor.checks.kind import AddedCheck, Judging, Look, VersionQuery
from monitor.checks.metric import total
from monitor.errors import InputError, MonitorError
from monitor.judges.slo import judge_slo_burn, slo_burn_min_p
from monitor.models import CheckResult, ComparisonKind, CountsData, Signal
from monitor.profiles import CheckSpec
from monitor.slo.model import SLO, WINDOW_PLACEHOLDER
from monitor.slo.promql import bare_metric, inject_matchers, rename_labels

KIND = "slo_burn"


def check_name(slo: SLO) -> str:
    """The verdict's name of ``slo``'s check: ``slo_burn_<name>``, ``-`` as ``_``."""
    return "slo_burn_" + slo.name.replace("-", "_")


@dataclass(frozen=True)
class BurnSubject:
    """What a ``slo_burn`` check judges: the SLO, and the burn rate it may not exceed (None: no limit)."""

    slo: SLO
    limit: float | None


def slo_checks(slos: Sequence[SLO], service: str, limit: float | None) -> tuple[AddedCheck, ...]:
    """The ``slo_burn`` checks of ``service``'s SLOs among ``slos``.

    Each is required but not awaited: no data holds no verdict back (the SLI's series may carry no
    version label), while an error reading it makes the run inconclusive, as any backend failure
    must. With a ``limit`` each is critical: a new version burning beyond it fails the run. Without
    one (lower environments) each only informs: weight 0, never failing.
    """
    added: list[AddedCheck] = []
    for slo in slos:
        if slo.service != service:
            continue
        spec = CheckSpec(
            name=check_name(slo), comparison=ComparisonKind.COUNTS, signal=Signal.METRICS, kind=KIND,
            description=f"error budget burn of SLO {slo.name} ({slo.objective:g} over {slo.window_days}d)",
            critical=limit is not None, weight=1.0 if limit is not None else 0.0,
            unit="ratio",
        )  # fmt: skip
        added.append(AddedCheck(spec, BurnSubject(slo, limit), awaited=False))
    return tuple(added)


def version_query(slo: SLO, query: str, version: VersionQuery) -> str:
    """``query`` of ``slo``'s SLI for one version: over its window, selecting its series.

    :class:`InputError` naming the SLO and the fix when a metric is selected without braces (the
    config refuses it when read: this guards SLOs built otherwise).
    """
    if (name := bare_metric(query)) is not None:
        raise InputError(
            f"SLO {slo.name}: the SLI selects {name} without braces, so the version's labels cannot be "
            f'added; write {name}{{}} (or give its matchers, {name}{{code=~"5.."}})'
        )
    range_s = f"{max(1, round(version.window.duration_s))}s"
    return inject_matchers(query.replace(WINDOW_PLACEHOLDER, range_s), version.matchers)


async def _promql_counts(slo: SLO, look: Look, version: VersionQuery) -> CountsData:
    """Bad and total events of one version from a PromQL SLI: rates times the window's seconds.

    ``rate(x[w]) * w = increase(x[w])``: events over the window, whatever the scrape interval.
    """
    bad_or_good = slo.errors if slo.errors is not None else slo.good
    assert bad_or_good is not None  # an SLO has one of them
    queries = (version_query(slo, slo.total, version), version_query(slo, bad_or_good, version))
    total_rate, other_rate = await asyncio.gather(
        *(look.source.instant(q, version.window.end) for q in queries)
    )
    window_s = version.window.duration_s
    events, other = total(total_rate) * window_s, total(other_rate) * window_s
    bad = other if slo.errors is not None else max(0.0, events - other)
    return CountsData(bad, events)


def _version_label(slo: SLO, look: Look) -> str:
    """The label telling the versions apart in ``slo``'s SLI: its profile's, else the analysis's."""
    return slo.from_check.version_label if slo.from_check is not None else look.profile.labels.version


def sli_matchers(slo: SLO, look: Look, version: VersionQuery) -> VersionQuery:
    """``version`` selected in the labels of ``slo``'s profile when its SLI is a profile's check.

    The look's matchers are written in the analysis profile's label names (``service_name`` in
    otel-http); an SLI from prometheus-http's check reads ``service`` and ``version``.
    """
    sli = slo.from_check
    if sli is None:
        return version
    labels = look.profile.labels
    names = {labels.service: sli.service_label, labels.version: sli.version_label}
    if all(old == new for old, new in names.items()):
        return version
    try:
        return VersionQuery(rename_labels(version.matchers, names), version.window)
    except ValueError as exc:
        raise MonitorError(f"SLO {slo.name}: {exc}") from exc


async def _check_counts(slo: SLO, look: Look, version: VersionQuery) -> CountsData:
    """Bad and total events of one version as the SLO's profile check counts them."""
    sli = slo.from_check
    assert sli is not None
    spec = CheckSpec(sli.check, ComparisonKind.COUNTS, events=sli.events, exposure=sli.exposure)
    fetched = await fetch_counts(spec, look, sli_matchers(slo, look, version))
    assert isinstance(fetched.data, CountsData)
    return fetched.data


@dataclass(frozen=True)
class BurnData:
    """Both versions' bad (events) and total (exposure) events of the SLO, over their windows.

    ``same_window``: both versions were observed over one window (canary mode), so a burn both
    share may be one incident; ``version_label`` is the label that tells the versions apart.
    """

    subject: BurnSubject
    canary: CountsData
    baseline: CountsData
    windows_s: tuple[float, float]  # canary, baseline
    same_window: bool = False
    version_label: str = ""


class SloBurn:
    """The new version's error-budget burn against the environment's limit."""

    async def fetch(self, spec: CheckSpec, look: Look) -> BurnData:
        """Both versions' events of the SLO; see the module's docstring."""
        subject = look.subjects.get(spec.name)
        if not isinstance(subject, BurnSubject):
            raise MonitorError(f"no SLO is behind check {spec.name}")
        count = _check_counts if subject.slo.from_check is not None else _promql_counts
        canary, baseline = await asyncio.gather(
            count(subject.slo, look, look.canary), count(subject.slo, look, look.baseline)
        )
        windows = (look.canary.window.duration_s, look.baseline.window.duration_s)
        same = look.canary.window == look.baseline.window
        return BurnData(subject, canary, baseline, windows, same, _version_label(subject.slo, look))

    def min_p(self, spec: CheckSpec, data: BurnData) -> float:
        """See :func:`monitor.judges.slo.slo_burn_min_p`."""
        return slo_burn_min_p(spec, data.subject.slo, data.subject.limit, data.canary)

    def judge(self, spec: CheckSpec, data: BurnData, judging: Judging) -> CheckResult:
        """See :func:`monitor.judges.slo.judge_slo_burn`."""
        subject = data.subject
        return judge_slo_burn(
            spec, subject.slo, subject.limit, data.canary, data.baseline, judging.alpha, data.windows_s,
            same_window=data.same_window, version_label=data.version_label,
        )  # fmt: skip


SLO_BURN = SloBurn()
