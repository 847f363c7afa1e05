"""The slo_burn judge: exact binomial bounds of each version's error ratio against limit x budget.

Every case is an SLO of 99.9 % (budget 0.001) in an environment whose limit is 10x, so the error
ratio the limit allows is t = 0.01. Expectations follow from the Clopper-Pearson bounds, checked
against scipy.stats' Beta quantiles and binomial tail (an implementation independent of the judge's).
"""

from __future__ import annotations

import math

import pytest
from scipy.stats import beta, binom

from monitor.judges import decide
from monitor.judges.slo import SHARED_INCIDENT, burn_of, judge_slo_burn, slo_burn_min_p
from monitor.models import CheckResult, Classification, ComparisonKind, CountsData, VerdictStatus
from monitor.profiles import CheckSpec, DecisionPolicy
from monitor.slo import SLO

SLO_999 = SLO("checkout-availability", "checkout", 0.999, 30, total="t[{{.window}}]", errors="e[{{.window}}]")
SPEC = CheckSpec("slo_burn_checkout_availability", ComparisonKind.COUNTS, critical=True, kind="slo_burn")
ALPHA = 0.01
WINDOWS = (1800.0, 1800.0)


def _judge(
    canary: tuple[float, float],
    baseline: tuple[float, float],
    limit: float | None = 10.0,
    same_window: bool = True,
) -> CheckResult:
    return judge_slo_burn(
        SPEC,
        SLO_999,
        limit,
        CountsData(*canary),
        CountsData(*baseline),
        ALPHA,
        WINDOWS,
        same_window=same_window,
    )


def test_the_bounds_are_clopper_pearsons() -> None:
    """50 bad of 1,000: lower = Beta(50, 951).ppf(0.01), upper = Beta(51, 950).ppf(0.99)."""
    burn = burn_of(CountsData(50, 1000), ALPHA)
    assert burn.lower == pytest.approx(beta.ppf(ALPHA, 50, 951), rel=1e-9)
    assert burn.upper == pytest.approx(beta.ppf(1 - ALPHA, 51, 950), rel=1e-9)
    assert burn_of(CountsData(0, 10), ALPHA).lower == 0.0
    assert burn_of(CountsData(10, 10), ALPHA).upper == 1.0
    # Counts read from rates are rounded, and bad events never exceed all of them.
    assert (burn_of(CountsData(49.6, 1000.4), ALPHA).bad, burn_of(CountsData(12, 10), ALPHA).bad) == (50, 10)


def test_a_5_percent_error_ratio_burns_50x_beyond_a_10x_limit() -> None:
    """5 % errors = 50x a 0.1 % budget. L = 0.0353 > t = 0.01: high; p = P(X >= 50 | 1000, 0.01)."""
    result = _judge((50, 1000), (1, 1000))
    assert result.classification is Classification.HIGH and result.conclusive
    assert result.effect == pytest.approx(50.0)
    assert result.interval is not None and result.interval[0] == pytest.approx(35.28, abs=0.01)
    assert result.p_value == pytest.approx(binom.sf(49, 1000, 0.01), rel=1e-6)
    assert result.p_value is not None and result.p_value < ALPHA
    assert "burns the error budget at 50x" in result.message and "beyond the limit 10x" in result.message
    assert "the old version burns at 1x" in result.message
    assert SHARED_INCIDENT not in result.message
    assert {e.label: (e.baseline, e.canary) for e in result.evidence}["burn rate"] == (1.0, 50.0)


def test_both_versions_burning_is_a_shared_incident_that_still_fails() -> None:
    """The old version's 60 of 1,000 has its own L = Beta(60, 941).ppf(0.01) = 0.044 > t too, over
    the same window, and the new version is not significantly worse: P(X >= 50 | 110, 1/2) > alpha."""
    assert beta.ppf(ALPHA, 60, 941) > 0.01 and binom.sf(49, 110, 0.5) > ALPHA
    result = _judge((50, 1000), (60, 1000))
    assert result.classification is Classification.HIGH
    assert f"the old version burns too (60x): {SHARED_INCIDENT}" in result.message
    # The verdict's summary is the failing critical check's message: it says so too.
    decision = decide([result], {SPEC.name: SPEC}, DecisionPolicy(), last_look=False, elapsed_s=1800)
    assert decision.status is VerdictStatus.FAIL
    assert "shared incident: both versions burn, not caused by this deploy" in decision.summary


