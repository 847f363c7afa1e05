"""The backtest bench: scoring a backtest against the simulated truth (pure), and the ``--quick`` bench
end to end on a real Prometheus."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bench.backtest.__main__ import main
from bench.backtest.report import HeldOut, MonitorRun, held_out, per_deploy, rate_with_interval, summary
from bench.backtest.score import aa_failed, halves, score, split_point
from monitor.backtest.result import AARun, Backtest, CheckCalibration, PastDeploy, ReplayedDeploy, Suggestion
from monitor.models import Mode, VerdictStatus, Window
from monitor.simulate.history import SMALL, SimulatedHistory, default_end_unix_s, simulate_history


@pytest.fixture(scope="module")
def small() -> SimulatedHistory:
    return simulate_history(SMALL, default_end_unix_s(1_700_000_000))


def _replayed(version: str, baseline: str, start_shift_s: float, history: SimulatedHistory, *,
              overlap: bool, verdict: VerdictStatus) -> ReplayedDeploy:  # fmt: skip
    truth = next((d for d in history.deploys if d.version == version), history.deploys[0])
    start = truth.start + timedelta(seconds=start_shift_s)
    window = Window(start, start + timedelta(minutes=30))
    deploy = PastDeploy(version, baseline, start, window if overlap else None)
    mode = Mode.CANARY if overlap else Mode.BEFORE_AFTER
    return ReplayedDeploy(deploy, mode, window, None, verdict, start + timedelta(minutes=12), (), "")


def test_score_matches_deploys_by_version_and_start_and_counts_catches_and_false_alarms(
    small: SimulatedHistory,
) -> None:
    regressed, healthy = small.regressions[0], next(d for d in small.deploys if not d.regressed)
    replays = (
        # the regression, found a minute late with its canary phase, failed
        _replayed(regressed.version, regressed.previous_version, 60, small, overlap=True,
                  verdict=VerdictStatus.FAIL),
        # a healthy plain deploy found as a canary and failed: a false alarm with the wrong mode
        _replayed(healthy.version, healthy.previous_version, 0, small, overlap=True,
                  verdict=VerdictStatus.FAIL),
        # too far from any true start: spurious
        _replayed(healthy.version, healthy.previous_version, 3600, small, overlap=False,
                  verdict=VerdictStatus.PASS),
    )  # fmt: skip
    calibration = (
        CheckCalibration("http_error_ratio", 40, 1, (0.0, 0.1)),
        CheckCalibration("http_latency", 40, 3, (0.0, 0.2), baseline="day"),
    )
    backtest = Backtest(
        "checkout-small", None, "otel-http", small.span, replays, calibration, aa_runs=_aa_runs(small)
    )
    s = score(small, backtest)
    assert regressed.overlap is not None and healthy.overlap is None
    assert (s.found, s.modes_right, s.caught, s.false_alarms) == (2, 1, 1, 1)
    assert s.spurious == (replays[2],)
    assert s.deploys[regressed.number - 1].minutes_to_verdict == pytest.approx(12.0 + 1.0)
    # Per run, per baseline: the run failed on two checks counts once, the warning not at all.
    assert aa_failed(s.aa_runs, "previous") == (1, 3)
    assert aa_failed(s.aa_runs, "day") == (0, 2)
    assert aa_failed(s.aa_runs, "week") == (0, 0)

    run = MonitorRun("monitor", s, 1.5)
    row = summary([run], None, 0.0)[2]
    assert (
        "| 2/3 (+1 spurious) | 1/2 | 1/1 | 1/2 | previous (used): 1/3 = 33.3% [0.8%, 90.6%]; day: 0/2" in row
    )
    lines = per_deploy(run, None)
    assert len(lines) == 2 + len(small.deploys)
    assert (
        "not found" in lines[2 + next(d.number for d in small.deploys if d not in (regressed, healthy)) - 1]
    )


def _aa_runs(history: SimulatedHistory) -> tuple[AARun, ...]:
    """Three A/A runs with the previous baseline (one failed by two checks, one warned by a non-critical
    one, one quiet) and two with the day baseline on the same windows, quiet."""
    start = history.span.start + timedelta(hours=2)
    windows = [
        Window(start + timedelta(hours=3 * i), start + timedelta(hours=3 * i, minutes=60)) for i in range(3)
    ]
    verdicts = [
        (VerdictStatus.FAIL, ("http_error_ratio", "http_latency")),
        (VerdictStatus.MARGINAL, ("memory",)),
        (VerdictStatus.PASS, ()),
    ]
    previous = [AARun("v1", "previous", w, v, a) for w, (v, a) in zip(windows, verdicts, strict=True)]
    day = [AARun("v1", "day", w, VerdictStatus.PASS) for w in windows[1:]]
    return (*previous, *day)


def test_a_backtest_of_half_the_history_is_scored_on_that_halfs_deploys(small: SimulatedHistory) -> None:
    first, second = halves(small)
    assert first.end == second.start == split_point(small)
    later = [d for d in small.deploys if d.start >= second.start]
    assert 0 < len(later) < len(small.deploys)
    replays = tuple(
        _replayed(d.version, d.previous_version, 0, small, overlap=d.overlap is not None,
                  verdict=VerdictStatus.PASS)
        for d in small.deploys
    )  # fmt: skip
    s = score(small, Backtest("checkout-small", None, "otel-http", second, replays[-len(later) :]))
    assert [d.truth for d in s.deploys] == later
    assert s.found == len(later) and s.spurious == ()
    # A deploy of the other half found by a second-half backtest matches nothing there.
    s = score(small, Backtest("checkout-small", None, "otel-http", second, replays))
    assert len(s.spurious) == len(small.deploys) - len(later)


def test_the_split_keeps_every_deploy_clear_of_it(small: SimulatedHistory) -> None:
    """Halfway between the deploys around the middle: each at least half the minimum gap away (less
    the minute the split is floored to), so no deploy's analysis straddles it."""
    mid = split_point(small)
    assert small.span.start < mid < small.span.end and mid.second == 0
    gap_s = min(abs((d.start - mid).total_seconds()) for d in small.deploys)
    assert gap_s >= small.spec.min_gap_s / 2 - 60
    before = max(d.start for d in small.deploys if d.start < mid)
    after = min(d.start for d in small.deploys if d.start >= mid)
    assert abs((mid - before) - (after - mid)).total_seconds() <= 120


