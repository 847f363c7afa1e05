"""Judging traces, per operation (span name and kind) of the service.

* **latency**: the operation's span-duration histogram, by the distribution comparison;
* **errors**: failed spans per span, by the counts comparison;
* **fan-out**: calls to each callee per span of the calling operation (the N+1 regression no
  metric shows); a callee the baseline never called is a *new downstream edge*;
* **exceptions**: spans recording each exception type (``exception.type`` of span events) per
  span; a type the baseline never raised is *new*.

Every operation (or operation and callee, or operation and type; for latency every operation's
bucket bounds) is one exact test; they share the check's level by Tarone's rule (an item too
rare to ever be significant takes no share), and the check reports the strongest regression
with exemplar trace ids of the canary as evidence. Spans of one trace that arrive in different export
requests are not linked, so fan-out is a lower bound on both sides alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from monitor.judges.checks import result_from
from monitor.judges.format import fmt_ratio, fmt_value
from monitor.models import (
    CheckResult,
    Classification,
    Comparison,
    CountsData,
    Evidence,
    HistogramData,
)
from monitor.profiles import CheckSpec
from monitor.stats import compare_counts, compare_distribution, tarone
from monitor.stats.counts import counts_test
from monitor.stats.distribution import boundary_tests
from monitor.stats.distribution import min_p_value as distribution_min_p

MAX_EVIDENCE = 10


@dataclass(frozen=True)
class OperationStats:
    """One operation's spans of one version over the window."""

    count: int
    errors: int = 0
    buckets: tuple[int, ...] = ()
    exceptions: Mapping[str, int] = field(default_factory=dict)
    exemplars: tuple[str, ...] = ()
    calls: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceData:
    """Both versions' operations; ``bucket_bounds_s`` are the upper bounds of ``buckets`` but the last.

    ``canary_callers`` and ``baseline_callers`` are the calls to each version as its callers saw
    them (client spans paired with the version's server spans, or attributed by address), named
    ``"<caller service>: <client operation> -> <callee operation>"``.
    """

    bucket_bounds_s: tuple[float, ...]
    canary: Mapping[str, OperationStats]
    baseline: Mapping[str, OperationStats]
    canary_callers: Mapping[str, OperationStats] = field(default_factory=dict)
    baseline_callers: Mapping[str, OperationStats] = field(default_factory=dict)


@dataclass(frozen=True)
class _Item:
    label: str
    canary: CountsData
    baseline: CountsData
    exemplars: tuple[str, ...]


def _nodata(spec: CheckSpec, data: TraceData) -> CheckResult | None:
    canary_n = sum(op.count for op in data.canary.values())
    baseline_n = sum(op.count for op in data.baseline.values())
    if canary_n >= spec.min_data and baseline_n >= spec.min_data:
        return None
    message = (
        f"too few spans to judge (canary {canary_n}, baseline {baseline_n}; need {spec.min_data:g} each)"
    )
    return result_from(spec, Comparison.nodata(spec.comparison, baseline_n, canary_n), message)


def _pass(spec: CheckSpec, data: TraceData, message: str, conclusive: bool) -> CheckResult:
    comparison = Comparison(
        kind=spec.comparison, classification=Classification.PASS, effect=None, interval=None, p_value=None,
        baseline_value=None, canary_value=None,
        baseline_n=sum(op.count for op in data.baseline.values()),
        canary_n=sum(op.count for op in data.canary.values()),
        conclusive=conclusive, detail="operations",
    )  # fmt: skip
    return result_from(spec, comparison, message)


def _comparable(spec: CheckSpec, items: list[_Item]) -> list[_Item]:
    """Items with enough spans in both versions, and the others present in both pooled into one.

    A service with many rarely used operations is still judged on them together, rather than
    on nothing; items only one version has are left to the checks of new and vanished ones.
    """
    tested = [i for i in items if min(i.canary.exposure, i.baseline.exposure) >= spec.min_data]
    small = [i for i in items if i not in tested and min(i.canary.exposure, i.baseline.exposure) > 0]
    if len(small) > 1:
        pooled = _Item(
            f"{len(small)} operations below {spec.min_data:g} spans each (pooled)",
            CountsData(sum(i.canary.events for i in small), sum(i.canary.exposure for i in small)),
            CountsData(sum(i.baseline.events for i in small), sum(i.baseline.exposure for i in small)),
            tuple(e for i in small for e in i.exemplars)[:5],
        )
        if min(pooled.canary.exposure, pooled.baseline.exposure) >= spec.min_data:
            tested.append(pooled)
    return tested


def _nothing_comparable(spec: CheckSpec, data: TraceData) -> CheckResult:
    """``nodata``, never a pass: no operation (nor their pool) has enough spans in both versions."""
    canary_n = sum(op.count for op in data.canary.values())
    baseline_n = sum(op.count for op in data.baseline.values())
    message = (
        f"nothing comparable: no operation, even pooled, has {spec.min_data:g} spans in both versions "
        f"({len(data.canary)} canary and {len(data.baseline)} baseline operations)"
    )
    return result_from(spec, Comparison.nodata(spec.comparison, baseline_n, canary_n), message)