def test_a_canary_burning_significantly_more_than_a_burning_baseline_is_no_shared_incident() -> None:
    """Canary 400 of 1,000 (400x), baseline 20 of 1,000 (20x; its L = Beta(20, 981).ppf(0.01) =
    0.011 > t). Both burn, but the rate-ratio test of the canary's share of the 420 bad events,
    P(X >= 400 | 420, 1/2), is far below alpha: the deploy adds a burn of its own."""
    assert beta.ppf(ALPHA, 20, 981) > 0.01 and binom.sf(399, 420, 0.5) < ALPHA
    result = _judge((400, 1000), (20, 1000))
    assert result.classification is Classification.HIGH
    assert SHARED_INCIDENT not in result.message
    assert "the old version burns too (20x), but the new one significantly more" in result.message


def test_a_burning_baseline_in_its_own_earlier_window_excuses_nothing() -> None:
    """Before/after: the same counts as the shared incident above, but the old version's window
    was earlier, so its burn says nothing about now."""
    result = _judge((50, 1000), (60, 1000), same_window=False)
    assert result.classification is Classification.HIGH
    assert SHARED_INCIDENT not in result.message
    assert "; the old version burnt beyond the limit too, in its own earlier window (60x)" in result.message


def test_an_old_version_burning_without_proof_is_no_shared_incident() -> None:
    """2 of 100 is 20x, but L = Beta(2, 99).ppf(0.01) = 0.0015 is below t: not proven to burn."""
    result = _judge((50, 1000), (2, 100))
    assert result.classification is Classification.HIGH
    assert SHARED_INCIDENT not in result.message


def test_a_burn_ruled_below_the_limit_passes_conclusively() -> None:
    """2 of 10,000 (0.2x): U = Beta(3, 9998).ppf(0.99) = 0.00084 <= t."""
    result = _judge((2, 10_000), (3, 10_000))
    assert result.classification is Classification.PASS and result.conclusive
    assert result.interval is not None and result.interval[1] == pytest.approx(0.8403, abs=1e-3)
    assert "at most 0.84x at 99%, within the limit 10x" in result.message


def test_a_burn_neither_proven_nor_ruled_out_passes_not_yet_conclusively() -> None:
    """2 of 100 (20x): L = 0.0015 <= t < U = Beta(3, 98).ppf(0.99) = 0.081."""
    result = _judge((2, 100), (0, 100))
    assert result.classification is Classification.PASS and not result.conclusive
    assert "not yet conclusive against the limit 10x (up to 81.4x)" in result.message


def test_no_events_is_nodata_and_no_limit_only_informs() -> None:
    assert _judge((0, 0), (5, 1000)).classification is Classification.NODATA
    unlabelled = judge_slo_burn(
        SPEC, SLO_999, 10.0, CountsData(0, 0), CountsData(0, 0), ALPHA, WINDOWS, version_label="version"
    )
    assert "its SLI's series may carry no version label 'version'" in unlabelled.message
    informational = _judge((50, 1000), (1, 1000), limit=None)
    assert informational.classification is Classification.PASS and informational.conclusive
    assert informational.p_value is None
    assert informational.message.endswith("no limit: informational")


def test_min_p_is_every_event_failing() -> None:
    """P(X >= n | n, t) = t^n: 3 events at t = 0.01 reach 1e-6; no limit or no events: 1."""
    assert slo_burn_min_p(SPEC, SLO_999, 10.0, CountsData(0, 3)) == pytest.approx(1e-6)
    assert slo_burn_min_p(SPEC, SLO_999, 10.0, CountsData(0, 0)) == 1.0
    assert slo_burn_min_p(SPEC, SLO_999, None, CountsData(0, 3)) == 1.0
    # A limit beyond 1000x a 0.1 % budget allows any error ratio: nothing to find.
    assert slo_burn_min_p(SPEC, SLO_999, 1000.0, CountsData(0, 3)) == 1.0
    assert math.isclose(slo_burn_min_p(SPEC, SLO_999, 10.0, CountsData(0, 1)), 0.01)


def test_the_published_allowance_is_the_burn_limit() -> None:
    """The effect is a burn rate: a report reads it against the limit, not the 1x of two versions."""
    from monitor.api.report_checks import State, state
    from monitor.report import _check

    settled = _judge((2, 10_000), (3, 10_000))  # 0.2x, ruled below the 10x limit
    assert settled.allowed == (None, 10.0)
    assert state(_check(settled)) == State("pass", "pass (0.20x, allowed 10.00x)")
    assert _judge((50, 1000), (1, 1000), limit=None).allowed is None  # informational: no allowance
