"""Exact conditional tests: sums of independent binomial or hypergeometric counts.

Both comparisons of two versions that the monitor makes on counted data reduce to one question:
is the canary's share of the events larger than chance would give it?

* **Poisson events per exposure** (5xx responses per request, log lines per request): given the
  ``n_t`` events of period ``t``, the canary's count is Binomial(``n_t``, ``theta_t``) with
  ``theta_t = rho c_t / (rho c_t + b_t)`` (``c``, ``b`` the exposures, ``rho`` the rate ratio).
* **Requests slower than a latency bound** (a 2x2 table per period: version x slower or not):
  given the margins, the canary's count of slow requests is hypergeometric under "same
  distribution" (Fisher's exact test; Mantel-Haenszel's strata when there are periods).

Summed over periods the null distribution is a convolution, computed here exactly: each
period's probability mass function on the window where it is not negligible (15 standard
deviations either side of its mean), convolved directly or by FFT when large. Tails beyond
those windows (below about 1e-40) read as 0; nothing is decided that far out.

Counts from Prometheus may be fractional (``increase()`` extrapolates); they are rounded to
the nearest whole event first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.stats.rootfind import zeroin

# scipy.special's ufuncs only (see special.py): scipy.stats, .signal and .optimize would double
# `monitor analyze`'s start-up.
from monitor.stats.special import bdtr, bdtrc, betaincinv, gammaln

_WIDTH_SD = 15.0
_FFT_FROM = 250_000  # product of lengths above which FFT beats direct convolution


@dataclass(frozen=True)
class Stratum:
    """One period's null distribution of the canary's count, as a pmf on ``offset ..``."""

    offset: int
    pmf: NDArray[np.float64]


def _window(mean: float, sd: float, low: int, high: int) -> tuple[int, int]:
    reach = _WIDTH_SD * sd + 5.0
    return max(low, math.floor(mean - reach)), min(high, math.ceil(mean + reach))


def binomial_stratum(n: int, theta: float) -> Stratum:
    """Binomial(``n``, ``theta``) on the window where its mass is."""
    if theta <= 0.0 or theta >= 1.0:  # a degenerate split (far out in a bound's search)
        return Stratum(0 if theta <= 0.0 else n, np.ones(1))
    sd = math.sqrt(n * theta * (1.0 - theta))
    lo, hi = _window(n * theta, sd, 0, n)
    k = np.arange(lo, hi + 1, dtype=float)
    # With log-gamma, as below: scipy's distribution objects cost more per call than the sums.
    log_pmf = _log_choose(n, k) + k * math.log(theta) + (n - k) * math.log1p(-theta)
    return Stratum(lo, np.exp(log_pmf))


def hypergeom_stratum(population: int, successes: int, draws: int) -> Stratum:
    """Successes among ``draws`` taken without replacement from ``population`` holding ``successes``."""
    low, high = max(0, draws + successes - population), min(draws, successes)
    share = successes / population if population else 0.0
    finite = (population - draws) / (population - 1) if population > 1 else 0.0
    sd = math.sqrt(max(draws * share * (1.0 - share) * finite, 0.0))
    lo, hi = _window(draws * share, sd, low, high)
    k = np.arange(lo, hi + 1, dtype=float)
    # log C(K, k) + log C(N - K, n - k) - log C(N, n) with log-gamma: scipy's exact pmf is slow
    # for the hundreds of thousands of requests a busy service has per period.
    log_pmf = (
        _log_choose(successes, k)
        + _log_choose(population - successes, draws - k)
        - _log_choose(population, np.array([float(draws)]))
    )
    return Stratum(lo, np.exp(log_pmf))


def hypergeom_log_pmf(k: int, population: int, successes: int, draws: int) -> float:
    """Log-probability of ``k`` successes among ``draws`` (see :func:`hypergeom_stratum`)."""
    values = np.array([float(k)])
    log_pmf = (
        _log_choose(successes, values)
        + _log_choose(population - successes, draws - values)
        - _log_choose(population, np.array([float(draws)]))
    )
    return float(log_pmf[0])


def _log_choose(n: float, k: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0), dtype=np.float64)


def _convolve(strata: Sequence[Stratum]) -> Stratum:
    offset, pmf = 0, np.ones(1)
    for stratum in strata:
        if len(pmf) * len(stratum.pmf) > _FFT_FROM:
            pmf = _fft_convolve(pmf, stratum.pmf)
        else:
            pmf = np.convolve(pmf, stratum.pmf)
        offset += stratum.offset
    return Stratum(offset, pmf)


def _fft_convolve(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    size = len(a) + len(b) - 1
    nfft = 1 << (size - 1).bit_length()
    result = np.fft.irfft(np.fft.rfft(a, nfft) * np.fft.rfft(b, nfft), nfft)[:size]
    return np.asarray(np.clip(result, 0.0, None), dtype=np.float64)  # rounding leaves tiny negatives


def binom_sf(k: int, n: int, theta: float) -> float:
    """``P(X >= k)`` for X ~ Binomial(n, theta)."""
    return 1.0 if k <= 0 else 0.0 if k > n else float(bdtrc(k - 1, n, theta))


def binom_cdf(k: int, n: int, theta: float) -> float:
    """``P(X <= k)`` for X ~ Binomial(n, theta)."""
    return 0.0 if k < 0 else 1.0 if k >= n else float(bdtr(k, n, theta))


def tail(strata: Sequence[Stratum], observed: int, *, upper: bool) -> float:
    """``P(sum >= observed)`` (``upper``) or ``P(sum <= observed)`` under the strata's null."""
    total = _convolve(strata)
    index = observed - total.offset
    if upper:
        value = float(total.pmf[max(index, 0) :].sum()) if index < len(total.pmf) else 0.0
    else:
        value = float(total.pmf[: index + 1].sum()) if index >= 0 else 0.0
    return min(1.0, max(0.0, value))


