"""Finding past deploys in each version's traffic per minute (pure: frames in, deploys out)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from monitor.backtest.discovery import (
    Timeline,
    chunks,
    read_timeline,
    traffic_frame,
    version_traffic_query,
)
from monitor.models import Mode, Window
from monitor.profiles import load_profile
from monitor.sources.base import MAX_POINTS

T0 = 1_700_000_040.0  # a whole minute


def _frame(spans: dict[str, list[tuple[int, int]]], rate: float = 100.0) -> pd.DataFrame:
    """Traffic per minute: each version serves the minutes ``[a, b)`` of its spans."""
    rows = [
        {"timestamp": T0 + 60.0 * m, "version": v, "value": rate}
        for v, ranges in spans.items()
        for a, b in ranges
        for m in range(a, b)
    ]
    return pd.DataFrame(rows)


def _minute(m: int) -> datetime:
    return datetime.fromtimestamp(T0 + 60.0 * m, UTC)


def test_a_canary_phase_is_an_overlap_and_a_switch_is_before_after() -> None:
    # v1 alone, v2 as a canary beside it for 30 minutes, then v2 alone; then v3 replaces v2 at once.
    timeline = read_timeline(_frame({"v1": [(0, 130)], "v2": [(100, 300)], "v3": [(300, 400)]}))
    assert [(d.version, d.baseline_version, d.mode) for d in timeline.deploys] == [
        ("v2", "v1", Mode.CANARY),
        ("v3", "v2", Mode.BEFORE_AFTER),
    ]
    canary, switch = timeline.deploys
    # A point at T counts (T - 1 min, T]: v2's first minute began one step before its first point.
    assert canary.start == _minute(99)
    assert canary.overlap == Window(_minute(99), _minute(129))
    assert canary.end == _minute(299)
    assert switch.start == _minute(299) and switch.overlap is None and switch.end is None


def test_the_version_serving_when_the_range_begins_is_no_deploy() -> None:
    timeline = read_timeline(_frame({"v1": [(0, 50)], "v2": [(50, 100)]}))
    assert [d.version for d in timeline.deploys] == ["v2"]


def test_idle_minutes_without_another_version_are_not_a_redeploy() -> None:
    # A quiet night: v1 has no traffic for two hours, then serves again; nothing else ran.
    timeline = read_timeline(_frame({"v1": [(0, 100), (220, 300)]}))
    assert timeline.deploys == ()
    assert timeline.intervals["v1"] == (Window(_minute(-1), _minute(299)),)


def test_a_rollback_to_the_old_version_is_a_deploy_of_it() -> None:
    timeline = read_timeline(_frame({"v1": [(0, 100), (200, 300)], "v2": [(100, 200)]}))
    assert [(d.version, d.baseline_version) for d in timeline.deploys] == [("v2", "v1"), ("v1", "v2")]


def test_a_rollback_after_a_rolling_update_is_a_deploy_of_the_old_version() -> None:
    # v1 -> v2 through a 3-minute rolling update; 100 minutes later v1 rolls back in the same way.
    # v2 served through v1's absence, so v1's return is a deploy of it, however v2 began.
    timeline = read_timeline(_frame({"v1": [(0, 103), (200, 300)], "v2": [(100, 203)]}))
    found = [(d.version, d.baseline_version, d.mode, d.start) for d in timeline.deploys]
    assert found == [
        ("v2", "v1", Mode.BEFORE_AFTER, _minute(99)),
        ("v1", "v2", Mode.BEFORE_AFTER, _minute(199)),
    ]
    assert len(timeline.intervals["v1"]) == 2


def test_an_aborted_canary_retried_later_is_two_deploys() -> None:
    # v1 serves throughout; v2's canary runs 20 minutes and is aborted; two hours later it is retried.
    timeline = read_timeline(_frame({"v1": [(0, 400)], "v2": [(100, 120), (260, 400)]}))
    found = [(d.version, d.baseline_version, d.overlap) for d in timeline.deploys]
    assert found == [
        ("v2", "v1", Window(_minute(99), _minute(119))),
        ("v2", "v1", Window(_minute(259), _minute(399))),
    ]
    assert timeline.deploys[0].end == _minute(119)


def test_a_quiet_minute_of_the_old_version_beside_a_canary_is_no_deploy() -> None:
    # Low traffic: v1 has no request in minute 150 while v2's canary serves; v1 did not come back.
    timeline = read_timeline(_frame({"v1": [(0, 150), (151, 300)], "v2": [(100, 300)]}))
    assert [(d.version, d.baseline_version) for d in timeline.deploys] == [("v2", "v1")]


def test_a_rolling_update_of_minutes_is_a_switch_and_stray_minutes_are_ignored() -> None:
    # Both serve for 3 minutes (a rolling update); a pod of v9 answers for one minute.
    timeline = read_timeline(_frame({"v1": [(0, 103)], "v2": [(100, 200)], "v9": [(150, 151)]}))
    assert [(d.version, d.mode) for d in timeline.deploys] == [("v2", Mode.BEFORE_AFTER)]
    assert "v9" not in timeline.intervals


def test_stretches_of_one_version_alone_are_the_a_a_windows() -> None:
    timeline = read_timeline(_frame({"v1": [(0, 130)], "v2": [(100, 300)]}))
    alone = [(a.version, a.window) for a in timeline.alone]
    assert alone == [("v1", Window(_minute(-1), _minute(99))), ("v2", Window(_minute(129), _minute(299)))]
    assert timeline.ran_alone("v2", Window(_minute(150), _minute(200)))
    assert not timeline.ran_alone("v2", Window(_minute(110), _minute(200)))
    assert not timeline.ran_alone("v1", Window(_minute(150), _minute(200)))


def test_no_traffic_is_no_deploy() -> None:
    timeline = read_timeline(traffic_frame([], "version"))
    assert isinstance(timeline, Timeline) and timeline.deploys == () and timeline.alone == ()


def test_range_results_become_one_frame_through_prometheus_api_client() -> None:
    chunk = [
        {"metric": {"version": "v1"}, "values": [[T0, "5"], [T0 + 60, "6"]]},
        {"metric": {"version": "v2"}, "values": [[T0 + 60, "1"]]},
        {"metric": {}, "values": [[T0, "3"]]},  # without the label: dropped
    ]
    frame = traffic_frame([chunk, [], chunk[1:2]], "version")
    assert sorted(frame.columns) == ["timestamp", "value", "version"]
    assert frame.groupby("version")["value"].sum().to_dict() == {"v1": 11.0, "v2": 2.0}


def test_chunks_stay_under_the_point_limit_and_cover_every_step() -> None:
    start = _minute(0)
    span = Window(start, start + timedelta(days=30))
    parts = chunks(span, 60.0)
    points = [int(p.duration_s // 60) + 1 for p in parts]
    assert max(points) <= MAX_POINTS and sum(points) == 30 * 1440 + 1
    assert parts[0].start == span.start and parts[-1].end == span.end
    assert all((b.start - a.end).total_seconds() == 60 for a, b in itertools.pairwise(parts))


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            "prometheus-http",
            'sum by (version) (increase(http_requests_total{service="api"}[60s]))',
        ),
        (
            "otel-http",
            "sum by (service_version) "
            '(increase(http_server_request_duration_seconds_count{service_name="api"}[60s]))',
        ),
    ],
)
def test_the_traffic_query_splits_the_profiles_requests_by_version(profile: str, expected: str) -> None:
    assert version_traffic_query(load_profile(profile), "api") == expected
