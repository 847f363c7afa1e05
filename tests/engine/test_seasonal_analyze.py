"""``monitor analyze --baseline day`` against a real Prometheus holding a day of a service's history.

The history has a daily cycle: at this hour traffic ramps from 100 to 300 requests/s and latency
rises by a quarter with it, yesterday as today. The deploy is an A/A (the new version behaves as the
old one did at the same hour). Judged against the window just before the deploy (``previous``), the
peak reads as a regression; judged against the same window a day earlier (``day``), it passes.
The data are simulated with :mod:`monitor.simulate`, backfilled with promtool, and served by a
Prometheus of this module's own (the session's scenarios share one start and have no history).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from importlib import resources

import jsonschema
import numpy as np
import pytest

from monitor.cli import main
from monitor.models import Mode
from monitor.simulate import Regression, Scenario
from monitor.simulate.openmetrics import write_openmetrics
from monitor.simulate.prometheus import PrometheusProcess, backfill, default_start_unix_s
from monitor.simulate.scenario import SimulatedRun, VersionData, simulate
from monitor.timeparse import format_time, parse_time

pytestmark = [pytest.mark.prometheus, pytest.mark.subprocess]

DAY_S = 86400
SCHEMA = json.loads(resources.files("monitor.schema").joinpath("verdict.schema.json").read_text())
# The hour of the deploy, on both days: traffic ramps up (over the hour before and the hour of the
# analysis, 20 minutes each) and the service slows with it. Only the seeds differ between the days.
PEAK_HOUR = Scenario(
    "seasonal",
    mode=Mode.BEFORE_AFTER,
    total_rps=100.0,
    ramp_to_rps=300.0,
    canary=Regression(median_factor=1.25),  # the load's doing, not the new version's
    seed=31,
)


@dataclass(frozen=True)
class History:
    url: str
    run: SimulatedRun


def _spliced(first: VersionData, second: VersionData) -> VersionData:
    """One version's series over two stretches of time (a gap between them, no counter reset)."""
    return replace(
        first,
        timestamps_s=np.concatenate([first.timestamps_s, second.timestamps_s]),
        buckets=np.concatenate([first.buckets, second.buckets]),
        latency_sum_s=np.concatenate([first.latency_sum_s, second.latency_sum_s]),
        cpu_s=np.concatenate([first.cpu_s, second.cpu_s]),
        memory_bytes=np.concatenate([first.memory_bytes, second.memory_bytes]),
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """v1 served yesterday's peak and this morning until the deploy; v2 serves today's peak."""
    start_s = default_start_unix_s()
    today = simulate(PEAK_HOUR, start_s)
    # Yesterday at the same hour, v1 in the role today's v2 plays: the same ramp and slowdown.
    yesterday = simulate(
        replace(PEAK_HOUR, baseline_version="v0", canary_version="v1", seed=32), start_s - DAY_S
    )
    assert yesterday.canary is not None and today.canary is not None
    v1 = _spliced(yesterday.canary, today.baseline)
    run = SimulatedRun(PEAK_HOUR, start_s, today.canary_window, today.baseline_window, v1, today.canary)
    workdir = tmp_path_factory.mktemp("seasonal")
    write_openmetrics([run], workdir / "metrics.om")
    backfill(workdir / "metrics.om", workdir / "tsdb")
    with PrometheusProcess(workdir / "tsdb", workdir=workdir) as process:
        yield History(process.url, run)


def _analyze(
    history: History, capsys: pytest.CaptureFixture[str], *baseline: str
) -> tuple[int, dict[str, object]]:
    window = history.run.canary_window
    code = main([
        "analyze", "--prometheus-url", history.url, "--service", "seasonal",
        "--canary-version", "v2", "--baseline-version", "v1",
        "--start", format_time(window.start), "--end", format_time(window.end),
        "--interval", "1m", "--output", "json", *baseline,
    ])  # fmt: skip
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    return code, document


def test_the_window_before_the_deploy_takes_the_daily_peak_for_a_regression(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = _analyze(history, capsys, "--baseline", "previous")
    assert (code, document["verdict"]) == (1, "fail"), document["summary"]
    before = history.run.baseline_window
    assert document["baseline"] == {
        "version": "v1",
        "start": format_time(before.start),
        "end": format_time(before.end),
        "choice": "previous",
    }


def test_the_same_window_a_day_earlier_passes_the_same_deploy(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = _analyze(history, capsys, "--baseline", "day")
    assert (code, document["verdict"]) == (0, "pass"), document["summary"]
    # The same minutes a day earlier as the look that decided (an early one: the canary's end).
    canary, day = document["canary"], timedelta(days=1)
    assert isinstance(canary, dict)
    assert document["baseline"] == {
        "version": "v1",
        "start": format_time(parse_time(canary["start"], "start") - day),
        "end": format_time(parse_time(canary["end"], "end") - day),
        "choice": "day",
    }


def test_previous_is_the_window_given_by_hand_under_a_name(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    before = history.run.baseline_window
    by_hand = _analyze(
        history,
        capsys,
        "--baseline-start",
        format_time(before.start),
        "--baseline-end",
        format_time(before.end),
    )[1]
    named = _analyze(history, capsys, "--baseline", "previous")[1]
    assert "choice" not in by_hand["baseline"]  # type: ignore[operator]
    assert {**by_hand, "baseline": named["baseline"]} == named


def test_a_week_baseline_without_history_is_inconclusive_not_a_pass(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing served a week ago: the seasonal baseline has no data, and says so."""
    code, document = _analyze(history, capsys, "--baseline", "week")
    assert (code, document["verdict"]) == (2, "inconclusive"), document["summary"]
    assert "v1 has no data" in str(document["summary"])


def test_a_baseline_choice_and_a_window_by_hand_are_refused_together(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    window = history.run.canary_window
    code = main([
        "analyze", "--prometheus-url", history.url, "--service", "seasonal",
        "--canary-version", "v2", "--baseline-version", "v1",
        "--start", format_time(window.start), "--end", format_time(window.end),
        "--baseline", "day", "--baseline-start", format_time(window.start - timedelta(hours=1)),
    ])  # fmt: skip
    assert code == 3
    assert "leave out --baseline-start" in capsys.readouterr().err
