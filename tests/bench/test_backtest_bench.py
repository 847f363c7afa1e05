"""The backtest bench: scoring a backtest against the simulated truth (pure), and the ``--quick`` bench
end to end on a real Prometheus."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bench.backtest.__main__ import main
from bench.backtest.report import MonitorRun, per_deploy, rate_with_interval, summary
from bench.backtest.score import pooled_false_alarms, score
from monitor.backtest.result import Backtest, CheckCalibration, PastDeploy, ReplayedDeploy
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
    backtest = Backtest("checkout-small", None, "otel-http", small.span, replays, calibration)
    s = score(small, backtest)
    assert regressed.overlap is not None and healthy.overlap is None
    assert (s.found, s.modes_right, s.caught, s.false_alarms) == (2, 1, 1, 1)
    assert s.spurious == (replays[2],)
    assert s.deploys[regressed.number - 1].minutes_to_verdict == pytest.approx(12.0 + 1.0)
    assert pooled_false_alarms(calibration) == (4, 80)
    assert pooled_false_alarms(calibration, "day") == (3, 40)

    run = MonitorRun("monitor", s, 1.5)
    row = summary(small, [run], None, 0.0)[2]
    assert "| 2/3 (+1 spurious) | 1/2 | 1/1 | 1/2 | 4/80 = 5.0%" in row
    lines = per_deploy(run, None)
    assert len(lines) == 2 + len(small.deploys)
    assert (
        "not found" in lines[2 + next(d.number for d in small.deploys if d not in (regressed, healthy)) - 1]
    )


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
    report = (tmp_path / "backtest.md").read_text()
    assert "| monitor, otel-http as it ships | 3/3 (+0 spurious) | 3/3 | 1/1 | 0/2 |" in report
    assert "fixed thresholds" in report
