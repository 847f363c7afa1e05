"""The simulator: determinism, windows, OpenMetrics output and agreement with a real Prometheus."""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import MonitorError
from monitor.models import Mode, Window
from monitor.simulate import (
    PrometheusProcess,
    Regression,
    Scenario,
    SimulatedPrometheus,
    SimulatedRun,
    backfill,
    default_start_unix_s,
    simulate,
    simulate_into_prometheus,
    write_openmetrics,
)

START_S = 1_700_000_000 - 1_700_000_000 % 3600


def _instant(url: str, expr: str, at: datetime) -> list[tuple[dict[str, str], float]]:
    query = urllib.parse.urlencode({"query": expr, "time": at.timestamp()})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def _scalar(url: str, expr: str, at: datetime) -> float:
    result = _instant(url, expr, at)
    assert len(result) == 1, (expr, result)
    return result[0][1]


def _lognormal_above(threshold_s: float, median_s: float, sigma: float) -> float:
    return 0.5 * math.erfc(math.log(threshold_s / median_s) / (sigma * math.sqrt(2.0)))


def _fraction_above(run: SimulatedRun, threshold_s: float, canary: bool) -> float:
    data = run.canary if canary else run.baseline
    assert data is not None
    hist = data.totals(run.canary_window if canary else run.baseline_window).histogram
    above = sum(c for b, c in zip(hist.upper_bounds, hist.counts, strict=True) if b > threshold_s)
    return above / hist.total


def test_same_seed_gives_identical_data_and_start_time_only_shifts_it() -> None:
    scenario = Scenario("det", canary=Regression(median_factor=1.3), seed=42)
    a, b = simulate(scenario, START_S), simulate(scenario, START_S + 3600)
    for x, y in ((a.baseline, b.baseline), (a.canary, b.canary)):
        assert x is not None and y is not None
        np.testing.assert_array_equal(x.buckets, y.buckets)
        np.testing.assert_array_equal(x.cpu_s, y.cpu_s)
        np.testing.assert_array_equal(x.timestamps_s + 3600, y.timestamps_s)
    other = simulate(Scenario("det", seed=43), START_S)
    assert not np.array_equal(a.baseline.buckets, other.baseline.buckets)


def test_invalid_scenario_is_rejected_with_all_reasons() -> None:
    with pytest.raises(ValueError, match=r"duration_s must be a positive multiple.*canary_share"):
        Scenario("bad", duration_s=1000, canary_share=1.5)


def test_canary_mode_windows_and_baseline_preroll() -> None:
    run = simulate(Scenario("c", duration_s=600), START_S)
    window = Window(datetime.fromtimestamp(START_S, UTC), datetime.fromtimestamp(START_S + 600, UTC))
    assert run.canary_window == run.baseline_window == window
    assert run.canary is not None
    assert run.canary.timestamps_s[0] == START_S
    assert run.baseline.timestamps_s[0] == START_S - 600
    assert run.baseline.timestamps_s[-1] == run.canary.timestamps_s[-1] == START_S + 600
    assert run.canary.buckets[0].sum() == 0


def test_before_after_windows_are_adjacent_and_do_not_overlap() -> None:
    run = simulate(Scenario("ba", mode=Mode.BEFORE_AFTER), START_S)
    assert run.canary is not None
    assert run.baseline_window.end == run.canary_window.start
    assert run.baseline_window.duration_s == run.canary_window.duration_s == 1200
    assert run.baseline.timestamps_s[-1] <= run.canary.timestamps_s[0]
    # The baseline alone had all the traffic, as had the canary afterwards.
    base = run.baseline.totals(run.baseline_window).requests
    assert 0.9 * 120_000 < base < 1.1 * 120_000


def test_no_canary_traffic_emits_nothing_for_the_canary() -> None:
    run = simulate(Scenario("n", canary_traffic=False), START_S)
    assert run.canary is None
    assert run.versions == (run.baseline,)


