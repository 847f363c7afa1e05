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
from dataclasses import dataclass, replace

from monitor.judges.checks import result_from
from monitor.judges.format import fmt_ratio, fmt_value
from monitor.models import (
    CheckResult,
    Classification,
    Comparison,
    CountsData,
    Direction,
    Evidence,
    HistogramData,
    OperationStats,
    TraceData,
)
from monitor.profiles import CheckSpec
from monitor.profiles.model import NewItems
from monitor.stats import compare_counts, compare_distribution, tarone
from monitor.stats.counts import counts_test
from monitor.stats.distribution import boundary_tests
from monitor.stats.distribution import min_p_value as distribution_min_p

MAX_EVIDENCE = 10


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


def _sides(direction: Direction) -> tuple[bool, ...]:
    """Which one-sided tests regress: ``True`` for increases, ``False`` for decreases."""
    return {Direction.INCREASE: (True,), Direction.DECREASE: (False,), Direction.EITHER: (True, False)}[
        direction
    ]


def _items_min_p(spec: CheckSpec, data: TraceData, items: list[_Item]) -> float:
    if _nodata(spec, data) is not None:
        return 1.0
    sides = _sides(spec.direction)
    return min(
        (
            len(sides) * counts_test(i.canary, i.baseline).min_p_value(above=side)
            for i in _comparable(spec, items)
            for side in sides
        ),
        default=1.0,
    )


def _change(item: _Item, comparison: Comparison) -> str:
    if item.baseline.events == 0:
        return "new"
    if item.canary.events == 0:
        return "vanished"
    return f"{fmt_ratio(comparison.effect)} baseline"


def _judge_items(
    spec: CheckSpec, data: TraceData, items: list[_Item], alpha: float, what: str, relevance: float
) -> CheckResult:
    """Every item's exact test in the directions that regress, as one Tarone family.

    An item the baseline never had is a finding; with ``new_items: evidence`` it is listed, not
    failed (a new version may call a new service).
    """
    if (missing := _nodata(spec, data)) is not None:
        return missing
    tested = _comparable(spec, items)
    if not tested:
        return _nothing_comparable(spec, data)
    sides = _sides(spec.direction)
    min_ps = [
        len(sides) * counts_test(i.canary, i.baseline).min_p_value(above=s) for i in tested for s in sides
    ]
    shares = tarone(min_ps, alpha)
    findings: list[tuple[_Item, Comparison]] = []
    undecided = False
    for item in tested:
        comparison = compare_counts(
            item.canary, item.baseline, direction=spec.direction, alpha=alpha / shares,
            allowed_effect=spec.allowed_effect, lower_allowed=spec.lower_allowed,
            negligible_rate=spec.negligible_value, min_exposure=spec.min_data, relevance=relevance,
        )  # fmt: skip
        if comparison.classification in (Classification.HIGH, Classification.LOW):
            findings.append((item, comparison))
        elif not comparison.conclusive:
            undecided = True
    findings.sort(key=lambda r: r[1].p_value if r[1].p_value is not None else 1.0)
    listed_only = spec.new_items is NewItems.EVIDENCE
    failing = [f for f in findings if not (listed_only and f[0].baseline.events == 0)]
    evidence = tuple(
        Evidence(
            f"{_change(i, c)}: {i.label}",
            i.baseline.events,
            i.canary.events,
            "",
            "traces " + ", ".join(i.exemplars),
        )
        for i, c in (failing + [f for f in findings if f not in failing])[:MAX_EVIDENCE]
    )
    if not failing:
        message = f"no {what} changed beyond tolerance ({len(tested)} compared)"
        if findings:
            message += f"; {len(findings)} new item(s) listed as evidence"
        result = _pass(spec, data, message, not undecided)
        return replace(result, evidence=evidence)
    item, worst = failing[0]
    rate_b = item.baseline.events / item.baseline.exposure if item.baseline.exposure else 0.0
    rate_c = item.canary.events / item.canary.exposure
    more = f" and {len(failing) - 1} more" if len(failing) > 1 else ""
    message = f"{item.label}: {_change(item, worst)} ({rate_b:.3g} -> {rate_c:.3g} per span){more}"
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
    """One item per operation and key (callee, exception type) either version has: its count per span.

    A key only the baseline has is kept with a canary count of zero: a call that vanished.
    """
    empty = OperationStats(0)
    items: list[_Item] = []
    for name in sorted(data.canary.keys() | data.baseline.keys()):
        c, b = data.canary.get(name, empty), data.baseline.get(name, empty)
        for key in sorted(counts_of(c).keys() | counts_of(b).keys()):
            items.append(
                _Item(label(name, key, key in counts_of(b)), CountsData(counts_of(c).get(key, 0), c.count),
                      CountsData(counts_of(b).get(key, 0), b.count), c.exemplars)
            )  # fmt: skip
    return items


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


