"""Judging one check: the spec and both versions' data become a :class:`CheckResult`."""

from __future__ import annotations

from dataclasses import replace

from monitor.judges.buckets import bucket_counts
from monitor.judges.format import fmt_p, fmt_ratio, fmt_value
from monitor.models import (
    CheckResult,
    Classification,
    Comparison,
    ComparisonKind,
    CountsData,
    Direction,
    Evidence,
    HistogramData,
    SamplesData,
)
from monitor.profiles import CheckSpec, TrafficPolicy
from monitor.stats import compare_counts, compare_distribution, compare_samples
from monitor.stats.autocorr import batch_means
from monitor.stats.counts import counts_test
from monitor.stats.distribution import min_p_value as histogram_min_p


def result_from(
    spec: CheckSpec, comparison: Comparison, message: str, evidence: tuple[Evidence, ...] = ()
) -> CheckResult:
    """The published result of ``spec`` judged as ``comparison``."""
    return CheckResult(
        name=spec.name,
        signal=spec.signal,
        comparison=spec.comparison,
        classification=comparison.classification,
        critical=spec.critical,
        weight=spec.weight,
        message=message,
        baseline_value=comparison.baseline_value,
        baseline_n=comparison.baseline_n,
        canary_value=comparison.canary_value,
        canary_n=comparison.canary_n,
        effect=comparison.effect,
        interval=comparison.interval,
        p_value=comparison.p_value,
        conclusive=comparison.conclusive,
        purpose=spec.purpose,
        unit=spec.unit,
        evidence=evidence,
        bound=comparison.bound,
        allowed=allowed_range(spec),
    )


def allowed_range(spec: CheckSpec) -> tuple[float | None, float | None]:
    """The ratio canary/baseline ``spec`` tolerates below and above; None for a side that never regresses.

    A samples check's margin is symmetric around the baseline median (:func:`compare_samples`):
    ``allowed_effect`` of it either way; ratios tolerate down to ``spec.lower_allowed``.
    """
    if spec.direction is Direction.INCREASE:
        lower = None
    elif spec.comparison is ComparisonKind.SAMPLES:
        lower = 1.0 - spec.allowed_effect
    else:
        lower = spec.lower_allowed
    upper = None if spec.direction is Direction.DECREASE else 1.0 + spec.allowed_effect
    return lower, upper


def error_result(spec: CheckSpec, message: str) -> CheckResult:
    """The result of a check whose data could not be fetched or judged."""
    empty = replace(Comparison.nodata(spec.comparison, 0.0, 0.0), classification=Classification.ERROR)
    return result_from(spec, empty, message)


def _label(spec: CheckSpec) -> str:
    return spec.description or spec.name


def verdict_words(spec: CheckSpec, c: Comparison) -> str:
    """How a judged comparison reads: regressed, ok, or beyond the allowance but not yet clear."""
    if c.classification in (Classification.HIGH, Classification.LOW):
        return f"regressed (p={fmt_p(c.p_value)})"
    allowed = 1.0 + spec.allowed_effect
    effect = c.effect if c.effect is not None else 1.0
    beyond_up = spec.direction is not Direction.DECREASE and effect > allowed
    beyond_down = spec.direction is not Direction.INCREASE and effect < spec.lower_allowed
    if beyond_up or beyond_down:
        return f"not yet conclusive (p={fmt_p(c.p_value)})"
    return "ok"