def test_regressions_shape_the_generated_data(scenarios: tuple[Scenario, ...]) -> None:
    runs = {s.name: simulate(s, START_S) for s in scenarios}
    sigma = 0.5
    median = runs["median_25"]
    expected = _lognormal_above(0.1, 0.08 * 1.25, sigma)
    assert _fraction_above(median, 0.1, canary=True) == pytest.approx(expected, abs=0.03)
    assert _fraction_above(median, 0.1, canary=False) == pytest.approx(
        _lognormal_above(0.1, 0.08, sigma), abs=0.01
    )
    tail = runs["tail_slow"]
    assert _fraction_above(tail, 0.25, canary=True) > 3 * _fraction_above(tail, 0.25, False)

    errors = runs["errors_3x"]
    assert errors.canary is not None
    canary = errors.canary.totals(errors.canary_window)
    assert canary.errors / canary.requests == pytest.approx(0.03, abs=0.006)
    cpu = runs["cpu_2x"]
    assert cpu.canary is not None
    per_request = cpu.canary.totals(cpu.canary_window)
    assert per_request.cpu_s / per_request.requests == pytest.approx(0.004, rel=0.02)

    ramp = runs["ramp_aa"].canary
    assert ramp is not None
    per_scrape = ramp.buckets.sum(axis=(1, 2))
    assert per_scrape[-10:].mean() / per_scrape[1:11].mean() == pytest.approx(287.5 / 112.5, rel=0.05)

    shared = runs["shared_slowdown_aa"]
    for data in shared.versions:
        offset_s = data.timestamps_s - shared.start_unix_s
        mean_s = data.latency_sum_s.sum(axis=1) / np.maximum(data.buckets.sum(axis=(1, 2)), 1)
        slow = (offset_s > 300) & (offset_s <= 600)
        calm = (offset_s > 0) & ~slow
        assert mean_s[slow].mean() / mean_s[calm].mean() == pytest.approx(2.0, rel=0.01)


@pytest.mark.prometheus
def test_prometheus_counters_equal_generated_totals(prometheus: SimulatedPrometheus) -> None:
    url = prometheus.url
    for name, run in prometheus.runs.items():
        otel = run.scenario.flavor == "otel"
        hist = "http_server_request_duration_seconds" if otel else "http_request_duration_seconds"
        service, version, code = (
            ("service_name", "service_version", "http_response_status_code")
            if otel
            else ("service", "version", "code")
        )
        requests = f"{hist}_count" if otel else "http_requests_total"
        cpu = "process_cpu_time_seconds_total" if otel else "process_cpu_seconds_total"
        for data, window in ((run.baseline, run.baseline_window), (run.canary, run.canary_window)):
            if data is None:
                continue
            totals = data.totals(window)
            sel = f'{service}="{name}",{version}="{data.version}"'

            def delta(expr: str, window: Window = window) -> float:
                return _scalar(url, expr, window.end) - _scalar(url, expr, window.start)

            assert delta(f"sum({requests}{{{sel}}})") == totals.requests, name
            assert delta(f'sum({requests}{{{sel},{code}="500"}})') == totals.errors, name
            assert delta(f"sum({hist}_count{{{sel}}})") == totals.requests, name
            assert delta(f"sum({hist}_sum{{{sel}}})") == pytest.approx(totals.latency_sum_s)
            assert delta(f"sum({cpu}{{{sel}}})") == pytest.approx(totals.cpu_s)
            at_end = _instant(url, f"sum by (le) ({hist}_bucket{{{sel}}})", window.end)
            at_start = dict(
                (m["le"], v) for m, v in _instant(url, f"sum by (le) ({hist}_bucket{{{sel}}})", window.start)
            )
            got = sorted((float(m["le"]), v - at_start[m["le"]]) for m, v in at_end)
            cumulative = np.cumsum(totals.histogram.counts).tolist()
            assert got == list(zip(totals.histogram.upper_bounds, cumulative, strict=True)), name
        if run.canary is None:
            absent = f'{requests}{{{service}="{name}",{version}="{run.scenario.canary_version}"}}'
            assert _instant(url, absent, run.canary_window.end) == []


@pytest.mark.prometheus
def test_increase_over_the_window_is_exact_on_prometheus_2(
    prometheus: SimulatedPrometheus,
) -> None:
    # Prometheus 2.x range selectors include both ends, so the window-start sample is used
    # and nothing is extrapolated (Prometheus 3 excludes the start and would extrapolate).
    run = prometheus.runs["errors_3x"]
    assert run.canary is not None
    expr = 'sum(increase(http_server_request_duration_seconds_count{service_name="errors_3x",'
    expr += 'service_version="v2",http_response_status_code="500"}[1200s]))'
    got = _scalar(prometheus.url, expr, run.canary_window.end)
    assert got == run.canary.totals(run.canary_window).errors


