"""Scoring rules on literal check results."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from monitor.judges.score import decide, minutes_needed, score_of
from monitor.models import (
    Bound,
    CheckPurpose,
    CheckResult,
    Classification,
    ComparisonKind,
    CountsData,
    Signal,
    VerdictStatus,
)
from monitor.profiles import CheckSpec, DecisionPolicy
from monitor.profiles.model import HarmPolicy, Unproven
from monitor.stats import compare_counts

SPECS = {
    "errors": CheckSpec("errors", ComparisonKind.COUNTS, critical=True, weight=2),
    "latency": CheckSpec("latency", ComparisonKind.DISTRIBUTION, critical=True, weight=2),
    "cpu": CheckSpec("cpu", ComparisonKind.SAMPLES, weight=1, optional=True),
    "memory": CheckSpec("memory", ComparisonKind.SAMPLES, weight=1, optional=True),
    "traffic": CheckSpec("traffic", ComparisonKind.COUNTS, purpose=CheckPurpose.TRAFFIC, weight=0),
}
POLICY = DecisionPolicy(pass_score=95, marginal_score=75, early_pass=True, min_duration_s=600)


def _result(name: str, classification: Classification, conclusive: bool = False) -> CheckResult:
    spec = SPECS[name]
    return CheckResult(
        name=name,
        signal=Signal.METRICS,
        comparison=spec.comparison,
        classification=classification,
        critical=spec.critical,
        weight=spec.weight,
        message=f"{name} is {classification.value}",
        conclusive=conclusive,
        purpose=spec.purpose,
    )


def _results(**classes: Classification) -> list[CheckResult]:
    default = {name: Classification.PASS for name in SPECS}
    default.update(classes)
    return [_result(name, c) for name, c in default.items()]


def test_critical_regression_fails_at_once() -> None:
    decision = decide(_results(errors=Classification.HIGH), SPECS, POLICY, last_look=False, elapsed_s=120)
    assert decision.status is VerdictStatus.FAIL
    assert "errors" in decision.summary and "after 2m" in decision.summary


def test_non_critical_regression_is_marginal_at_the_end() -> None:
    results = _results(cpu=Classification.HIGH)
    assert score_of(results) == pytest.approx(100 * 5 / 6, abs=0.1)
    running = decide(results, SPECS, POLICY, last_look=False, elapsed_s=300)
    assert running.status is VerdictStatus.RUNNING
    final = decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200)
    assert final.status is VerdictStatus.MARGINAL


def test_score_below_marginal_fails_even_without_critical_checks() -> None:
    specs = {**SPECS, "errors": CheckSpec("errors", ComparisonKind.COUNTS, weight=2)}
    results = [
        _result("errors", Classification.HIGH),
        _result("latency", Classification.PASS),
        _result("cpu", Classification.HIGH),
    ]
    results[0] = CheckResult(**{**results[0].__dict__, "critical": False})
    decision = decide(results, specs, POLICY, last_look=False, elapsed_s=60)
    assert decision.status is VerdictStatus.FAIL


def test_missing_required_data_is_inconclusive_never_pass() -> None:
    results = _results(latency=Classification.NODATA)
    assert decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200).status is VerdictStatus.INCONCLUSIVE
    results = _results(traffic=Classification.NODATA)
    assert decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200).status is VerdictStatus.INCONCLUSIVE


def test_missing_optional_data_still_passes() -> None:
    results = _results(cpu=Classification.NODATA, memory=Classification.NODATA)
    assert decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200).status is VerdictStatus.PASS


def test_backend_error_is_inconclusive_even_when_the_rest_passes() -> None:
    results = _results(latency=Classification.ERROR)
    decision = decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200)
    assert decision.status is VerdictStatus.INCONCLUSIVE
    assert decision.summary.startswith("inconclusive: latency:")


def test_an_optional_check_erroring_does_not_block_a_pass() -> None:
    results = _results(memory=Classification.ERROR)
    assert decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200).status is VerdictStatus.PASS


def test_weightless_non_critical_regression_is_informational() -> None:
    specs = {**SPECS, "cpu": CheckSpec("cpu", ComparisonKind.SAMPLES, weight=0)}
    results = [r if r.name != "cpu" else CheckResult(**{**r.__dict__, "weight": 0.0}) for r in _results()]
    results = [
        CheckResult(**{**r.__dict__, "classification": Classification.HIGH}) if r.name == "cpu" else r
        for r in results
    ]
    assert decide(results, specs, POLICY, last_look=True, elapsed_s=1200).status is VerdictStatus.PASS


def test_early_pass_needs_minimum_duration_and_conclusive_checks() -> None:
    settled = [_result(name, Classification.PASS, conclusive=True) for name in SPECS]
    assert decide(settled, SPECS, POLICY, last_look=False, elapsed_s=300).status is VerdictStatus.RUNNING
    assert decide(settled, SPECS, POLICY, last_look=False, elapsed_s=600).status is VerdictStatus.PASS
    unsettled = [*settled[:-1], _result("traffic", Classification.PASS, conclusive=False)]
    assert decide(unsettled, SPECS, POLICY, last_look=False, elapsed_s=900).status is VerdictStatus.RUNNING


def _bounded(errors: Bound, latency: Bound) -> list[CheckResult]:
    bounds = {"errors": errors, "latency": latency}
    return [replace(r, bound=bounds.get(r.name)) for r in _results()]


ERRORS_OK = Bound(1.4, 1.02, "", 0.95)
P99_OK = Bound(1.08, 1.01, "p99", 0.95)


def test_a_pass_states_what_it_rules_out() -> None:
    decision = decide(_bounded(ERRORS_OK, P99_OK), SPECS, POLICY, last_look=True, elapsed_s=1200)
    assert decision.status is VerdictStatus.PASS
    assert "rules out errors above 1.40x, latency p99 above 1.08x (95%)" in decision.summary


def test_production_does_not_pass_what_the_data_cannot_rule_out() -> None:
    """Errors 1.1x with a bound of 2.8x after 20 minutes; alike versions would have their bound
    0.9 above 1 on the log scale with these data (``alike_width``). The bound's distance shrinks
    like 1/sqrt(time), so it reaches log(2) after 20 * (0.9 / log(2))^2 = 33.7 minutes in all:
    14 more."""
    wide = Bound(2.8, 1.1, "", 0.95, alike_width=0.9)
    strict = HarmPolicy(counts=2.0, latency=1.25, unproven=Unproven.INCONCLUSIVE)
    results = _bounded(wide, P99_OK)
    decision = decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200, harm=strict)
    assert decision.status is VerdictStatus.INCONCLUSIVE
    expected = 20 * (0.9 / math.log(2)) ** 2 - 20
    assert minutes_needed(wide, 2.0, 1200) == pytest.approx(expected)
    assert f"needs about {math.ceil(expected)} more minutes at this traffic" in decision.summary
    assert (
        "cannot yet rule out errors above 2.00x baseline (estimate 1.10x, bound 2.80x at 95%)"
        in decision.summary
    )
    # Lower environments pass, with the same words as a warning.
    lenient = decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200, harm=HarmPolicy())
    assert lenient.status is VerdictStatus.PASS and "warning: cannot yet rule out errors" in lenient.summary
    # A canary whose own error rate is bounded below the negligible floor rules the harm out.
    negligible = replace(wide, negligible=True)
    quiet = decide(_bounded(negligible, P99_OK), SPECS, POLICY, last_look=True, elapsed_s=1200, harm=strict)
    assert quiet.status is VerdictStatus.PASS and "errors negligible" in quiet.summary


def test_an_unbounded_check_gives_no_minutes_estimate() -> None:
    assert minutes_needed(Bound(math.inf, 1.0, "", 0.95), 2.0, 1200) is None
    # An estimate beyond the limit (a noisy low count) still says how long alike versions need.
    assert minutes_needed(Bound(5.4, 2.2, "", 0.95, alike_width=1.2), 2.0, 1200) == pytest.approx(
        20 * (1.2 / math.log(2.0)) ** 2 - 20
    )


def test_the_alike_width_of_counts_is_the_log_ratios_standard_error_for_alike_versions() -> None:
    # 60 events split 10% / 90% by exposure if alike: 6 and 54, so z_95 * sqrt(1/6 + 1/54).
    result = compare_counts(CountsData(30, 1_000), CountsData(30, 9_000), alpha=0.01)
    assert result.bound is not None
    assert result.bound.alike_width == pytest.approx(1.6448536 * math.sqrt(1 / 6 + 1 / 54), rel=1e-6)


def test_optional_checks_without_data_end_inconclusive_not_marginal() -> None:
    """A profile of optional checks only (an OTLP-only service before its spans arrive): nothing was
    compared, so the run is inconclusive with the reason, not "marginal (checks regressed)"."""
    specs = {"trace_errors": CheckSpec("trace_errors", ComparisonKind.COUNTS, critical=True, optional=True)}
    empty = replace(
        _result("errors", Classification.NODATA), name="trace_errors", message="nothing comparable: ..."
    )
    decision = decide([empty], specs, POLICY, last_look=True, elapsed_s=1200)
    assert decision.status is VerdictStatus.INCONCLUSIVE
    assert "no check had data; trace_errors: nothing comparable" in decision.summary


def test_a_canary_without_errors_is_told_how_long_until_its_floor_rules_harm_out() -> None:
    """No error in either version: no ratio bound, but 0 errors of 5,000 requests bound the canary's
    rate at 3.0/5,000 (95%); below the 0.05% floor it takes 5,991 requests, 1.2x the data."""
    from monitor.stats.counts import floor_growth

    growth = floor_growth(CountsData(0, 5_000), 0.0005, 0.05)
    assert growth == pytest.approx(-math.log(0.05) / 0.0005 / 5_000, rel=1e-6)
    bound = Bound(math.inf, 1.0, "", 0.95, floor_growth=growth)
    assert minutes_needed(bound, 2.0, 600) == pytest.approx(10 * (growth - 1))
    assert floor_growth(CountsData(3, 5_000), 0.0005, 0.05) == math.inf  # 0.06%: above the floor


def _settled(**classes: Classification) -> list[CheckResult]:
    """Every check conclusive (the early-pass condition), with ``classes`` overriding."""
    return [replace(r, conclusive=True) for r in _results(**classes)]


def test_an_optional_check_that_regressed_holds_an_early_pass_back() -> None:
    """cpu (optional, weight 1) high: score 83, above marginal; the last look would say marginal,
    so an early look must not say pass."""
    results = _settled(cpu=Classification.HIGH)
    early = decide(results, SPECS, POLICY, last_look=False, elapsed_s=900)
    assert early.status is VerdictStatus.RUNNING
    assert decide(results, SPECS, POLICY, last_look=True, elapsed_s=1200).status is VerdictStatus.MARGINAL
    assert decide(_settled(), SPECS, POLICY, last_look=False, elapsed_s=900).status is VerdictStatus.PASS


def test_unneeded_checks_without_data_hold_nothing_back_but_their_errors_count() -> None:
    """A blue/green preview before its switch: the metric checks have no traffic to judge."""
    unneeded = {"latency", "traffic"}
    results = _settled(latency=Classification.NODATA, traffic=Classification.NODATA)
    early = decide(results, SPECS, POLICY, last_look=False, elapsed_s=900, unneeded=unneeded)
    assert early.status is VerdictStatus.PASS
    assert decide(results, SPECS, POLICY, last_look=False, elapsed_s=900).status is VerdictStatus.RUNNING
    errored = _settled(latency=Classification.ERROR, traffic=Classification.NODATA)
    final = decide(errored, SPECS, POLICY, last_look=True, elapsed_s=1200, unneeded=unneeded)
    assert final.status is VerdictStatus.INCONCLUSIVE and "latency" in final.summary


def test_nothing_awaited_is_never_an_early_pass() -> None:
    specs = {"errors": SPECS["errors"]}
    results = [replace(_result("errors", Classification.NODATA), conclusive=True)]
    early = decide(results, specs, POLICY, last_look=False, elapsed_s=900, unneeded={"errors"})
    assert early.status is VerdictStatus.RUNNING
    final = decide(results, specs, POLICY, last_look=True, elapsed_s=1200, unneeded={"errors"})
    assert final.status is VerdictStatus.INCONCLUSIVE
