"""Before/after baselines: the window each choice (previous, day, week, auto) gives, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.engine.request import (
    baseline_window,
    deployment_request,
    resolve_baseline,
    seasonal_problem,
)
from monitor.errors import InputError
from monitor.models import (
    BaselineChoice,
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    Mode,
    Strategy,
    Window,
)
from monitor.profiles import load_profile

SWITCH = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
CANARY = Window(SWITCH + timedelta(minutes=2), SWITCH + timedelta(minutes=32))
HOUR = timedelta(hours=1)


def _deployment(strategy: Strategy = Strategy.ROLLING, **changes: object) -> Deployment:
    spec = DeploymentSpec(
        service="checkout",
        environment="production",
        version="v2",
        baseline_version="v1",
        strategy=strategy,
        started_at=SWITCH,
        profile="otel-http",
        warmup_s=120.0,
        interval_s=60.0,
        min_duration_s=900.0,
        max_duration_s=3600.0,
    )
    return Deployment(
        id="d-1",
        spec=replace(spec, **changes),  # type: ignore[arg-type]
        status=DeploymentStatus.RUNNING,
        status_reason="",
        created_at=SWITCH,
        updated_at=SWITCH,
    )


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (BaselineChoice.PREVIOUS, Window(SWITCH - timedelta(minutes=30), SWITCH)),
        (BaselineChoice.DAY, Window(CANARY.start - 24 * HOUR, CANARY.end - 24 * HOUR)),
        (BaselineChoice.WEEK, Window(CANARY.start - 168 * HOUR, CANARY.end - 168 * HOUR)),
    ],
)
def test_each_choice_gives_its_window(choice: BaselineChoice, expected: Window) -> None:
    assert baseline_window(choice, CANARY, SWITCH) == expected


def test_auto_must_be_resolved_before_it_gives_a_window() -> None:
    with pytest.raises(InputError, match="resolve"):
        baseline_window(BaselineChoice.AUTO, CANARY, SWITCH)


@pytest.mark.parametrize(
    ("choice", "suggestion", "expected"),
    [
        (BaselineChoice.AUTO, None, BaselineChoice.PREVIOUS),
        (BaselineChoice.AUTO, "day", BaselineChoice.DAY),
        (BaselineChoice.AUTO, "week", BaselineChoice.WEEK),
        (BaselineChoice.AUTO, "previous", BaselineChoice.PREVIOUS),
        (BaselineChoice.AUTO, "auto", BaselineChoice.PREVIOUS),  # not a calibration's answer
        (BaselineChoice.AUTO, "month", BaselineChoice.PREVIOUS),
        (BaselineChoice.PREVIOUS, "day", BaselineChoice.PREVIOUS),  # a named choice wins
        (BaselineChoice.WEEK, "day", BaselineChoice.WEEK),
    ],
)
def test_auto_follows_the_calibration_and_a_named_choice_ignores_it(
    choice: BaselineChoice, suggestion: str | None, expected: BaselineChoice
) -> None:
    assert resolve_baseline(choice, suggestion) is expected


def test_a_day_baseline_must_end_before_the_switch() -> None:
    long_canary = Window(SWITCH, SWITCH + 25 * HOUR)
    assert seasonal_problem(BaselineChoice.DAY, CANARY, SWITCH) is None
    problem = seasonal_problem(BaselineChoice.DAY, long_canary, SWITCH)
    assert problem is not None and "within 24 h" in problem and "25 h after" in problem
    assert seasonal_problem(BaselineChoice.WEEK, long_canary, SWITCH) is None
    assert seasonal_problem(BaselineChoice.PREVIOUS, long_canary, SWITCH) is None
    with pytest.raises(InputError, match="day baseline"):
        baseline_window(BaselineChoice.DAY, long_canary, SWITCH)


def test_previous_is_the_window_the_daemon_always_used() -> None:
    request = deployment_request(_deployment(), load_profile("otel-http"))
    assert request.mode is Mode.BEFORE_AFTER
    assert request.baseline_choice is BaselineChoice.PREVIOUS
    assert request.baseline_window == Window(SWITCH - HOUR, SWITCH)
    at = SWITCH + timedelta(minutes=20)
    canary, baseline = request.windows_at(at)
    assert canary == Window(SWITCH + timedelta(minutes=2), at)
    assert baseline == Window(SWITCH - HOUR, SWITCH)  # fixed, whatever the look


def test_a_day_baseline_follows_the_canary_look_by_look() -> None:
    request = deployment_request(_deployment(baseline=BaselineChoice.DAY), load_profile("otel-http"))
    assert request.baseline_choice is BaselineChoice.DAY
    start = SWITCH + timedelta(minutes=2)
    assert request.baseline_window == Window(start - 24 * HOUR, start + HOUR - 24 * HOUR)
    for minutes in (5, 20, 62):
        at = SWITCH + timedelta(minutes=minutes)
        canary, baseline = request.windows_at(at)
        assert baseline == Window(canary.start - 24 * HOUR, canary.end - 24 * HOUR)


def test_a_canary_deployment_ignores_its_baseline_choice() -> None:
    request = deployment_request(
        _deployment(Strategy.CANARY, baseline=BaselineChoice.WEEK), load_profile("otel-http")
    )
    assert (request.mode, request.baseline_choice) == (Mode.CANARY, None)


def test_auto_takes_the_profile_calibration_and_falls_back_when_it_cannot_fit() -> None:
    calibrated = replace(load_profile("otel-http"), baseline="week")
    auto = _deployment(baseline=BaselineChoice.AUTO)
    assert deployment_request(auto, calibrated).baseline_choice is BaselineChoice.WEEK
    assert deployment_request(auto, load_profile("otel-http")).baseline_choice is BaselineChoice.PREVIOUS
    # A day's calibration cannot serve a 30-hour analysis: the plain window, named as such.
    too_long = _deployment(baseline=BaselineChoice.AUTO, max_duration_s=30 * 3600.0)
    request = deployment_request(too_long, replace(calibrated, baseline="day"))
    assert request.baseline_choice is BaselineChoice.PREVIOUS
    assert request.baseline_window == Window(SWITCH - 30 * HOUR, SWITCH)