def _items_min_p(spec: CheckSpec, data: TraceData, items: list[_Item]) -> float:
    if _nodata(spec, data) is not None:
        return 1.0
    return min(
        (counts_test(i.canary, i.baseline).min_p_value() for i in _comparable(spec, items)), default=1.0
    )


def _judge_items(
    spec: CheckSpec, data: TraceData, items: list[_Item], alpha: float, what: str, relevance: float
) -> CheckResult:
    if (missing := _nodata(spec, data)) is not None:
        return missing
    tested = _comparable(spec, items)
    if not tested:
        return _nothing_comparable(spec, data)
    shares = tarone([counts_test(i.canary, i.baseline).min_p_value() for i in tested], alpha)
    regressions: list[tuple[_Item, Comparison]] = []
    undecided = False
    for item in tested:
        comparison = compare_counts(
            item.canary, item.baseline, alpha=alpha / shares, allowed_effect=spec.allowed_effect,
            negligible_rate=spec.negligible_value, min_exposure=spec.min_data, relevance=relevance,
        )  # fmt: skip
        if comparison.classification is Classification.HIGH:
            regressions.append((item, comparison))
        elif not comparison.conclusive:
            undecided = True
    if not regressions:
        return _pass(spec, data, f"no {what} rose ({len(tested)} compared)", not undecided)
    regressions.sort(key=lambda r: r[1].p_value if r[1].p_value is not None else 1.0)
    item, worst = regressions[0]
    new = item.baseline.events == 0
    rate_b = item.baseline.events / item.baseline.exposure if item.baseline.exposure else 0.0
    rate_c = item.canary.events / item.canary.exposure
    change = "new" if new else f"{fmt_ratio(worst.effect)} baseline"
    more = f" and {len(regressions) - 1} more" if len(regressions) > 1 else ""
    message = f"{item.label}: {change} ({rate_b:.3g} -> {rate_c:.3g} per span){more}"
    evidence = tuple(
        Evidence(r.label, r.baseline.events, r.canary.events, "", "traces " + ", ".join(r.exemplars))
        for r, _ in regressions[:MAX_EVIDENCE]
    )
    adjusted = replace(worst, p_value=min(1.0, (worst.p_value or 1.0) * shares))
    return result_from(spec, adjusted, message, evidence)


def _pairs(data: TraceData) -> list[tuple[str, OperationStats, OperationStats]]:
    empty = OperationStats(0)
    return [(name, op, data.baseline.get(name, empty)) for name, op in sorted(data.canary.items())]


def _caller_pairs(data: TraceData) -> list[tuple[str, OperationStats, OperationStats]]:
    """Calls to the service as its callers saw them, per caller edge, both versions."""
    empty = OperationStats(0)
    return [
        (f"{name} (as its caller saw it)", op, data.baseline_callers.get(name, empty))
        for name, op in sorted(data.canary_callers.items())
    ]


def _error_items(data: TraceData) -> list[_Item]:
    return [
        _Item(f"errors of {name}", CountsData(c.errors, c.count), CountsData(b.errors, b.count), c.exemplars)
        for name, c, b in (*_pairs(data), *_caller_pairs(data))
    ]


def judge_trace_errors(spec: CheckSpec, data: TraceData, alpha: float, relevance: float = 0.5) -> CheckResult:
    """Failed spans per span, per operation."""
    return _judge_items(spec, data, _error_items(data), alpha, "operation's error ratio", relevance)


def _keyed(
    data: TraceData,
    counts_of: Callable[[OperationStats], Mapping[str, int]],
    label: Callable[[str, str, bool], str],
) -> list[_Item]:
    """One item per operation and key (callee, exception type): the key's count per span."""
    return [
        _Item(label(name, key, key in counts_of(b)), CountsData(n, c.count),
              CountsData(counts_of(b).get(key, 0), b.count), c.exemplars)
        for name, c, b in _pairs(data)
        for key, n in sorted(counts_of(c).items())
    ]  # fmt: skip


def _fanout_items(data: TraceData) -> list[_Item]:
    return _keyed(
        data, lambda op: op.calls,
        lambda name, callee, known: f"{name} -> {callee}" + ("" if known else " (new downstream edge)"),
    )  # fmt: skip


def judge_trace_fanout(spec: CheckSpec, data: TraceData, alpha: float, relevance: float = 0.5) -> CheckResult:
    """Calls to each callee per span of the caller; a callee the baseline never called is a new edge."""
    return _judge_items(spec, data, _fanout_items(data), alpha, "call count per request", relevance)


def _exception_items(data: TraceData) -> list[_Item]:
    return _keyed(
        data, lambda op: op.exceptions,
        lambda name, kind, known: f"{kind} in {name}" + ("" if known else " (new exception type)"),
    )  # fmt: skip