@pytest.mark.prometheus
def test_canary_latency_shift_is_visible_in_prometheus(prometheus: SimulatedPrometheus) -> None:
    run = prometheus.runs["median_25"]
    sel = 'service_name="median_25",le="0.1"'
    expr = (
        f"sum by (service_version) (increase(http_server_request_duration_seconds_bucket{{{sel}}}"
        "[1200s])) / sum by (service_version) (increase(http_server_request_duration_seconds_count"
        '{service_name="median_25"}[1200s]))'
    )
    below = {m["service_version"]: v for m, v in _instant(prometheus.url, expr, run.canary_window.end)}
    assert 1 - below["v1"] == pytest.approx(0.33, abs=0.01)
    assert 1 - below["v2"] == pytest.approx(0.5, abs=0.03)


@pytest.mark.prometheus
def test_openmetrics_file_ends_with_eof_and_promtool_accepts_it(tmp_path: Path) -> None:
    runs = [
        simulate(Scenario("om_otel", seed=1), START_S),
        simulate(Scenario("om_prom", flavor="prometheus", mode=Mode.BEFORE_AFTER), START_S),
    ]
    path = tmp_path / "m.om"
    samples = write_openmetrics(runs, path)
    lines = path.read_text().splitlines()
    assert lines[-1] == "# EOF"
    assert samples == sum(not line.startswith("#") for line in lines)
    types = [line for line in lines if line.startswith("# TYPE")]
    assert len(types) == len(set(types)) == 7
    assert 'le="1.0"' in path.read_text() and 'le="+Inf"' in path.read_text()
    backfill(path, tmp_path / "tsdb")
    assert any((tmp_path / "tsdb").iterdir())


def test_backfill_reports_promtool_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.om"
    path.write_text('x_total{a="b"} 1 1700000000\n')
    with pytest.raises(MonitorError, match="EOF"):
        backfill(path, tmp_path / "tsdb")


def test_missing_binaries_say_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="apt-get install prometheus"):
        backfill(tmp_path / "x.om", tmp_path / "tsdb", promtool="no-such-promtool")
    with pytest.raises(MonitorError, match="apt-get install prometheus"):
        PrometheusProcess(tmp_path, binary="no-such-prometheus").start()


@pytest.mark.prometheus
def test_prometheus_process_lifecycle(tmp_path: Path) -> None:
    process = PrometheusProcess(tmp_path / "tsdb")
    with pytest.raises(MonitorError, match="not running"):
        _ = process.url
    with process:
        assert process.running
        with urllib.request.urlopen(f"{process.url}/-/ready", timeout=5) as response:
            assert response.status == 200
        log_path = process.log_path
        assert log_path.exists()
    assert not process.running
    assert not log_path.exists()
    process.stop()  # idempotent


def test_default_start_is_on_the_hour_at_least_six_hours_ago() -> None:
    now = datetime(2026, 3, 1, 12, 59, 59, tzinfo=UTC)
    assert default_start_unix_s(now) == int(datetime(2026, 3, 1, 6, tzinfo=UTC).timestamp())
    assert default_start_unix_s(now.timestamp()) == default_start_unix_s(now)
    assert time.time() - default_start_unix_s() >= 6 * 3600


def test_simulate_into_prometheus_refuses_recent_data(tmp_path: Path) -> None:
    recent = int(time.time()) - 3600
    with pytest.raises(MonitorError, match="within 3 h"):
        simulate_into_prometheus([Scenario("recent")], tmp_path, start_unix_s=recent)
    with pytest.raises(MonitorError, match="unique"):
        simulate_into_prometheus([Scenario("a"), Scenario("a")], tmp_path)


@pytest.mark.prometheus
def test_prometheus_startup_failure_reports_the_log_and_cleans_up(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "tsdb"
    not_a_dir.write_text("")
    process = PrometheusProcess(not_a_dir, workdir=tmp_path / "files")
    with pytest.raises(MonitorError, match=r"exited during startup: .*not a directory"):
        process.start()
    assert not process.running
    assert (tmp_path / "files" / "prometheus.log").exists()
