"""Batch means keep autocorrelated gauges from looking like regressions."""

from __future__ import annotations

import numpy as np

from monitor.models import Classification
from monitor.stats import compare_samples
from monitor.stats.autocorr import batch_means, batch_size, lag1_autocorrelation


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    x = np.empty(n)
    x[0] = rng.normal() / np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + rng.normal()
    return 10.0 + x


def test_lag1_autocorrelation_of_literal_series() -> None:
    assert lag1_autocorrelation([1.0, 2.0, 1.0, 2.0, 1.0, 2.0]) < -0.5
    assert lag1_autocorrelation([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) > 0.4
    assert lag1_autocorrelation([3.0, 3.0, 3.0]) == 0.0


def test_batch_sizes_follow_the_correlation() -> None:
    rng = np.random.default_rng(2)
    assert batch_size(list(rng.normal(size=200))) <= 2
    # AR(1) with phi = 0.9 inflates a mean's variance (1 + 0.9) / (1 - 0.9) = 19 times.
    assert 10 <= batch_size(list(_ar1(rng, 2_000, 0.9))) <= 30
    assert batch_means([1.0, 3.0, 5.0, 7.0, 9.0], size=2) == (2.0, 6.0)


def test_batch_means_tame_false_alarms_on_correlated_noise() -> None:
    """A/A on AR(1) noise (phi = 0.9, 60 points each), one-sided test at 99%, 400 seeded runs.

    Raw points behave as if there were 19x more independent information than there is, so the
    raw test alarms far above 1%. Batch means are approximate (adjacent batch means stay
    slightly correlated and the correlation is estimated), so the bound is 5% — five times
    nominal; the binomial standard error at 400 runs is 1.1 points there.
    """
    rng = np.random.default_rng(9)
    runs = 400
    raw = batched = 0
    for _ in range(runs):
        a, b = _ar1(rng, 60, 0.9), _ar1(rng, 60, 0.9)
        raw += compare_samples(list(a), list(b), confidence=0.99).classification is Classification.HIGH
        result = compare_samples(list(batch_means(list(a))), list(batch_means(list(b))), confidence=0.99)
        batched += result.classification is Classification.HIGH
    assert batched / runs <= 0.05
    assert raw / runs >= 0.15