def judge_trace_exceptions(
    spec: CheckSpec, data: TraceData, alpha: float, relevance: float = 0.5
) -> CheckResult:
    """Spans recording each exception type, per span of the operation; unseen types are new."""
    return _judge_items(spec, data, _exception_items(data), alpha, "exception rate", relevance)


def errors_min_p(spec: CheckSpec, data: TraceData) -> float:
    """The smallest p-value any operation's error count could give (1 without comparable data)."""
    return _items_min_p(spec, data, _error_items(data))


def fanout_min_p(spec: CheckSpec, data: TraceData) -> float:
    """The smallest p-value any operation's calls to a callee could give."""
    return _items_min_p(spec, data, _fanout_items(data))


def exceptions_min_p(spec: CheckSpec, data: TraceData) -> float:
    """The smallest p-value any operation's count of an exception type could give."""
    return _items_min_p(spec, data, _exception_items(data))


def _histograms(
    spec: CheckSpec, data: TraceData
) -> list[tuple[str, OperationStats, HistogramData, HistogramData]]:
    """Each operation with enough spans in both versions, with both versions' duration histograms;
    the operations below the minimum that both versions have, pooled into one."""
    bounds = (*data.bucket_bounds_s, math.inf)

    def hist(buckets: Sequence[float]) -> HistogramData:
        return HistogramData(bounds, tuple(float(x) for x in buckets))

    tested: list[tuple[str, OperationStats, HistogramData, HistogramData]] = []
    small: list[tuple[OperationStats, OperationStats]] = []
    for name, c, b in (*_pairs(data), *_caller_pairs(data)):
        if c.count >= spec.min_data and b.count >= spec.min_data:
            tested.append((name, c, hist(c.buckets), hist(b.buckets)))
        elif c.count > 0 and b.count > 0:
            small.append((c, b))
    if len(small) > 1:
        canary = [sum(col) for col in zip(*(c.buckets for c, _ in small), strict=True)]
        baseline = [sum(col) for col in zip(*(b.buckets for _, b in small), strict=True)]
        exemplars = tuple(e for c, _ in small for e in c.exemplars)[:5]
        pooled = OperationStats(sum(c.count for c, _ in small), exemplars=exemplars)
        if min(sum(canary), sum(baseline)) >= spec.min_data:
            label = f"{len(small)} operations below {spec.min_data:g} spans each (pooled)"
            tested.append((label, pooled, hist(canary), hist(baseline)))
    return tested


def latency_min_p(spec: CheckSpec, data: TraceData) -> float:
    """The smallest p-value any operation's bucket bounds could give."""
    if _nodata(spec, data) is not None:
        return 1.0
    return min(
        (distribution_min_p(c, b, spec.direction) for _, _, c, b in _histograms(spec, data)), default=1.0
    )


def judge_trace_latency(
    spec: CheckSpec, data: TraceData, alpha: float, relevance: float = 0.5
) -> CheckResult:
    """Span durations per operation: every operation's bucket bounds tested as one family."""
    if (missing := _nodata(spec, data)) is not None:
        return missing
    tested = [
        (name, c, ch, bh, boundary_tests(ch, bh, spec.direction))
        for name, c, ch, bh in _histograms(spec, data)
    ]
    if not tested:
        return _nothing_comparable(spec, data)
    shares = tarone([t.min_p_value for *_, tests in tested for t in tests], alpha)
    level = alpha / shares
    worst: tuple[str, OperationStats, Comparison, tuple[Evidence, ...]] | None = None
    undecided = False
    for name, c, ch, bh, tests in tested:
        significant = any(t.p_value <= level and t.min_p_value <= level for t in tests)
        comparison, quantiles = compare_distribution(
            ch, bh, direction=spec.direction, alpha=level, allowed_effect=spec.allowed_effect,
            min_count=spec.min_data, quantiles=spec.quantiles, tests=tests, significant=significant,
            relevance=relevance,
        )  # fmt: skip
        if comparison.classification is Classification.HIGH:
            if worst is None or (comparison.p_value or 1.0) < (worst[2].p_value or 1.0):
                evidence = tuple(
                    Evidence(f"{name} p{q.q * 100:g}", q.baseline, q.canary, "s") for q in quantiles
                )
                worst = (name, c, comparison, evidence)
        elif not comparison.conclusive:
            undecided = True
    if worst is None:
        return _pass(spec, data, f"no operation got slower ({len(tested)} compared)", not undecided)
    name, c, comparison, evidence = worst
    message = (
        f"{name} {comparison.detail} {fmt_ratio(comparison.effect)} baseline "
        f"({fmt_value(comparison.baseline_value, 's')} -> {fmt_value(comparison.canary_value, 's')})"
    )
    exemplars = Evidence(f"{name} exemplars", None, None, "", "traces " + ", ".join(c.exemplars))
    adjusted = replace(comparison, p_value=min(1.0, (comparison.p_value or 1.0) * shares))
    return result_from(spec, adjusted, message, (*evidence, exemplars))
