"""Suggested allowances from A/A runs, and the profile override file that carries them (loaded back by
the profile loader and valid under the published profile schema)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from monitor.backtest.calibration import Trial, TrialOutcome, calibrate
from monitor.backtest.result import Suggestion
from monitor.backtest.suggest import (
    chosen_baseline,
    excess,
    override_profile,
    override_text,
    runs_to_show,
    suggest,
    write_override,
)
from monitor.models import CheckResult as Result
from monitor.models import (
    Classification,
    ComparisonKind,
    Direction,
    Signal,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.profiles import load_profile
from monitor.schema import load
from monitor.stats.power import false_alarm_interval

PROFILE = load_profile("prometheus-http")
ERRORS = next(c for c in PROFILE.checks if c.name == "http_error_ratio")
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _result(effect: float, *, alarmed: bool = False, name: str = "http_error_ratio") -> Result:
    return Result(
        name=name, signal=Signal.METRICS, comparison=ComparisonKind.COUNTS,
        classification=Classification.HIGH if alarmed else Classification.PASS, critical=True, weight=2.0,
        message="", baseline_value=0.005, baseline_n=50_000.0, canary_n=50_000.0, effect=effect,
        interval=(effect * 0.8, effect * 1.25),
    )  # fmt: skip


def _outcome(
    index: int, baseline: str, effect: float, *, alarmed: bool = False, minutes: int = 60
) -> TrialOutcome:
    start = T0 + timedelta(hours=2 * index)
    canary = Window(start, start + timedelta(minutes=minutes))
    trial = Trial(
        "v1", baseline, Window(start, start + timedelta(hours=1)), Window(start - timedelta(hours=1), start)
    )
    verdict = Verdict(
        service="api", environment="production", canary=VersionWindow("v1", canary),
        baseline=VersionWindow("v1", trial.baseline_window),
        status=VerdictStatus.FAIL if alarmed else VerdictStatus.PASS, score=100.0, summary="",
        checks=(_result(effect, alarmed=alarmed),),
    )  # fmt: skip
    return TrialOutcome(trial, verdict, frozenset({"http_error_ratio"} if alarmed else ()))


def test_the_excess_is_relative_and_in_the_harmful_direction() -> None:
    assert excess(_result(1.2), ERRORS) == pytest.approx(0.2)
    assert excess(_result(0.8), ERRORS) == 0.0  # fewer errors harm nobody
    falls = dataclasses.replace(ERRORS, direction=Direction.DECREASE)
    assert excess(_result(0.7), falls) == pytest.approx(0.3)
    either = dataclasses.replace(ERRORS, direction=Direction.EITHER)
    assert excess(_result(0.5), either) == pytest.approx(1.0)  # half is as far as double
    shift = dataclasses.replace(_result(0.02), comparison=ComparisonKind.SAMPLES, baseline_value=0.1)
    assert excess(shift, ERRORS) == pytest.approx(0.2)


def test_an_alarming_check_gets_the_allowance_its_a_a_effects_needed() -> None:
    # 200 A/A runs: effects spread up to 1.6, the 5 largest alarmed (2.5 %, over a 1 % target).
    effects = [1.0 + 0.6 * i / 199 for i in range(200)]
    outcomes = [_outcome(i, "previous", e, alarmed=i >= 195) for i, e in enumerate(effects)]
    calibration = calibrate(outcomes, PROFILE)
    (errors,) = [c for c in calibration if c.check == "http_error_ratio"]
    assert (errors.trials, errors.false_alarms, errors.baseline) == (200, 5, "previous")
    assert errors.rate_interval[0] < 0.025 < errors.rate_interval[1]
    assert errors.detectable_effect is not None and 1.0 < errors.detectable_effect < 1.5
    (suggestion,) = suggest(outcomes, calibration, PROFILE, 0.01)
    # The 99th percentile of 200 effects is the 198th: 1 + 0.6 * 197 / 199 = 1.594 -> 0.60.
    assert suggestion.allowance == pytest.approx(0.60)
    assert suggestion.baseline == "previous" and suggestion.min_duration_s is None
    assert "raise allowed_effect from 0.25 to 0.6" in suggestion.reason


def test_a_seasonal_baseline_wins_only_when_significantly_better_on_the_same_windows() -> None:
    # Day on the same 100 windows: previous alarmed on 10 of them, day on none (McNemar p = 2^-10).
    outcomes = [_outcome(i, "previous", 1.3, alarmed=i < 10) for i in range(100)]
    outcomes += [_outcome(i, "day", 1.0 + i / 1000) for i in range(100)]
    (suggestion,) = suggest(outcomes, calibrate(outcomes, PROFILE), PROFILE, 0.01)
    assert suggestion.baseline == "day" and suggestion.allowance == ERRORS.allowed_effect
    assert chosen_baseline(outcomes, PROFILE) == "day"
    # The same rates on windows the two never shared prove nothing pair by pair: previous stays.
    apart = [_outcome(i, "previous", 1.3, alarmed=i < 10) for i in range(100)]
    apart += [_outcome(100 + i, "day", 1.0 + i / 1000) for i in range(100)]
    assert chosen_baseline(apart, PROFILE) == "previous"


def test_a_few_quiet_runs_do_not_beat_the_previous_baseline() -> None:
    # Week 0 of 3 against previous 1 of 60, the one alarm on a shared window: one discordant pair.
    outcomes = [_outcome(i, "previous", 1.3 if i == 0 else 1.0, alarmed=i == 0) for i in range(60)]
    outcomes += [_outcome(i, "week", 1.0) for i in range(3)]
    calibration = calibrate(outcomes, PROFILE)
    assert min(calibration, key=lambda c: c.rate).baseline == "week"  # the noisy point rates
    (suggestion,) = suggest(outcomes, calibration, PROFILE, 0.01)
    assert suggestion.baseline == "previous" and "1 of 60 A/A runs" in suggestion.reason


def test_a_quiet_check_keeps_its_allowance_only_when_the_runs_show_the_target() -> None:
    assert runs_to_show(0.01) == 299  # 0.99^299 <= 0.05 < 0.99^298
    assert false_alarm_interval(0, 299, 0.9)[1] <= 0.01 < false_alarm_interval(0, 298, 0.9)[1]
    shown = [_outcome(i, "previous", 1.0 + i / 3000) for i in range(299)]
    (keep,) = suggest(shown, calibrate(shown, PROFILE), PROFILE, 0.01)
    assert keep.allowance == ERRORS.allowed_effect
    assert keep.reason.startswith("keep allowed_effect 0.25: 0 of 299") and "tightened to 0.1" in keep.reason
    few = shown[:40]  # 0 of 40: its exact one-sided bound is 7.2 %, not under 1 %
    (unproven,) = suggest(few, calibrate(few, PROFILE), PROFILE, 0.01)
    assert unproven.allowance == ERRORS.allowed_effect
    assert unproven.reason.startswith(
        "keep allowed_effect 0.25 for now, unproven: 40 A/A runs cannot show a rate under 1 %; "
        "need >= 299 with no alarm"
    )


def test_early_alarms_suggest_no_minimum_duration() -> None:
    """A minimum duration holds back early passes only (monitor.judges.score): it stops no alarm."""
    outcomes = [_outcome(i, "previous", 1.3, alarmed=i < 5, minutes=20 if i < 5 else 60) for i in range(100)]
    (suggestion,) = suggest(outcomes, calibrate(outcomes, PROFILE), PROFILE, 0.01)
    assert suggestion.min_duration_s is None and "minimum duration" not in suggestion.reason


SUGGESTIONS = (
    Suggestion("http_error_ratio", 0.6, 1800.0, "day", "raise"),
    Suggestion("http_latency", 0.05, None, "day", "keep"),
    Suggestion("memory", 0.3, None, "previous", "raise"),
)


def test_the_override_file_loads_back_as_the_profile_with_the_suggestions(tmp_path: Path) -> None:
    text = override_text(PROFILE, SUGGESTIONS, service="api", span=(T0, T0 + timedelta(days=30)))
    path = write_override(tmp_path / "out" / "profile.yaml", text)
    assert text.startswith("# Profile prometheus-http-calibrated: prometheus-http with allowances")
    assert "#   http_error_ratio: raise" in text
    assert "min_duration_s" not in text  # a suggestion's minimum duration is not carried
    jsonschema.validate(yaml.safe_load(text), load("profile.schema.json"))
    loaded = load_profile(str(path))
    expected = override_profile(PROFILE, SUGGESTIONS)
    assert dataclasses.replace(loaded, source="") == dataclasses.replace(expected, source="")
    by_name = {c.name: c for c in loaded.checks}
    assert by_name["http_error_ratio"].allowed_effect == 0.6 and by_name["memory"].allowed_effect == 0.3
    assert loaded.decision == PROFILE.decision and loaded.baseline == "day"
    # Everything not suggested is as it was.
    assert [dataclasses.replace(c, allowed_effect=0) for c in loaded.checks] == [
        dataclasses.replace(c, allowed_effect=0) for c in PROFILE.checks
    ]
    assert loaded.labels == PROFILE.labels and loaded.traffic == PROFILE.traffic


@pytest.mark.parametrize("name", ["otel-http", "prometheus-http"])
def test_a_profile_without_suggestions_writes_itself(name: str, tmp_path: Path) -> None:
    profile = load_profile(name)
    path = write_override(tmp_path / "p.yaml", override_text(profile, (), service="s", span=(T0, T0)))
    loaded = load_profile(str(path))
    assert dataclasses.replace(loaded, name=name, source=profile.source) == profile
