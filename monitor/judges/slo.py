"""Judging an SLO's error-budget burn: how fast the new version spends the budget, against a limit.

The burn rate is the error ratio over the error budget: at 1x a version spends exactly its budget
over the SLO's window, at 10x it would spend it in a tenth of the window (three days of thirty).
A version of ``k`` bad events in ``n`` burns beyond ``limit`` when its error ratio ``p`` exceeds
``t = limit x budget``. Each version's ``k`` is taken as Binomial(``n``, ``p``), and the check uses
the exact (Clopper-Pearson) one-sided bounds at the level ``alpha`` the look allocates it:

* lower ``L``: the ``alpha`` quantile of Beta(k, n - k + 1) (0 when k = 0),
* upper ``U``: the ``1 - alpha`` quantile of Beta(k + 1, n - k) (1 when k = n).

``L > t`` exactly when the binomial test of ``p <= t`` rejects at ``alpha``
(``P(X >= k | n, t) < alpha``, the p-value reported): the check regresses (``high``). ``U <= t``
rules the limit out: a conclusive pass. Otherwise it passes, not yet conclusively.

A failing check whose baseline burns too (its own ``L_b > t``) still fails: the new version does
burn the budget. What it says of the old version depends on what the two windows allow:

* one window for both (canary mode), and the new version *not significantly worse*: the exact
  conditional rate-ratio test of the counts comparison (:func:`monitor.stats.counts.counts_test`,
  the canary's share of the ``k_c + k_b`` bad events, binomial with
  ``theta = rho n_c / (rho n_c + n_b)``) does not reject ``rho <= 1`` at the same ``alpha``. Then the
  burn is a shared incident, not caused by this deploy. A canary burning 20x more than a baseline
  that burns too is significantly worse: the deploy adds its own burn, and no excuse is made;
* one window each (before/after): the old version's burn was in its own, earlier window, so it
  says nothing about what else burns now: "the old version burnt beyond the limit too, in its own
  earlier window", and nothing excused.

Without a limit (lower environments) the check only informs: a conclusive pass whatever the burn,
its numbers shown. Without events of the new version it has no data; the likely cause, when the
service has traffic, is an SLI whose series carry no version label, which the message names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from monitor.judges.checks import result_from
from monitor.judges.format import fmt_duration, fmt_p
from monitor.models import CheckResult, Classification, Comparison, CountsData, Evidence
from monitor.profiles import CheckSpec
from monitor.slo.model import SLO
from monitor.stats.counts import counts_test
from monitor.stats.exact import binom_sf
from monitor.stats.special import betaincinv

SHARED_INCIDENT = "a shared incident: both versions burn, not caused by this deploy"
EARLIER_BURN = "the old version burnt beyond the limit too, in its own earlier window"


@dataclass(frozen=True)
class Burn:
    """One version's error ratio, and its exact one-sided bounds, at some level."""

    bad: int
    total: int
    lower: float  # one-sided lower bound of the error ratio
    upper: float  # one-sided upper bound

    @property
    def ratio(self) -> float:
        return self.bad / self.total if self.total else 0.0


def burn_of(data: CountsData, alpha: float) -> Burn:
    """``data`` (events: bad, exposure: all) as whole counts with Clopper-Pearson bounds at ``alpha``.

    Counts read from rates are not whole: they are rounded, and bad events capped at the total.
    """
    total = max(0, round(data.exposure))
    bad = min(total, max(0, round(data.events)))
    lower = 0.0 if bad == 0 else float(betaincinv(bad, total - bad + 1, alpha))
    upper = 1.0 if bad >= total else float(betaincinv(bad + 1, total - bad, 1.0 - alpha))
    return Burn(bad, total, lower, upper)


def _threshold(slo: SLO, limit: float) -> float:
    """The error ratio a burn of ``limit`` is: ``limit x budget``."""
    return limit * slo.error_budget


def slo_burn_min_p(spec: CheckSpec, slo: SLO, limit: float | None, canary: CountsData) -> float:
    """The smallest p-value the check could give on the canary's data: that of every event bad,
    ``P(X >= n | n, t) = t^n``; 1 without a limit, without events, or when no ratio can exceed it."""
    n = max(0, round(canary.exposure))
    if limit is None or not spec.decisive or n < max(1.0, spec.min_data):
        return 1.0
    t = _threshold(slo, limit)
    return 1.0 if t >= 1.0 else binom_sf(n, n, t)


def _x(burn_rate: float) -> str:
    return f"{burn_rate:.3g}x"


