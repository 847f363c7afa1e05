"""Beta-binomial mixture martingales: the anytime-valid engine under counts and quantiles.

Method: for ``k`` successes in ``n`` Bernoulli trials, the likelihood ratio of a
Beta(``theta0*c``, ``(1-theta0)*c``) mixture against the point null ``theta = theta0``

    M(k, n; theta0) = B(a + k, b + n - k) / B(a, b) / (theta0**k * (1 - theta0)**(n - k))

is a nonnegative martingale with mean 1 under the null, so by Ville's inequality
``P(sup_n M >= 1/alpha) <= alpha``: a test that rejects when ``M >= 1/alpha`` may be
repeated after every new observation (every minute) without inflating its error rate.
It is used here for quantiles: the number of observations at or below a version's true
``q``-quantile is Binomial(n, q), so the ranks the test rejects bound the quantile (Howard et
al., "Time-uniform, nonparametric, nonasymptotic confidence sequences", AoS 2021).

One-sided versions restrict the mixture to alternatives above (or below) ``theta0`` (the prior
truncated and renormalised). A regression only ever needs one side, and the truncated mixture
spends nothing on the other: its bounds are tighter than a two-sided sequence's at the same
level. Each one-sided ratio is a supermartingale under every ``theta`` on the null's side, so
a one-sided bound is valid for the composite null "at most (or at least) ``theta0``".

We average the mixture over several concentrations ``c`` (still a martingale) so the test
is sharp both for large effects in little data and for small effects in much data.
Assumption: trials are exchangeable Bernoulli with a fixed ``theta`` under the null.
Counts from Prometheus may be fractional (``increase`` extrapolates); the gamma-function
form accepts real ``k`` and ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

import numpy as np
from scipy.special import betainc, betaincc, betaln

from monitor.stats.rootfind import zeroin

_CONCENTRATIONS = np.array([1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0])
_LOG_WEIGHT = -math.log(len(_CONCENTRATIONS))


class Side(StrEnum):
    """Which alternatives a mixture weighs: above ``theta0``, below it, or both."""

    BOTH = "both"
    ABOVE = "above"
    BELOW = "below"


def log_mixture_ratio(k: float, n: float, theta0: float, side: Side = Side.BOTH) -> float:
    """Log of the (one- or two-sided) mixture likelihood ratio against ``theta = theta0``."""
    if n <= 0:
        return 0.0
    a = theta0 * _CONCENTRATIONS
    b = (1.0 - theta0) * _CONCENTRATIONS
    terms = betaln(a + k, b + (n - k)) - betaln(a, b)
    if side is not Side.BOTH:
        tail = betaincc if side is Side.ABOVE else betainc
        # Posterior mass on the side over prior mass on it: the truncated prior's normaliser.
        with np.errstate(divide="ignore"):
            terms = terms + np.log(tail(a + k, b + (n - k), theta0)) - np.log(tail(a, b, theta0))
    top = float(terms.max())
    if not math.isfinite(top):
        return -math.inf
    log_mix = top + math.log(float(np.exp(terms - top).sum())) + _LOG_WEIGHT
    return log_mix - k * math.log(theta0) - (n - k) * math.log1p(-theta0)


def _boundary(excess_at: float, inner: float, outer: float, f: Callable[[float], float]) -> float | None:
    """Root of ``f`` between the inner point (accepted) and the outer end, or None if never rejected."""
    f_outer = f(outer)
    if f_outer <= 0:
        return None
    lo, hi, f_lo, f_hi = (
        (outer, inner, f_outer, excess_at) if outer < inner else (inner, outer, excess_at, f_outer)
    )
    return zeroin(f, lo, hi, f_lower=f_lo, f_upper=f_hi, tol=1e-7 * max(1.0, abs(hi - lo)))


def rank_bounds(n: float, q: float, alpha: float) -> tuple[float, float]:
    """Ranks whose order statistics bound the ``q``-quantile from below and above, each at ``alpha``.

    The number of observations at or below the true ``q``-quantile is Binomial(n, q). Were the
    quantile below the order statistic of rank ``r_low``, that count would be at most
    ``r_low``, which the BELOW mixture rejects; symmetrically for ``r_high`` (Howard & Ramdas,
    "Sequential estimation of quantiles", Bernoulli 2022, Theorem 1).
    """
    if n <= 0:
        return 0.0, 0.0
    threshold = math.log(1.0 / alpha)

    def below(r: float) -> float:
        return log_mixture_ratio(r, n, q, Side.BELOW) - threshold

    def above(r: float) -> float:
        return log_mixture_ratio(r, n, q, Side.ABOVE) - threshold

    centre = n * q
    low = _boundary(below(centre), centre, 0.0, below)
    high = _boundary(above(centre), centre, n, above)
    return (0.0 if low is None else low, n if high is None else high)


def proportion_upper_bound(k: float, n: float, alpha: float) -> float:
    """Anytime-valid upper confidence bound, at ``alpha``, for a proportion seen as ``k`` of ``n``.

    The largest ``p`` that the BELOW mixture (evidence that the proportion is under ``p``)
    does not reject.
    """
    if n <= 0:
        return 1.0
    threshold = math.log(1.0 / alpha)

    def below(p: float) -> float:
        return log_mixture_ratio(k, n, p, Side.BELOW) - threshold

    inner = min(max(k / n, 1e-12), 1 - 1e-9)
    bound = _boundary(below(inner), inner, 1 - 1e-9, below)
    return 1.0 if bound is None else bound
