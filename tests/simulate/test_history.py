"""The simulated history: determinism, the ground truth's shape, the traffic cycles, and a real
Prometheus that sees each deploy's version change at its minute after the day-by-day backfill."""

from __future__ import annotations

import itertools
import json
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import SimulationError
from monitor.models import Mode
from monitor.simulate.history import (
    SMALL,
    HistorySpec,
    RegressionKind,
    SimulatedHistory,
    default_end_unix_s,
    simulate_history,
)
from monitor.simulate.history_prometheus import (
    CHUNK_S,
    backfill_history,
    history_into_prometheus,
    write_history_openmetrics,
)

END_S = default_end_unix_s(1_700_000_000)


@pytest.fixture(scope="module")
def month() -> SimulatedHistory:
    return simulate_history(HistorySpec(), END_S)


def _error_ratio(history: SimulatedHistory, version: str) -> float:
    data = next(v for v in history.versions if v.version == version)
    per_code = data.buckets.sum(axis=(0, 2))
    return float(per_code[1] / per_code.sum())


def test_same_spec_and_end_give_identical_data_and_another_seed_does_not() -> None:
    a, b = simulate_history(SMALL, END_S), simulate_history(SMALL, END_S)
    c = simulate_history(replace(SMALL, seed=SMALL.seed + 1), END_S)
    assert a == b
    assert all(np.array_equal(x.buckets, y.buckets) for x, y in zip(a.versions, b.versions, strict=True))
    assert a.deploys != c.deploys


def test_default_end_is_a_monday_midnight_at_least_four_hours_ago() -> None:
    now_s = 1_700_000_000.0  # a Tuesday
    end = datetime.fromtimestamp(default_end_unix_s(now_s), UTC)
    assert end.weekday() == 0 and end.timestamp() % 86_400 == 0
    assert now_s - 4 * 3600 - 7 * 86_400 < end.timestamp() <= now_s - 4 * 3600


def test_month_has_twenty_deploys_five_regressing_of_both_kinds_and_modes(month: SimulatedHistory) -> None:
    deploys = month.deploys
    assert len(deploys) == 20 and len(month.versions) == 21
    assert len(month.regressions) == 5
    assert {d.regression for d in month.regressions} == set(RegressionKind)
    assert {d.mode for d in month.regressions} == {Mode.CANARY, Mode.BEFORE_AFTER}
    assert sum(d.mode is Mode.CANARY for d in deploys) == 8
    gaps_s = [(b.start - a.start).total_seconds() for a, b in itertools.pairwise(deploys)]
    assert min(gaps_s) >= HistorySpec().min_gap_s
    for d in deploys:
        assert d.previous_version == (month.versions[d.number - 1].version)
        if d.overlap is not None:
            assert 30 * 60 <= d.overlap.duration_s <= 60 * 60 and d.overlap.start == d.start
            assert d.canary_share is not None and 0 < d.canary_share < 1


def test_serving_versions_and_solo_windows_follow_the_deploys(month: SimulatedHistory) -> None:
    canary = next(d for d in month.deploys if d.overlap is not None)
    plain = next(d for d in month.deploys if d.overlap is None)
    assert canary.overlap is not None
    assert month.serving(canary.start - timedelta(minutes=1)) == (canary.previous_version,)
    assert month.serving(canary.start + timedelta(minutes=10)) == (canary.previous_version, canary.version)
    assert month.serving(canary.overlap.end + timedelta(minutes=1)) == (canary.version,)
    assert month.serving(plain.start + timedelta(minutes=1)) == (plain.version,)
    solo = month.solo_windows()
    assert len(solo) == 21 and solo[0][1].start == month.span.start and solo[-1][1].end == month.span.end
    for version, window in solo:
        assert month.serving(window.start + timedelta(minutes=1)) == (version,)


def test_regressions_show_in_the_generated_data(month: SimulatedHistory) -> None:
    for d in month.regressions:
        if d.regression is RegressionKind.ERRORS:
            assert _error_ratio(month, d.version) > 2 * _error_ratio(month, d.previous_version)
        else:
            new, old = (
                next(v for v in month.versions if v.version == x) for x in (d.version, d.previous_version)
            )
            slow = [float(v.buckets[:, :, 10:].sum() / v.buckets.sum()) for v in (new, old)]  # above 2.5 s
            assert slow[0] > 5 * slow[1]


def test_traffic_has_a_daily_peak_and_a_weekend_dip(month: SimulatedHistory) -> None:
    ts = np.concatenate([v.timestamps_s for v in month.versions])
    requests = np.concatenate([v.buckets.sum(axis=(1, 2)) for v in month.versions])
    hour = (ts % 86_400) // 3600
    weekday = ((ts - 4 * 86_400) // 86_400) % 7
    weekday_peak = requests[(hour == 15) & (weekday < 5)].mean()
    assert weekday_peak > 2 * requests[(hour == 3) & (weekday < 5)].mean()
    assert requests[(hour == 15) & (weekday >= 5)].mean() < 0.8 * weekday_peak


def test_an_impossible_spec_says_what_to_change() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        HistorySpec(days=1.0, deploys=10)
    with pytest.raises(ValueError, match="regressions"):
        HistorySpec(regressions=30)


def test_chunks_cover_aligned_blocks_and_carry_counters(tmp_path: Path) -> None:
    history = simulate_history(SMALL, END_S)
    paths, samples = write_history_openmetrics(history, tmp_path)
    assert len(paths) == 3 + 1  # three days and the end's sample
    assert samples == sum(v.timestamps_s.size for v in history.versions) * (2 * 17 + 2)
    assert all(int(p.stem) % CHUNK_S == 0 for p in paths)
    first = next(v for v in history.versions)
    total = int(first.buckets.sum(axis=2)[:, 0].sum())
    name = f'http_server_request_duration_seconds_count{{service_name="{SMALL.service}",'
    last_line = next(
        line
        for path in reversed(paths)
        for line in reversed(path.read_text().splitlines())
        if line.startswith(name + f'service_version="{first.version}",http_response_status_code="200"}}')
    )
    assert float(last_line.split()[1]) == total


def test_recent_history_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="head block"):
        backfill_history(simulate_history(SMALL, default_end_unix_s() + 7 * 86_400), tmp_path)


def _versions_at(url: str, service: str, at: datetime) -> set[str]:
    expr = (
        f'count by (service_version) (http_server_request_duration_seconds_count{{service_name="{service}"}})'
    )
    query = urllib.parse.urlencode({"query": expr, "time": at.timestamp()})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
        body = json.load(response)
    return {r["metric"]["service_version"] for r in body["data"]["result"]}


@pytest.mark.prometheus
def test_prometheus_sees_each_version_change_at_its_minute(tmp_path: Path) -> None:
    history = simulate_history(SMALL)
    lookback = timedelta(minutes=5, seconds=30)  # a stopped series stays visible for 5 minutes
    with history_into_prometheus(history, tmp_path) as prometheus:
        for d in history.deploys:
            before = _versions_at(prometheus.url, SMALL.service, d.start - timedelta(minutes=1))
            assert before == {d.previous_version}
            after = (d.overlap.end if d.overlap else d.start) + lookback
            assert _versions_at(prometheus.url, SMALL.service, after) == {d.version}
            if d.overlap is not None:
                both = d.start + timedelta(minutes=15)
                assert _versions_at(prometheus.url, SMALL.service, both) == {d.previous_version, d.version}