def whole(value: float) -> int:
    """A (possibly extrapolated, fractional) count as a whole number of events."""
    return max(0, round(value))


@dataclass(frozen=True)
class PeriodCounts:
    """Events and exposures of both versions, period by period (aligned in time)."""

    canary_events: tuple[float, ...]
    canary_exposure: tuple[float, ...]
    baseline_events: tuple[float, ...]
    baseline_exposure: tuple[float, ...]


class RateRatioTest:
    """Exact conditional inference on the rate ratio ``rho`` of two Poisson event streams.

    Periods where either version had no exposure or nobody had an event say nothing about
    ``rho`` and are dropped. One period gives the classical conditional binomial test (its
    interval is Clopper-Pearson's, mapped from the canary's share to ``rho``); several periods
    the stratified version, whose null is a sum of binomials.
    """

    def __init__(self, counts: PeriodCounts) -> None:
        k = np.array([whole(x) for x in counts.canary_events], dtype=int)
        n = k + np.array([whole(x) for x in counts.baseline_events], dtype=int)
        c = np.asarray(counts.canary_exposure, dtype=float)
        b = np.asarray(counts.baseline_exposure, dtype=float)
        keep = (c > 0) & (b > 0) & (n > 0)
        self._k, self._n = k[keep], n[keep]
        self._c, self._b = c[keep], b[keep]
        self._w = self._c / self._b
        self.events = int(self._n.sum())
        self.canary_events = int(self._k.sum())

    @property
    def exposures(self) -> tuple[float, float]:
        """The canary's and the baseline's exposure over the periods that count."""
        return float(self._c.sum()), float(self._b.sum())

    def _thetas(self, rho: float) -> NDArray[np.float64]:
        return np.asarray(rho * self._w / (1.0 + rho * self._w), dtype=np.float64)

    def p_value(self, rho0: float = 1.0, *, above: bool = True) -> float:
        """One-sided exact p-value of ``rho <= rho0`` (``above``) or of ``rho >= rho0``."""
        if self.events == 0:
            return 1.0
        thetas = self._thetas(rho0)
        k = self.canary_events
        if len(self._n) == 1:
            n, theta = int(self._n[0]), float(thetas[0])
            return binom_sf(k, n, theta) if above else binom_cdf(k, n, theta)
        strata = [binomial_stratum(int(n), float(t)) for n, t in zip(self._n, thetas, strict=True)]
        return tail(strata, k, upper=above)

    def min_p_value(self, *, above: bool = True) -> float:
        """The smallest p-value these totals allow (every event on one side): Tarone's screen."""
        if self.events == 0:
            return 1.0
        thetas = self._thetas(1.0)
        share = thetas if above else 1.0 - thetas
        return float(np.exp(np.sum(self._n * np.log(share))))

    def bound(self, alpha: float, *, upper: bool) -> float:
        """One-sided exact confidence bound for ``rho`` at level ``alpha`` (0 or inf when open)."""
        k, n = self.canary_events, self.events
        if n == 0 or (upper and k == n):
            return math.inf if upper else 0.0
        if not upper and k == 0:
            return 0.0
        if len(self._n) == 1:
            # Clopper-Pearson bounds of the canary's share, mapped to the rate ratio.
            w = float(self._w[0])
            theta = float(betaincinv(k + 1, n - k, 1.0 - alpha) if upper else betaincinv(k, n - k + 1, alpha))
            return math.inf if theta >= 1.0 else theta / (1.0 - theta) / w

        # P(K <= k; rho) falls as rho grows, P(K >= k; rho) rises: the bound is where it meets alpha.
        def excess(u: float) -> float:
            return self.p_value(math.exp(u), above=not upper) - alpha

        lo, hi = -_LOG_RHO_LIMIT, _LOG_RHO_LIMIT
        if excess(lo) * excess(hi) > 0:
            return math.inf if upper else 0.0
        return math.exp(zeroin(excess, lo, hi, tol=1e-7))

    def estimate(self) -> float:
        """Conditional maximum-likelihood ``rho`` (stratified), Haldane's +0.5 when a side has no event."""
        k, n = self.canary_events, self.events
        if n == 0:
            return 1.0
        if k == 0 or k == n:
            return ((k + 0.5) / float(self._c.sum())) / ((n - k + 0.5) / float(self._b.sum()))

        def excess(u: float) -> float:  # expected minus observed canary events: rises with u
            return float(np.sum(self._n * self._thetas(math.exp(u)))) - k

        return math.exp(zeroin(excess, -_LOG_RHO_LIMIT, _LOG_RHO_LIMIT, tol=1e-10))


_LOG_RHO_LIMIT = 40.0