def judge_counts(
    spec: CheckSpec, canary: CountsData, baseline: CountsData, alpha: float, relevance: float = 0.5
) -> CheckResult:
    """Judge an events-per-exposure check (e.g. the 5xx ratio)."""
    c = compare_counts(
        canary, baseline, direction=spec.direction, alpha=alpha, relevance=relevance,
        allowed_effect=spec.allowed_effect, min_exposure=spec.min_data,
        negligible_rate=spec.negligible_value, lower_allowed=spec.lower_allowed,
    )  # fmt: skip
    evidence = (
        Evidence("events", baseline.events, canary.events),
        Evidence("exposure", baseline.exposure, canary.exposure),
    )
    if c.classification is Classification.NODATA:
        return result_from(spec, c, _nodata_message(spec, canary.exposure, baseline.exposure), evidence)
    message = (
        f"{_label(spec)} {fmt_ratio(c.effect)} baseline "
        f"({fmt_value(c.baseline_value, spec.unit)} -> {fmt_value(c.canary_value, spec.unit)}), "
        f"{verdict_words(spec, c)}; allowed {fmt_ratio(1 + spec.allowed_effect)}"
    )
    return result_from(spec, c, message, evidence)


def judge_distribution(
    spec: CheckSpec, canary: HistogramData, baseline: HistogramData, alpha: float, relevance: float = 0.5
) -> CheckResult:
    """Judge a histogram check: bucket-bound tests for the evidence, quantile ratios for the size."""
    c, quantiles = compare_distribution(
        canary, baseline, direction=spec.direction, alpha=alpha, relevance=relevance,
        allowed_effect=spec.allowed_effect, min_count=spec.min_data, quantiles=spec.quantiles,
        lower_allowed=spec.lower_allowed,
    )  # fmt: skip
    if c.classification is Classification.NODATA:
        return result_from(spec, c, _nodata_message(spec, canary.total, baseline.total))
    evidence = tuple(Evidence(f"p{q.q * 100:g}", q.baseline, q.canary, spec.unit) for q in quantiles)
    message = (
        f"{_label(spec)} {c.detail} {fmt_ratio(c.effect)} baseline "
        f"({fmt_value(c.baseline_value, spec.unit)} -> {fmt_value(c.canary_value, spec.unit)}), "
        f"{verdict_words(spec, c)}; allowed {fmt_ratio(1 + spec.allowed_effect)}"
    )
    return replace(result_from(spec, c, message, evidence), histogram=bucket_counts(canary, baseline))


def judge_samples(
    spec: CheckSpec, canary: SamplesData, baseline: SamplesData, alpha: float, *, batched: bool = True
) -> CheckResult:
    """Judge a time-series check (gauges such as CPU or memory) by the Mann-Whitney shift.

    Points of a time series are autocorrelated; the test runs on batch means
    (:mod:`monitor.stats.autocorr`) so that neighbouring points do not count as independent.
    ``batched=False`` is for raw observations that are independent already (probe answers).
    """
    if batched:
        canary_batches, baseline_batches = batch_means(canary.values), batch_means(baseline.values)
    else:
        canary_batches, baseline_batches = canary.values, baseline.values
    c = compare_samples(
        list(canary_batches), list(baseline_batches), direction=spec.direction,
        confidence=1.0 - alpha, allowed_effect=spec.allowed_effect, min_points=int(spec.min_data),
    )  # fmt: skip
    if c.classification is Classification.NODATA:
        message = _nodata_message(spec, len(canary.values), len(baseline.values), "points")
        if batched and min(len(canary.values), len(baseline.values)) >= spec.min_data:
            message = (
                f"too autocorrelated to judge: {len(canary_batches)} canary and {len(baseline_batches)} "
                f"baseline independent batches, below the minimum of {spec.min_data:g}; use a longer window"
            )
        return result_from(spec, c, message)
    base = c.baseline_value or 0.0
    share = (c.effect or 0.0) / abs(base) if base else 0.0
    relative = f" ({share:+.0%})" if base else ""
    shift = fmt_value(c.effect, spec.unit)
    lower, upper = allowed_range(spec)
    beyond = (upper is not None and 1 + share > upper) or (lower is not None and 1 + share < lower)
    if c.classification in (Classification.HIGH, Classification.LOW):
        words = "regressed"
    else:
        words = "not yet conclusive" if beyond else "ok"
    message = (
        f"{_label(spec)} shift {'+' if (c.effect or 0) >= 0 else ''}{shift}{relative} "
        f"(median {fmt_value(c.baseline_value, spec.unit)} -> {fmt_value(c.canary_value, spec.unit)}), "
        f"{words}; allowed {spec.allowed_effect:+.0%}"
    )
    return result_from(spec, c, message)


