"""The Prometheus source against a real Prometheus (started by ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.errors import BackendUnavailable, QueryError
from monitor.models import Window
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import MAX_POINTS, PrometheusSource, choose_step_s

pytestmark = pytest.mark.prometheus


def test_step_is_raised_only_when_needed() -> None:
    assert choose_step_s(1200, 60) == 60
    week_s = 7 * 86400
    step = choose_step_s(week_s, 1)
    assert week_s / step <= MAX_POINTS
    assert week_s / (step - 1) > MAX_POINTS


async def test_a_week_at_one_second_resolution_is_accepted(prometheus: SimulatedPrometheus) -> None:
    run = prometheus.runs["aa"]
    end = run.canary_window.end
    source = PrometheusSource(prometheus.url)
    try:
        series = await source.range(
            'sum(http_server_request_duration_seconds_count{service_name="aa"})',
            Window(end - timedelta(days=7), end),
            step_s=1,
        )
    finally:
        await source.close()
    assert len(series) == 1
    assert len(series[0].points) <= MAX_POINTS + 1


async def test_instant_query_returns_the_simulated_total(prometheus: SimulatedPrometheus) -> None:
    run = prometheus.runs["aa"]
    assert run.canary is not None
    expected = run.canary.totals(run.canary_window).requests
    source = PrometheusSource(prometheus.url)
    try:
        samples = await source.instant(
            'sum(http_server_request_duration_seconds_count{service_name="aa", service_version="v2"})',
            run.canary_window.end,
        )
    finally:
        await source.close()
    assert [s.value for s in samples] == [expected]


async def test_bad_promql_is_a_query_error_with_prometheus_reason(prometheus: SimulatedPrometheus) -> None:
    source = PrometheusSource(prometheus.url)
    try:
        with pytest.raises(QueryError, match="bad_data") as caught:
            await source.instant("sum(rate(x[5m])", prometheus.runs["aa"].canary_window.end)
    finally:
        await source.close()
    assert "sum(rate(x[5m])" in str(caught.value)


async def test_unreachable_server_fails_after_bounded_retries() -> None:
    source = PrometheusSource("http://127.0.0.1:9", max_attempts=2, backoff_s=0.01)
    try:
        with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:9 failed after 2 attempts"):
            await source.instant("up", datetime.now(UTC))
    finally:
        await source.close()


async def test_a_range_vector_from_an_instant_query_is_a_query_error(prometheus: SimulatedPrometheus) -> None:
    source = PrometheusSource(prometheus.url)
    try:
        with pytest.raises(QueryError, match="not an instant vector") as caught:
            await source.instant(
                'http_server_request_duration_seconds_count{service_name="aa"}[5m]',
                prometheus.runs["aa"].canary_window.end,
            )
    finally:
        await source.close()
    assert caught.value.url == source.url  # the error names the server it came from, as a field
