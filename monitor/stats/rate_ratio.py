"""Anytime-valid inference on a rate ratio when the traffic split changes over the window.

Model: in period ``t`` the canary has exposure ``c_t`` (requests) and the baseline ``b_t``.
Given the ``n_t`` events (errors) of the period, the canary's ``k_t`` is
Binomial(n_t, theta_t) with ``theta_t = rho c_t / (rho c_t + b_t)``: conditioning on each
period's total cancels whatever hits both versions in that period (an incident, a traffic
peak), and using each period's own split keeps a changing split (Argo Rollouts' weight steps)
from posing as a regression — pooling the periods would not (Simpson's paradox).

With ``u = log rho`` and ``w_t = c_t / b_t`` the log-likelihood is, up to a constant,

    l(u) = sum_t k_t u - n_t log(1 + e^u w_t).

The test of ``u = u0`` mixes likelihood ratios ``exp(l(u0 + d) - l(u0))`` over a fixed prior on
the shift ``d``: a discrete mixture of half-normals with scales 0.05 to 2 (so it is sharp for
small and for large changes). Each ratio is a martingale under ``u0`` as events arrive, so the
mixture is too, and Ville's inequality makes the test valid however often it is repeated. The
one-sided mixture (``d > 0`` only) is a supermartingale under every ``u <= u0``: it tests the
composite null "at most ``u0``". Inverting it over ``u0`` gives one-sided confidence bounds.

Assumptions: events are independent given the rates; within a period the split is steady.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.stats.mixture import Side
from monitor.stats.rootfind import zeroin

_SCALES = (0.05, 0.2, 0.7, 2.0)
_U_LIMIT = 30.0


def _prior() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and log-weights of the discrete half-normal mixture on the shift ``d > 0``."""
    z = np.linspace(0.05, 6.0, 120)
    density = np.exp(-0.5 * z**2)
    weights = density / density.sum() / len(_SCALES)
    nodes = np.concatenate([scale * z for scale in _SCALES])
    return nodes, np.log(np.tile(weights, len(_SCALES)))


_NODES, _LOG_WEIGHTS = _prior()


def _logsumexp(values: NDArray[np.float64]) -> float:
    top = float(values.max())
    if not math.isfinite(top):
        return top
    return top + math.log(float(np.exp(values - top).sum()))


@dataclass(frozen=True)
class PeriodCounts:
    """Events and exposures of both versions, period by period (aligned in time)."""

    canary_events: tuple[float, ...]
    canary_exposure: tuple[float, ...]
    baseline_events: tuple[float, ...]
    baseline_exposure: tuple[float, ...]


class RateRatio:
    """Likelihood of ``log rho`` from period counts, and tests and bounds derived from it."""

    def __init__(self, counts: PeriodCounts) -> None:
        k = np.asarray(counts.canary_events, dtype=float)
        n = k + np.asarray(counts.baseline_events, dtype=float)
        c = np.asarray(counts.canary_exposure, dtype=float)
        b = np.asarray(counts.baseline_exposure, dtype=float)
        # A period where one version had no exposure says nothing about the ratio.
        keep = (c > 0) & (b > 0) & (n > 0)
        self._k, self._n = k[keep], n[keep]
        self._log_w = np.log(c[keep]) - np.log(b[keep])
        self.events = float(self._n.sum())
        self.canary_events = float(self._k.sum())

    def log_likelihood(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """``l(u)`` for an array of ``u`` values."""
        grid = u[:, None] + self._log_w[None, :]
        result: NDArray[np.float64] = (
            self._k[None, :] * u[:, None] - self._n[None, :] * np.logaddexp(0.0, grid)
        ).sum(axis=1)
        return result

    def mle(self) -> float:
        """Maximum-likelihood ``log rho``, clipped to +-30 when all events fall on one side."""
        if self.canary_events <= 0:
            return -_U_LIMIT
        if self.canary_events >= self.events:
            return _U_LIMIT

        def score(u: float) -> float:
            theta = 1.0 / (1.0 + np.exp(-(u + self._log_w)))
            return float(self.canary_events - (self._n * theta).sum())

        return zeroin(score, -_U_LIMIT, _U_LIMIT, tol=1e-9)

    def log_mixture(self, u0: float, side: Side) -> float:
        """Log of the mixture likelihood ratio against ``log rho = u0``."""
        if self.events <= 0:
            return 0.0
        base = float(self.log_likelihood(np.array([u0]))[0])
        above = _logsumexp(_LOG_WEIGHTS + self.log_likelihood(u0 + _NODES) - base)
        if side is Side.ABOVE:
            return above
        below = _logsumexp(_LOG_WEIGHTS + self.log_likelihood(u0 - _NODES) - base)
        if side is Side.BELOW:
            return below
        return float(np.logaddexp(above, below)) - math.log(2.0)

    def p_value(self, rho0: float, side: Side) -> float:
        """Anytime-valid p-value for ``rho = rho0`` (``rho <= rho0`` for ABOVE): ``min(1, 1/M)``."""
        return min(1.0, math.exp(-self.log_mixture(math.log(rho0), side)))

    def bounds(self, alpha: float) -> tuple[float, float]:
        """One-sided confidence bounds for ``rho``, each valid at ``alpha`` at every look."""
        if self.events <= 0:
            return 0.0, math.inf
        threshold = math.log(1.0 / alpha)
        centre = self.mle()

        def above(u: float) -> float:
            return self.log_mixture(u, Side.ABOVE) - threshold

        def below(u: float) -> float:
            return self.log_mixture(u, Side.BELOW) - threshold

        low = _bound(above, centre, centre - 2 * _U_LIMIT)
        high = _bound(below, centre, centre + 2 * _U_LIMIT)
        return (0.0 if low is None else math.exp(low), math.inf if high is None else math.exp(high))


def _bound(excess: Callable[[float], float], inner: float, outer: float) -> float | None:
    """Where ``excess`` crosses 0 between ``inner`` (not rejected) and ``outer``; None if never."""
    f_inner, f_outer = excess(inner), excess(outer)
    if f_outer <= 0:
        return None
    if f_inner >= 0:
        return inner
    lo, hi, f_lo, f_hi = (
        (outer, inner, f_outer, f_inner) if outer < inner else (inner, outer, f_inner, f_outer)
    )
    return zeroin(excess, lo, hi, f_lower=f_lo, f_upper=f_hi, tol=1e-6)