def _operation_items(data: TraceData) -> list[_Item]:
    """Each operation's spans per request (server spans) of each version: new and vanished operations."""
    empty = OperationStats(0)
    requests_c = sum(op.count for name, op in data.canary.items() if name.endswith("(server)"))
    requests_b = sum(op.count for name, op in data.baseline.items() if name.endswith("(server)"))
    if not (requests_c and requests_b):  # no server spans: per span of the version instead
        requests_c = sum(op.count for op in data.canary.values())
        requests_b = sum(op.count for op in data.baseline.values())
    items: list[_Item] = []
    for name in sorted(data.canary.keys() | data.baseline.keys()):
        c, b = data.canary.get(name, empty), data.baseline.get(name, empty)
        canary, baseline = CountsData(c.count, requests_c), CountsData(b.count, requests_b)
        items.append(_Item(name, canary, baseline, c.exemplars))
    return items


def judge_trace_operations(
    spec: CheckSpec, data: TraceData, alpha: float, relevance: float = 0.5
) -> CheckResult:
    """Each operation's spans per request: one that vanished (or appeared) is a finding."""
    return _judge_items(spec, data, _operation_items(data), alpha, "operation's frequency", relevance)


def operations_min_p(spec: CheckSpec, data: TraceData) -> float:
    """The smallest p-value any operation's frequency could give."""
    return _items_min_p(spec, data, _operation_items(data))


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
    """Span durations per operation: every operation's bucket bounds tested as one family.

    With ``direction: either`` a collapse (below ``1 - allowed_decrease`` of the baseline: a new
    version that returns at once, with a wrong answer) regresses as well as a slowdown.
    """
    if (missing := _nodata(spec, data)) is not None:
        return missing
    tested = [
        (name, c, ch, bh, boundary_tests(ch, bh, spec.direction))
        for name, c, ch, bh in _histograms(spec, data)
    ]
    if not tested:
        return _nothing_comparable(spec, data)
    sides = len(_sides(spec.direction))
    shares = tarone([sides * t.min_p_value for *_, tests in tested for t in tests], alpha)
    level = alpha / shares
    worst: tuple[str, OperationStats, Comparison, tuple[Evidence, ...]] | None = None
    undecided = False
    for name, c, ch, bh, tests in tested:
        significant = any(t.p_value * sides <= level and t.min_p_value * sides <= level for t in tests)
        comparison, quantiles = compare_distribution(
            ch, bh, direction=spec.direction, alpha=level, allowed_effect=spec.allowed_effect,
            lower_allowed=spec.lower_allowed, min_count=spec.min_data, quantiles=spec.quantiles,
            tests=tests, significant=significant, relevance=relevance,
        )  # fmt: skip
        if comparison.classification in (Classification.HIGH, Classification.LOW):
            if worst is None or (comparison.p_value or 1.0) < (worst[2].p_value or 1.0):
                evidence = tuple(
                    Evidence(f"{name} p{q.q * 100:g}", q.baseline, q.canary, "s") for q in quantiles
                )
                worst = (name, c, comparison, evidence)
        elif not comparison.conclusive:
            undecided = True
    if worst is None:
        return _pass(
            spec,
            data,
            f"no operation's latency changed beyond tolerance ({len(tested)} compared)",
            not undecided,
        )
    name, c, comparison, evidence = worst
    change = "collapsed to" if comparison.classification is Classification.LOW else ""
    message = (
        f"{name} {comparison.detail} {change + ' ' if change else ''}{fmt_ratio(comparison.effect)} baseline "
        f"({fmt_value(comparison.baseline_value, 's')} -> {fmt_value(comparison.canary_value, 's')})"
    )
    exemplars = Evidence(f"{name} exemplars", None, None, "", "traces " + ", ".join(c.exemplars))
    adjusted = replace(comparison, p_value=min(1.0, (comparison.p_value or 1.0) * shares))
    return result_from(spec, adjusted, message, (*evidence, exemplars))