def test_the_held_out_table_says_it_is_out_of_sample_and_lists_the_fitted_suggestions(
    small: SimulatedHistory,
) -> None:
    first, second = halves(small)
    fit_score = score(small, Backtest("checkout-small", None, "otel-http", first, aa_runs=_aa_runs(small)))
    suggestion = Suggestion(
        "http_latency", 0.1, None, "previous", "allowed_effect 0.05 -> 0.1: 1 of 3 alarmed"
    )
    fit = MonitorRun("fit", fit_score, 2.0, (suggestion,))
    shipped = MonitorRun(
        "monitor, otel-http as it ships", score(small, Backtest("s", None, "p", second)), 1.0
    )
    calibrated = MonitorRun("monitor, otel-http-calibrated (fitted on the first half)", shipped.score, 1.0)
    lines = held_out(HeldOut(first, second, fit, (shipped, calibrated)))
    text = "\n".join(lines)
    assert "Out of sample" in text and "never saw" in text and "its 5 A/A runs" in text
    assert f"{second.start:%m-%d %H:%M} to {second.end:%m-%d %H:%M} UTC" in text
    assert sum(line.startswith("| monitor, otel-http") for line in lines) == 2
    assert "- `http_latency`: allowed_effect 0.05 -> 0.1" in text
    lonely = held_out(HeldOut(first, second, MonitorRun("fit", fit_score, 2.0), (shipped,)))
    assert lonely[-1] == "The first half gave no suggestion: there is no calibrated profile to judge."


def test_rate_interval_is_the_exact_binomial_one() -> None:
    assert rate_with_interval(0, 0) == "–"
    assert rate_with_interval(0, 100) == "0/100 = 0.0% [0.0%, 3.6%]"
    assert rate_with_interval(5, 50).startswith("5/50 = 10.0% [3.3%, 21.8%]")


@pytest.mark.prometheus
def test_quick_bench_finds_the_regression_and_passes_the_healthy_deploys(tmp_path: Path) -> None:
    """The bench's own Prometheus and promtool: three days, three deploys, a few A/A runs."""
    code = main(["--quick", "--no-suggested", "--max-trials", "6", "--results-dir", str(tmp_path)])
    assert code == 0
    rows = [json.loads(line) for line in (tmp_path / "backtest.jsonl").read_text().splitlines()]
    assert len(rows) == SMALL.deploys
    assert all(r["found"] for r in rows)
    assert [r["replay"] == "fail" for r in rows] == [r["regression"] is not None for r in rows]
    assert [r["found_mode"] for r in rows] == [r["mode"] for r in rows]
    # The split falls between the first deploy and the second (seed 3's deploys, halfway between them).
    assert [r["held_out"] for r in rows] == [False, True, True]
    report = (tmp_path / "backtest.md").read_text()
    assert "| monitor, otel-http as it ships | 3/3 (+0 spurious) | 3/3 | 1/1 | 0/2 |" in report
    # The A/A column counts runs per baseline, each with its own interval.
    assert re.search(r"\| previous \(used\): \d+/\d+ = [\d.]+% \[[\d.]+%, [\d.]+%\]; day: \d+/\d+", report)
    assert "fixed thresholds" in report
    assert "Out of sample" not in report  # --no-suggested: no held-out comparison


@pytest.mark.prometheus
@pytest.mark.slow
def test_quick_bench_judges_both_profiles_on_the_held_out_half(tmp_path: Path) -> None:
    """Fit on the first half, judge on the second: the held-out table's rows count that half's deploys."""
    code = main(["--quick", "--max-trials", "6", "--results-dir", str(tmp_path)])
    assert code == 0
    rows = [json.loads(line) for line in (tmp_path / "backtest.jsonl").read_text().splitlines()]
    later = [r for r in rows if r["held_out"]]
    assert 0 < len(later) < len(rows)
    report = (tmp_path / "backtest.md").read_text()
    section = report[report.index("Out of sample") : report.index("Per deploy")]
    found = f"| {len(later)}/{len(later)} (+0 spurious) |"
    assert f"| monitor, otel-http as it ships {found}" in section
    assert "Suggestions fitted on the first half" in section
    assert f"| monitor, otel-http-calibrated (fitted on the first half) {found}" in section