def _old_burns_too(
    canary: CountsData, baseline: CountsData, old_burn: float, alpha: float, same_window: bool
) -> str:
    """What the message says of an old version burning beyond the limit too (module docstring)."""
    if not same_window:
        return f"; {EARLIER_BURN} ({_x(old_burn)})"
    p_worse = counts_test(canary, baseline).p_value(1.0)
    if p_worse >= alpha:
        return f"; the old version burns too ({_x(old_burn)}): {SHARED_INCIDENT}"
    return (
        f"; the old version burns too ({_x(old_burn)}), but the new one significantly more "
        f"(p={fmt_p(p_worse)}): not only a shared incident"
    )


def _published(
    spec: CheckSpec, comparison: Comparison, message: str, evidence: tuple[Evidence, ...], limit: float | None
) -> CheckResult:
    """The result, its allowance the burn limit: the effect is a burn rate, not a ratio of the two
    versions, so the comparison's default tolerance would misread it (a report would draw 1x)."""
    return replace(result_from(spec, comparison, message, evidence), allowed=(None, limit) if limit else None)


def judge_slo_burn(
    spec: CheckSpec,
    slo: SLO,
    limit: float | None,
    canary: CountsData,
    baseline: CountsData,
    alpha: float,
    windows_s: tuple[float, float],
    *,
    same_window: bool = False,
    version_label: str = "",
) -> CheckResult:
    """The burn of ``slo``'s budget by the new version (``canary``) against ``limit``, with the
    old version's beside it; ``windows_s`` are the versions' windows (canary, baseline), in seconds,
    ``same_window`` whether they are one window (canary mode), ``version_label`` the label telling
    the versions apart in the SLI's series (named when there are no events).

    See the module's docstring. The result's values are the error ratios, its effect the canary's
    burn rate and its interval that burn's bounds (each one-sided at ``alpha``).
    """
    budget = slo.error_budget
    c, b = burn_of(canary, alpha), burn_of(baseline, alpha)
    evidence = (
        Evidence(
            "burn rate", b.ratio / budget if b.total else None, c.ratio / budget if c.total else None, "x"
        ),
        Evidence("bad events", b.bad, c.bad),
        Evidence("events", b.total, c.total),
        Evidence(
            "limit", None, limit, "x" if limit is not None else "", "" if limit else "none: informational"
        ),
        Evidence(
            "error budget", budget, budget, "ratio", f"objective {slo.objective:g} over {slo.window_days}d"
        ),
        Evidence(
            "window (s)", windows_s[1], windows_s[0], "", f"{fmt_duration(windows_s[0])} of the new version"
        ),
    )
    label = f"SLO {slo.name}"
    if c.total < max(1.0, spec.min_data):
        comparison = Comparison.nodata(spec.comparison, b.total, c.total)
        cause = (
            f"; if the service had traffic, its SLI's series may carry no version label {version_label!r}"
            " (each version is selected by it)"
            if version_label
            else ""
        )
        message = f"{label}: no events of the new version to judge its burn{cause}"
        return _published(spec, comparison, message, evidence, limit)
    burn, interval = c.ratio / budget, (c.lower / budget, c.upper / budget)
    old = "; the old version had no events"
    if b.total:
        old = f"; the old version burns at {_x(b.ratio / budget)}"
    if limit is None:
        comparison = Comparison(
            spec.comparison,
            Classification.PASS,
            burn,
            interval,
            None,
            b.ratio,
            c.ratio,
            b.total,
            c.total,
            True,
        )
        message = (
            f"{label}: the new version burns the error budget at {_x(burn)}{old}; no limit: informational"
        )
        return _published(spec, comparison, message, evidence, limit)
    t = _threshold(slo, limit)
    p_value = binom_sf(c.bad, c.total, t) if t < 1.0 else 1.0
    confidence = f"{(1 - alpha) * 100:.4g}%"
    if t < 1.0 and c.lower > t:
        classification, conclusive = Classification.HIGH, True
        at_least = f"at least {_x(c.lower / budget)} at {confidence} (p={fmt_p(p_value)})"
        words = f"{at_least}, beyond the limit {_x(limit)}"
        if b.total and b.lower > t:  # the old version's own bound is beyond the limit too
            old = _old_burns_too(canary, baseline, b.ratio / budget, alpha, same_window)
    elif c.upper <= t:
        classification, conclusive = Classification.PASS, True
        words = f"at most {_x(c.upper / budget)} at {confidence}, within the limit {_x(limit)}"
    else:
        classification, conclusive = Classification.PASS, False
        words = f"not yet conclusive against the limit {_x(limit)} (up to {_x(c.upper / budget)})"
    comparison = Comparison(
        spec.comparison,
        classification,
        burn,
        interval,
        p_value,
        b.ratio,
        c.ratio,
        b.total,
        c.total,
        conclusive,
    )
    message = f"{label}: the new version burns the error budget at {_x(burn)}, {words}{old}"
    return _published(spec, comparison, message, evidence, limit)
