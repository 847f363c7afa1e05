"""The ``slo_burn`` kind: how fast each version spends an SLO's error budget, against the environment's limit.

Not in a profile: :func:`slo_checks` adds one check per SLO of the analysed service to a request
(:class:`monitor.checks.kind.AddedCheck`), its subject the SLO and the limit. Each version's bad and
total events over its own window are read from the SLO's SLI:

* a PromQL SLI (Sloth's convention) is evaluated at the window's end with ``{{.window}}`` the
  window's length in seconds and the version's label matchers added to every selector
  (:func:`inject_matchers`). Sloth's SLIs are *rates* (events per second), so the counts are the
  rates times the window's seconds; a ``good`` SLI's bad events are ``total - good``;
* an SLI given as a profile's counts check is counted as that check counts (its events and
  exposure templates, :func:`monitor.checks.counts.fetch_counts`).

The judge is :func:`monitor.judges.slo.judge_slo_burn`.
"""

from __future__ import annotations

import asyncio
import re
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

    With a ``limit`` each is critical: a new version burning beyond it fails the run. Without one
    (lower environments) each only informs: weight 0, optional, never failing.
    """
    added: list[AddedCheck] = []
    for slo in slos:
        if slo.service != service:
            continue
        spec = CheckSpec(
            name=check_name(slo), comparison=ComparisonKind.COUNTS, signal=Signal.METRICS, kind=KIND,
            description=f"error budget burn of SLO {slo.name} ({slo.objective:g} over {slo.window_days}d)",
            critical=limit is not None, weight=1.0 if limit is not None else 0.0,
            optional=limit is None, unit="ratio",
        )  # fmt: skip
        added.append(AddedCheck(spec, BurnSubject(slo, limit)))
    return tuple(added)


# PromQL words that are not metric names where a selector could stand.
_KEYWORDS = frozenset((
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "atan2", "inf", "nan", "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
))  # fmt: skip
# Their parenthesised lists hold label names, not selectors.
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"[0-9.](?:[eE][+-]|[0-9A-Za-z_.])*")


def _skip_string(query: str, start: int) -> int:
    """The index just after the string literal opening at ``start``."""
    quote, index = query[start], start + 1
    while index < len(query) and query[index] != quote:
        index += 2 if query[index] == "\\" and quote != "`" else 1
    return index + 1


def bare_metric(query: str) -> str | None:
    """The first metric selected by name alone (``x_total`` rather than ``x_total{}``), or None.

    A scan, not a parser: outside string literals, label matchers (``{...}``) and ranges
    (``[...]``), a name that is no keyword, no function (followed by ``(``), no label list's
    member and no number selects a metric; followed by ``{`` it has braces.
    """
    index, in_labels = 0, False
    while index < len(query):
        char = query[index]
        if char in "\"'`":
            index = _skip_string(query, index)
        elif char in "{[":
            close = "}" if char == "{" else "]"
            while index < len(query) and query[index] != close:
                index = _skip_string(query, index) if query[index] in "\"'`" else index + 1
            index += 1
        elif char == ")":
            in_labels, index = False, index + 1
        elif number := _NUMBER.match(query, index):  # 0.5, 1e-3, 0x1f, a duration such as 5m
            index = number.end()
        elif match := _NAME.match(query, index):
            name, index = match.group(), match.end()
            following = query[index:].lstrip()
            if name in _LABEL_LISTS:
                in_labels = True
            elif not (in_labels or name in _KEYWORDS or following.startswith(("(", "{"))):
                return name
        else:
            index += 1
    return None


def inject_matchers(query: str, matchers: str) -> str:
    """``query`` with ``matchers`` (``a="1", b="2"``) added to every selector's ``{...}``.

    PromQL writes ``{`` only to open a selector's label matchers, outside string literals: each
    is followed by ``matchers``, and a comma when the selector had matchers of its own.
    """
    out: list[str] = []
    index = 0
    while index < len(query):
        char = query[index]
        if char in "\"'`":
            end = _skip_string(query, index)
            out.append(query[index:end])
            index = end
            continue
        out.append(char)
        index += 1
        if char == "{" and matchers:
            empty = query[index:].lstrip().startswith("}")
            out.append(matchers if empty else matchers + ", ")
    return "".join(out)


def version_query(slo: SLO, query: str, version: VersionQuery) -> str:
    """``query`` of ``slo``'s SLI for one version: over its window, selecting its series.

    :class:`InputError` naming the SLO and the fix when a metric is selected without braces.
    """
    if (name := bare_metric(query)) is not None:
        raise InputError(
            f"SLO {slo.name}: the SLI selects {name} without braces, so the version's labels cannot be "
            f'added; write {name}{{}} (or give its matchers, {name}{{code=~"5.."}})'
        )
    range_s = f"{max(1, round(version.window.duration_s))}s"
    return inject_matchers(query.replace(WINDOW_PLACEHOLDER, range_s), version.matchers)


async def _promql_counts(slo: SLO, look: Look, version: VersionQuery) -> CountsData:
    """Bad and total events of one version from a PromQL SLI: rates times the window's seconds."""
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


async def _check_counts(slo: SLO, look: Look, version: VersionQuery) -> CountsData:
    """Bad and total events of one version as the SLO's profile check counts them."""
    sli = slo.from_check
    assert sli is not None
    spec = CheckSpec(sli.check, ComparisonKind.COUNTS, events=sli.events, exposure=sli.exposure)
    fetched = await fetch_counts(spec, look, version)
    assert isinstance(fetched.data, CountsData)
    return fetched.data


@dataclass(frozen=True)
class BurnData:
    """Both versions' bad (events) and total (exposure) events of the SLO, over their windows."""

    subject: BurnSubject
    canary: CountsData
    baseline: CountsData
    windows_s: tuple[float, float]  # canary, baseline


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
        return BurnData(subject, canary, baseline, windows)

    def min_p(self, spec: CheckSpec, data: BurnData) -> float:
        """See :func:`monitor.judges.slo.slo_burn_min_p`."""
        return slo_burn_min_p(spec, data.subject.slo, data.subject.limit, data.canary)

    def judge(self, spec: CheckSpec, data: BurnData, judging: Judging) -> CheckResult:
        """See :func:`monitor.judges.slo.judge_slo_burn`."""
        subject = data.subject
        return judge_slo_burn(
            spec, subject.slo, subject.limit, data.canary, data.baseline, judging.alpha, data.windows_s
        )


SLO_BURN = SloBurn()
