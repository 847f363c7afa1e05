"""The report's pure parts: chart geometry, how a check reads, the banner, people's numbers, links."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.api import report_format
from monitor.api.report_actions import banner
from monitor.api.report_checks import (
    PLOT_HEIGHT,
    PLOT_WIDTH,
    LookOf,
    effect_chart,
    findings_strip,
    state,
    values_chart,
)
from monitor.api.report_latency import HISTOGRAM_HEIGHT, histogram
from monitor.api.report_sources import check_queries, dashboard_url
from monitor.charts import Scale, band_path, linear_ticks, nice_step, ratio_domain, ratio_ticks
from monitor.profiles import load_profile
from monitor.store import AuditEvent, Notification

AT = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)


def _check(**fields: Any) -> dict[str, Any]:
    check: dict[str, Any] = {
        "name": "http_error_ratio", "signal": "metrics", "comparison": "counts", "classification": "pass",
        "critical": True, "unit": "ratio", "baseline": {"value": 0.01, "n": 195_180.0},
        "canary": {"value": 0.0259, "n": 19_518.0}, "effect": 2.59, "interval": [0.9, 7.1],
        "p_value": 0.04, "conclusive": False, "allowed": [None, 1.25],
        "message": "share of requests answered with a 5xx 2.59x baseline, not yet conclusive; allowed 1.25x",
        "evidence": [],
    }  # fmt: skip
    check.update(fields)
    return check


def test_scale_maps_and_clamps_linear_and_log() -> None:
    linear = Scale(0.0, 10.0, 100.0, 0.0)
    assert (linear(0.0), linear(5.0), linear(10.0), linear(20.0)) == (100.0, 50.0, 0.0, 0.0)
    log = Scale(0.1, 10.0, 0.0, 200.0, log=True)
    assert log(1.0) == 100.0 and log(0.0) == 0.0  # zero clamps to the bottom of a log scale


def test_ticks_are_round_and_inside_the_domain() -> None:
    assert nice_step(0.07, 4) == 0.02
    ticks = linear_ticks(Scale(0.0, 0.07, 90.0, 0.0), lambda v: f"{v:.0%}")
    assert [t.label for t in ticks] == ["0%", "2%", "4%", "6%"]
    assert all(0.0 <= t.at <= 90.0 for t in ticks)
    ratio = ratio_ticks(Scale(*ratio_domain([2.59, 7.1, 1.25]), 120.0, 0.0, log=True))
    assert [t.label for t in ratio] == ["1x", "1.5x", "2x", "3x", "5x"]
    crowded = ratio_ticks(Scale(0.8, 1.6, 40.0, 0.0, log=True), count=10)
    assert "1x" in [t.label for t in crowded]
    assert all(abs(a.at - b.at) >= 12 for a, b in pairwise(crowded))  # labels apart


def test_band_path_goes_along_the_top_and_back_along_the_bottom() -> None:
    assert band_path([0.0, 10.0], [50.0, 60.0], [20.0, 30.0]) == "M0,20 L10,30 L10,60 L0,50 Z"
    assert band_path([5.0], [50.0], [20.0]).startswith("M3,20 H7 V50")
    assert band_path([], [], []) == ""


def test_an_estimate_beyond_its_allowance_not_yet_conclusive_never_reads_as_a_pass() -> None:
    reading = state(_check())
    assert reading.css == "unsettled"
    assert reading.text == "not yet conclusive (2.59x, allowed 1.25x)"
    assert state(_check(effect=1.02, conclusive=True)).text == "pass (1.02x, allowed 1.25x)"
    assert state(_check(effect=1.02)).css == "sofar"
    assert state(_check(classification="high", conclusive=True)).text == "regressed (higher)"
    older = _check()
    del older["allowed"]  # a document from before the field: the allowance from the message
    assert state(older).text == "not yet conclusive (2.59x, allowed 1.25x)"
    shift = _check(comparison="samples", unit="s", effect=0.0007, baseline={"value": 0.002, "n": 24})
    assert state(shift).text == "not yet conclusive (+35%, allowed +25%)"
    # Settled by the canary's own rate under the check's floor: a pass, said why.
    negligible = _check(effect=4.0, conclusive=True, bound={"negligible": True, "effect": 9.0})
    assert state(negligible).text == "pass: negligible rate (4.00x)" and state(negligible).css == "pass"
    assert state(_check(effect=4.0, bound={"negligible": True})).css == "unsettled"  # not conclusive yet


def test_effect_chart_places_band_allowance_and_decision() -> None:
    series = [
        LookOf(1, _check(effect=1.5, interval=[0.5, None])),
        LookOf(2, _check(effect=2.0, interval=[1.3, 3.0], classification="high", conclusive=True)),
    ]
    chart = effect_chart(series, decided_look=2, verdict="fail")
    assert chart is not None
    [allowance] = chart.allowances
    assert allowance.label == "allowed 1.25x" and 0 < allowance.y1 < PLOT_HEIGHT
    one = next(t for t in chart.y_ticks if t.label == "1x")
    assert allowance.y1 < one.at  # 1.25x is above 1x
    assert chart.decision is not None and chart.decision.x1 == PLOT_WIDTH
    assert chart.decision.label == "fail at look 2"
    assert [m.css for m in chart.markers] == ["pass open", "fail"]
    assert chart.markers[0].x == 0.0 and chart.markers[1].x == PLOT_WIDTH
    assert chart.band.startswith("M0,0 ")  # an unbounded upper bound reaches the top edge
    assert all(0 <= m.y <= PLOT_HEIGHT for m in chart.markers)
    assert effect_chart([LookOf(1, _check(effect=None))], None, "running") is None


def test_values_chart_draws_both_versions() -> None:
    chart = values_chart([LookOf(1, _check()), LookOf(2, _check(canary={"value": 0.03, "n": 40_000.0}))])
    assert chart is not None
    assert len(chart.baseline.split()) == 2 and len(chart.canary.split()) == 2
    assert any("n=40,000" in m.title for m in chart.markers)


def test_histogram_shows_shares_of_each_version() -> None:
    buckets = {"le": [0.1, 0.5, None], "baseline": [80, 20, 0], "canary": [10, 10, 0]}
    check = _check(comparison="distribution", unit="s", histogram=buckets)
    chart = histogram(check)
    assert chart is not None and chart.baseline_n == 100 and chart.canary_n == 20
    baseline_first, canary_first = chart.bars[0], chart.bars[1]
    assert baseline_first.height > canary_first.height  # 80% against 50%
    assert [t.label for t in chart.x_ticks] == ["100ms", "500ms", "+Inf"]
    assert all(b.y + b.height == HISTOGRAM_HEIGHT for b in chart.bars)
    assert histogram(_check()) is None


def _item(kind: str, key: str, *, delivered: bool = True, abandoned: bool = False) -> Notification:
    return Notification(kind, key, AT, 1, AT if delivered else None, AT if abandoned else None,
                        "403 Forbidden" if abandoned else None)  # fmt: skip


def test_banner_tells_rollbacks_and_pages() -> None:
    items = [
        _item("alertmanager", "d:page:trigger:alertmanager"),
        _item("rollback:helm-checkout", "d:rollback:helm-checkout", delivered=False, abandoned=True),
        _item("pagerduty", "d:page:resolve:rollback-helm-checkout:pagerduty", delivered=False),
        _item("webhook:ci", "d:ci:final"),
    ]
    events = [
        AuditEvent(AT, "rollback", "monitor", "helm-checkout (helm) failed: 403 Forbidden; not retried")
    ]
    texts = [(a.css, a.text) for a in banner(events, items)]
    assert ("requested", "Rollback requested (helm-checkout)") in texts
    assert ("failed", "Rollback failed: helm-checkout (helm) failed: 403 Forbidden; not retried") in texts
    assert ("done", "Page sent (alertmanager)") in texts
    assert ("pending", "Page resolution pending (pagerduty)") in texts
    assert len(texts) == 4  # the webhook is not an action taken about the deployment
    assert banner([], []) == []


def test_banner_without_an_outcome_yet_says_how_the_delivery_stands() -> None:
    items = [_item("rollback:argo", "d:rollback:argo", delivered=False, abandoned=True)]
    assert [a.text for a in banner([], items)][-1] == "Rollback failed (rollback:argo): 403 Forbidden"


def test_numbers_and_times_for_people() -> None:
    assert report_format.count(195_180.4) == "195,180"
    assert report_format.count(2.5) == "2.5" and report_format.count(math.nan) == "n/a"
    assert [report_format.duration(s) for s in (45, 120, 90, 3600, 7500)] == [
        "45 s", "2 min", "1 min 30 s", "1 h", "2 h 5 min",
    ]  # fmt: skip
    assert report_format.when("2026-11-26T10:05:00Z") == "2026-11-26 10:05:00 UTC"
    assert report_format.span(AT, "2026-11-26T10:25:00Z") == "2026-11-26 10:05:00 .. 10:25:00 UTC (20 min)"


def test_dashboard_link_sets_every_variable_of_the_detail_dashboard() -> None:
    deployment = {"id": "d-1", "service": "checkout", "environment": "production", "version": "v2",
                  "baseline_version": "v1"}  # fmt: skip
    verdict = {"canary": {"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T10:20:00Z"},
               "baseline": {"start": "2026-11-26T09:40:00Z", "end": "2026-11-26T10:00:00Z"}}  # fmt: skip
    url = dashboard_url("https://grafana.example.com/", deployment, verdict, "https://monitor.example.com")
    parts = urlsplit(url)
    assert parts.path == "/d/deploy-monitor-detail/deployment-detail"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["var-service"] == "checkout" and query["var-environment"] == "production"
    assert query["var-version"] == "v2" and query["var-baseline"] == "v1"
    assert query["var-deployment"] == "d-1" and query["var-monitor_url"] == "https://monitor.example.com"
    assert int(query["from"]) < int(query["to"])


def test_check_queries_are_the_profiles_promql_for_each_version() -> None:
    profile = load_profile("otel-http")
    spec = next(c for c in profile.checks if c.name == "http_error_ratio")
    queries = check_queries(spec, profile, "checkout", {"canary": "v2", "baseline": "v1"}, 600)
    labels = [label for label, _ in queries]
    assert labels == [
        "events, canary (v2)",
        "events, baseline (v1)",
        "exposure, canary (v2)",
        "exposure, baseline (v1)",
    ]
    assert '"checkout"' in queries[0][1] and '"v2"' in queries[0][1] and "[600s]" in queries[0][1]


def test_findings_strip_counts_each_looks_findings() -> None:
    quiet = _check(signal="logs", classification="pass", conclusive=True, evidence=[])
    finding = {"label": "new ERROR: payment gateway timeout", "baseline": 0, "canary": 12}
    found = _check(signal="logs", classification="high", conclusive=True, evidence=[finding])
    cells = findings_strip([LookOf(1, quiet), LookOf(2, found)])
    assert [(c.look, c.count, c.css) for c in cells] == [(1, 0, "pass"), (2, 1, "fail")]
    assert cells[1].x == PLOT_WIDTH / 2 and "payment gateway timeout" in cells[1].title
    assert findings_strip([LookOf(1, _check())]) == ()  # a metrics check has its charts instead