def judge_traffic(
    spec: CheckSpec,
    canary: CountsData,
    baseline: CountsData,
    policy: TrafficPolicy,
    window_ratio: float | None,
) -> CheckResult:
    """Judge whether the canary got the traffic it should: a suspect run, never a regression.

    In canary mode (``window_ratio`` None) the canary's share of requests is compared with the
    expected share, when one is configured. In before/after mode the new version's request
    rate is compared with the old one's; ``window_ratio`` is canary window / baseline window.
    """
    c_n, b_n = canary.exposure, baseline.exposure
    if c_n < spec.min_data or b_n < spec.min_data:
        comparison = Comparison.nodata(spec.comparison, b_n, c_n)
        return result_from(spec, comparison, _nodata_message(spec, c_n, b_n))
    if window_ratio is None:
        observed = c_n / (c_n + b_n)
        expected = policy.expected_canary_share
        message = f"canary received {observed:.1%} of requests"
        if expected is not None:
            message += f", expected {expected:.1%}"
    else:
        observed = (c_n / b_n) / window_ratio
        expected = 1.0
        message = f"request rate {observed:.2f}x the baseline window's"
    classification = Classification.PASS
    ratio = observed / expected if expected else None
    if ratio is not None and not 1 / policy.tolerance_factor <= ratio <= policy.tolerance_factor:
        classification = Classification.LOW if ratio < 1 else Classification.HIGH
        message += ": far from expected, the run is suspect (traffic, not a regression)"
    comparison = Comparison(
        spec.comparison, classification, ratio, None, None, expected, observed, b_n, c_n, True
    )
    return result_from(spec, comparison, message)


def _nodata_message(spec: CheckSpec, canary_n: float, baseline_n: float, unit: str = "observations") -> str:
    short = [name for name, n in (("canary", canary_n), ("baseline", baseline_n)) if n < spec.min_data]
    return (
        f"not enough data: {' and '.join(short)} below the minimum of {spec.min_data:g} {unit} "
        f"(canary {canary_n:g}, baseline {baseline_n:g})"
    )


def counts_min_p(spec: CheckSpec, canary: CountsData, baseline: CountsData) -> float:
    """The smallest p-value a counts check could give on this data: 1 when it cannot judge at all.

    What a check may claim of a look's false-alarm budget (:func:`monitor.stats.allocate`): a
    check below its data minimum, or with no events on either side, gives its share back.
    """
    if not spec.decisive or min(canary.exposure, baseline.exposure) < spec.min_data:
        return 1.0
    test = counts_test(canary, baseline)
    sides = [s for s in (True, False) if _regresses(spec.direction, up=s)]
    return min(1.0, len(sides) * min(test.min_p_value(above=s) for s in sides))


def distribution_min_p(spec: CheckSpec, canary: HistogramData, baseline: HistogramData) -> float:
    """The smallest p-value a histogram check could give on this data (1: it cannot judge)."""
    if not spec.decisive or min(canary.total, baseline.total) < spec.min_data:
        return 1.0
    return histogram_min_p(canary, baseline, spec.direction)


def samples_min_p(spec: CheckSpec, canary: SamplesData, baseline: SamplesData) -> float:
    """0 when a time-series check has enough independent batches to judge, else 1.

    A rank test on distinct values can reach any level, so only the data minimum matters.
    """
    if not spec.decisive:
        return 1.0
    enough = min(len(batch_means(canary.values)), len(batch_means(baseline.values))) >= spec.min_data
    return 0.0 if enough else 1.0


def _regresses(direction: Direction, *, up: bool) -> bool:
    return direction is Direction.EITHER or (direction is Direction.INCREASE) == up
