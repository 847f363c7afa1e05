"""Beta-binomial mixture martingales: the anytime-valid engine under counts and quantiles.

Method: for ``k`` successes in ``n`` Bernoulli trials, the likelihood ratio of a
Beta(``theta0*c``, ``(1-theta0)*c``) mixture against the point null ``theta = theta0``

    M(k, n; theta0) = B(a + k, b + n - k) / B(a, b) / (theta0**k * (1 - theta0)**(n - k))

is a nonnegative martingale with mean 1 under the null, so by Ville's inequality
``P(sup_n M >= 1/alpha) <= alpha``: a test that rejects when ``M >= 1/alpha`` may be
repeated after every new observation (every minute) without inflating its error rate.
Inverting it over ``theta0`` gives a confidence sequence (Howard et al., "Time-uniform,
nonparametric, nonasymptotic confidence sequences", AoS 2021; Lindon & Malek, NeurIPS 2022).

We average the mixture over several concentrations ``c`` (still a martingale) so the test
is sharp both for large effects in little data and for small effects in much data.
Assumption: trials are exchangeable Bernoulli with a fixed ``theta`` under the null.
Counts from Prometheus may be fractional (``increase`` extrapolates); the gamma-function
form accepts real ``k`` and ``n``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln

from monitor.stats.rootfind import zeroin

_CONCENTRATIONS = np.array([1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0])
_LOG_WEIGHT = -math.log(len(_CONCENTRATIONS))
_LOGIT_LIMIT = 30.0


def log_mixture_ratio(k: float, n: float, theta0: float) -> float:
    """Log of the mixture likelihood ratio against ``theta = theta0`` (see module docstring)."""
    if n <= 0:
        return 0.0
    a = theta0 * _CONCENTRATIONS
    b = (1.0 - theta0) * _CONCENTRATIONS
    terms = betaln(a + k, b + (n - k)) - betaln(a, b)
    top = float(terms.max())
    log_mix = top + math.log(float(np.exp(terms - top).sum())) + _LOG_WEIGHT
    return log_mix - k * math.log(theta0) - (n - k) * math.log1p(-theta0)


def p_value(k: float, n: float, theta0: float) -> float:
    """Anytime-valid p-value for ``theta = theta0``: ``min(1, 1/M)``."""
    return min(1.0, math.exp(-log_mixture_ratio(k, n, theta0)))


def _sigmoid(u: float) -> float:
    return 1.0 / (1.0 + math.exp(-u))


def theta_interval(k: float, n: float, alpha: float) -> tuple[float, float]:
    """Confidence sequence for the success probability: ``{theta : M(k, n; theta) < 1/alpha}``.

    Returns ``(0, 1)`` when there is no trial yet.
    """
    if n <= 0:
        return 0.0, 1.0
    threshold = math.log(1.0 / alpha)

    def excess(u: float) -> float:
        return log_mixture_ratio(k, n, _sigmoid(u)) - threshold

    # The ratio is at most 1 at the maximum-likelihood point, so the centre is inside.
    centre_theta = min(max(k / n, 1e-12), 1 - 1e-12)
    centre = math.log(centre_theta) - math.log1p(-centre_theta)
    centre = min(max(centre, -_LOGIT_LIMIT + 1), _LOGIT_LIMIT - 1)
    low_end, high_end = -_LOGIT_LIMIT, _LOGIT_LIMIT
    f_centre = excess(centre)
    if f_centre >= 0:
        return centre_theta, centre_theta
    f_low = excess(low_end)
    low = (
        0.0
        if f_low <= 0
        else _sigmoid(zeroin(excess, low_end, centre, f_lower=f_low, f_upper=f_centre, tol=1e-7))
    )
    f_high = excess(high_end)
    high = (
        1.0
        if f_high <= 0
        else _sigmoid(zeroin(excess, centre, high_end, f_lower=f_centre, f_upper=f_high, tol=1e-7))
    )
    return low, high


def rank_band(n: float, q: float, alpha: float) -> tuple[float, float]:
    """Anytime-valid band of ranks around ``n*q`` for the ``q``-quantile.

    With ``r`` observations at or below the true ``q``-quantile, ``r`` is Binomial(n, q);
    ranks outside the returned band are rejected by the mixture test at level ``alpha``,
    so the order statistics at the band's ends bracket the quantile (Howard & Ramdas,
    "Sequential estimation of quantiles", Bernoulli 2022, Theorem 1).
    """
    if n <= 0:
        return 0.0, 0.0
    threshold = math.log(1.0 / alpha)

    def excess(r: float) -> float:
        return log_mixture_ratio(r, n, q) - threshold

    centre = n * q
    f_centre = excess(centre)
    f_low = excess(0.0)
    low = 0.0 if f_low <= 0 else zeroin(excess, 0.0, centre, f_lower=f_low, f_upper=f_centre, tol=1e-6 * n)
    f_high = excess(n)
    high = n if f_high <= 0 else zeroin(excess, centre, n, f_lower=f_centre, f_upper=f_high, tol=1e-6 * n)
    return low, high
