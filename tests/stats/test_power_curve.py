"""The power curve drawn from a detectable effect: alpha at no change, 80 % at the detectable effect,
and what a simulated one-sided z-test actually catches in between."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.stats.power_curve import past_allowance, power_at, ratio_power_at


def test_the_curve_passes_alpha_at_no_change_and_80_percent_at_the_detectable_effect() -> None:
    assert power_at(0.0, 2.0, 0.01) == pytest.approx(0.01)
    assert power_at(2.0, 2.0, 0.01) == pytest.approx(0.8)
    assert ratio_power_at(1.0, 1.2, 0.05) == pytest.approx(0.05)
    assert ratio_power_at(1.2, 1.2, 0.05) == pytest.approx(0.8)
    assert power_at(1.0, 2.0, 0.01) < power_at(1.5, 2.0, 0.01) < 0.8


def test_the_curve_matches_a_simulated_test() -> None:
    """A one-sided z-test at alpha 0.01 with standard error 1 detects (2.326 + 0.842) = 3.168 with 80 %
    power; at half that effect it catches what the curve says, within the simulation's error."""
    rng = np.random.default_rng(7)
    detectable, effect = 2.3263 + 0.8416, 1.584
    caught = float(np.mean(rng.normal(effect, 1.0, 200_000) > 2.3263))
    assert caught == pytest.approx(power_at(effect, detectable, 0.01), abs=0.005)


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="detectable must be positive"):
        power_at(1.0, 0.0, 0.01)


def test_an_allowance_the_check_must_also_clear_shapes_the_curve() -> None:
    """A check failing when a z-test at 0.01 rejects and its estimate passes 5 (se 1): 80 % at
    5 + 0.842, half at the allowance, and what a simulation of both conditions catches."""
    detectable, allowed = 5.0 + 0.8416, 5.0
    assert power_at(detectable, detectable, 0.01, allowed=allowed) == pytest.approx(0.8, abs=1e-3)
    assert power_at(allowed, detectable, 0.01, allowed=allowed) == pytest.approx(0.5, abs=1e-3)
    assert power_at(0.0, detectable, 0.01, allowed=allowed) < 1e-6  # far below alpha at no change
    rng = np.random.default_rng(11)
    estimates = rng.normal(4.5, 1.0, 200_000)
    caught = float(np.mean((estimates > 2.3263) & (estimates > allowed)))
    assert caught == pytest.approx(power_at(4.5, detectable, 0.01, allowed=allowed), abs=0.005)
    # An allowance below the test's threshold changes nothing.
    assert power_at(1.584, 3.168, 0.01, allowed=1.0) == pytest.approx(power_at(1.584, 3.168, 0.01))
    # Effects reckoned without it move past it.
    assert past_allowance(3.168, 0.01, 5.0) == pytest.approx(
        5.0 + 0.8416 * 3.168 / (2.3263 + 0.8416), abs=1e-3
    )
