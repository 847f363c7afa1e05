"""The backtest's outputs on a hand-built result: the terminal tables, one CSV row per replayed look,
the JSON document (its schema, and back into the value objects), and the self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from dataclasses import replace
from itertools import pairwise

import jsonschema
import pytest
from fakes.backtests import sample_backtest, sample_look_count

from monitor.backtest.calibration import last_look_level
from monitor.backtest.render_csv import LOOK_COLUMNS, render_csv
from monitor.backtest.render_html import (
    CONTENT_SECURITY_POLICY,
    PLOT_WIDTH,
    rate_chart,
    render_html,
    timeline,
)
from monitor.backtest.render_json import backtest_from_document, render_json
from monitor.backtest.render_power import HEIGHT, WIDTH, power_curves
from monitor.backtest.render_text import percent, render_text
from monitor.profiles import load_profile
from monitor.schema import backtest_schema, load
from monitor.schema.backtest import BacktestDocument

OTEL_HTTP = load_profile("otel-http")
LEAKY = "Prometheus http://admin:hunter2@prometheus:9090 answered 503"


def test_text_lists_deploys_calibration_and_suggestions() -> None:
    text = render_text(sample_backtest())
    lines = text.splitlines()
    assert lines[0].startswith(
        "backtest of checkout (production) with profile otel-http, 2026-11-01T00:00:00Z"
    )
    failed = next(line for line in lines if line.startswith("2026-11-03T00:00:00Z"))
    assert failed.split()[1:6] == ["v2", "v1", "canary", "fail", "3"]  # decided after 3 min
    undecided = next(line for line in lines if line.startswith("2026-11-09T00:00:00Z"))
    assert "inconclusive" in undecided and "undecided" in undecided
    error_rate = next(line for line in lines if line.split()[:2] == ["http_error_ratio", "previous"])
    assert error_rate.split()[2:4] == ["120", "3"]
    assert "2.5 % [0.52 %, 7.1 %]" in error_rate and error_rate.endswith("1.18")
    assert "target 1 %" in text
    suggestion = next(line for line in lines if line.split()[:2] == ["http_error_ratio", "0.4"])
    assert "10 min" in suggestion and "day" in suggestion


def test_text_says_what_is_missing() -> None:
    empty = replace(sample_backtest(), deploys=(), calibration=(), suggestions=())
    text = render_text(empty)
    assert "past deploys: none found" in text
    assert "calibration: no A/A window" in text
    assert "suggestions: none" in text


@pytest.mark.parametrize(
    ("share", "shown"), [(0.0, "0 %"), (0.0042, "0.42 %"), (0.025, "2.5 %"), (0.37, "37 %")]
)
def test_percent(share: float, shown: str) -> None:
    assert percent(share) == shown


def test_csv_has_one_row_per_look_with_every_check() -> None:
    text = render_csv(sample_backtest())
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert len(body) == sample_look_count() == 9
    assert header[: len(LOOK_COLUMNS)] == list(LOOK_COLUMNS)
    assert header[len(LOOK_COLUMNS) :] == [
        f"{check}.{column}"
        for check in ("http_error_ratio", "http_latency")
        for column in ("classification", "effect", "interval_low", "interval_high")
    ]
    third = dict(zip(header, body[2], strict=True))
    assert third["deploy"] == "1" and third["version"] == "v2" and third["baseline"] == "v1"
    assert (third["mode"], third["look"], third["at"]) == ("canary", "3", "2026-11-03T00:03:00Z")
    assert (third["status"], float(third["score"])) == ("fail", 40.0)
    assert third["http_error_ratio.classification"] == "high"
    assert float(third["http_error_ratio.effect"]) == 2.5
    assert float(third["http_error_ratio.interval_high"]) == pytest.approx(2.75)
    assert [row[0] for row in body] == ["1"] * 3 + ["2"] * 4 + ["3"] * 2


def test_csv_leaves_a_cell_empty_for_what_a_look_did_not_judge() -> None:
    backtest = sample_backtest()
    first = backtest.deploys[0]
    look = replace(first.looks[0], checks=(("http_error_ratio", "nodata", math.nan, None, None),))
    changed = replace(backtest, deploys=(replace(first, looks=(look,)),))
    header, row = list(csv.reader(io.StringIO(render_csv(changed))))
    cells = dict(zip(header, row, strict=True))
    assert cells["http_error_ratio.classification"] == "nodata"
    assert cells["http_error_ratio.effect"] == cells["http_error_ratio.interval_low"] == ""


def test_json_round_trips_and_matches_its_schema() -> None:
    backtest = sample_backtest()
    document = json.loads(render_json(backtest))
    assert backtest_from_document(document) == backtest
    BacktestDocument.model_validate(document)
    jsonschema.Draft202012Validator(load("backtest.schema.json")).validate(document)
    assert document["deploys"][0]["decided_after_s"] == 180.0
    assert document["deploys"][2]["decided_at"] is None
    assert document["calibration"][0]["rate"] == 0.025
    assert set(document) == {
        "schema_version", "service", "environment", "profile", "since", "until", "false_alarm_target",
        "deploys", "calibration", "suggestions", "warnings",
    }  # fmt: skip


def test_the_published_schema_is_the_models() -> None:
    assert load("backtest.schema.json") == backtest_schema()


def test_json_has_no_infinity_and_redacts_free_text() -> None:
    backtest = sample_backtest(warnings=(LEAKY,))
    first = backtest.deploys[0]
    look = replace(first.looks[0], checks=(("http_error_ratio", "high", math.inf, 1.5, math.inf),))
    text = render_json(replace(backtest, deploys=(replace(first, looks=(look,)),)))
    document = json.loads(text)  # json.loads would accept Infinity: check the text too
    assert "Infinity" not in text and "NaN" not in text
    assert document["deploys"][0]["looks"][0]["checks"][0]["effect"] is None
    assert "hunter2" not in text and document["warnings"] == [
        "Prometheus http://admin:***@prometheus:9090 answered 503"
    ]


def test_html_draws_the_three_charts() -> None:
    page = render_html(sample_backtest(), OTEL_HTTP)
    for chart in ("timeline", "false-alarms"):
        assert re.search(rf'<svg id="{chart}"', page), chart
    assert page.count('<polyline class="power"') == 2  # http_error_ratio and http_latency
    timeline_svg = page[
        page.index('<svg id="timeline"') : page.index("</svg>", page.index('<svg id="timeline"'))
    ]
    assert re.findall(r'<rect class="(\w+)"', timeline_svg) == ["fail", "pass", "inconclusive"]
    assert f'content="{CONTENT_SECURITY_POLICY}"' in html.unescape(page)
    assert "<script" not in page
    assert not re.search(r'(src|href)="https?:', page)  # nothing loads from elsewhere


def test_html_escapes_a_hostile_service_name_and_redacts() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = render_html(sample_backtest(service=hostile, warnings=(LEAKY,)), OTEL_HTTP)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "hunter2" not in page and "admin:***@prometheus" in page


def test_timeline_places_deploys_over_the_range() -> None:
    marks = timeline(sample_backtest()).marks
    # Day 2, 5 and 8 of a ten-day range.
    assert [m.x for m in marks] == [PLOT_WIDTH * 0.2, PLOT_WIDTH * 0.5, PLOT_WIDTH * 0.8]
    assert all(m.x_end >= m.x + 2 for m in marks)
    assert "v2 replacing v1" in marks[0].label and "decided after 3 min" in marks[0].label


def test_rate_chart_marks_checks_over_the_target() -> None:
    chart = rate_chart(sample_backtest())
    assert chart is not None
    rows = {row.label: row for row in chart.rows}
    assert set(rows) == {"http_error_ratio (previous)", "http_latency (previous)", "http_error_ratio (day)"}
    assert rows["http_error_ratio (previous)"].over_target and not rows["http_latency (previous)"].over_target
    error_rate = rows["http_error_ratio (previous)"]
    assert error_rate.low < error_rate.x < error_rate.high
    assert 0 < chart.target_x < error_rate.x  # 1 % is left of 2.5 %
    assert rate_chart(replace(sample_backtest(), calibration=())) is None


def test_power_curves_pass_80_percent_at_the_detectable_effect_and_mark_the_allowance() -> None:
    curves = {curve.check: curve for curve in power_curves(sample_backtest(), OTEL_HTTP)}
    assert set(curves) == {"http_error_ratio", "http_latency"}  # the first baseline with an effect
    error_ratio = curves["http_error_ratio"]
    points = [tuple(map(float, p.split(","))) for p in error_ratio.points.split()]
    # At 1x at most the level the check's test gets at the last look (a share of the run's alpha).
    level = last_look_level(OTEL_HTTP, next(c for c in OTEL_HTTP.checks if c.name == "http_error_ratio"))
    assert level < OTEL_HTTP.alpha / 2 and points[0][1] >= HEIGHT * (1 - level) - 0.1
    assert all(b[1] <= a[1] for a, b in pairwise(points))  # rising: y grows downwards
    assert points[-1][0] == WIDTH
    detectable, allowance = error_ratio.markers
    # The sample's 1.18x was reckoned without the 1.25x allowance: the check fails only past 1.25x,
    # so 80 % lies beyond it and a change at the allowance is caught half the time.
    assert (detectable.label, allowance.label) == ("80 % at 1.29x", "allowance 1.25x")
    # The curve crosses 80 % where the detectable effect's marker stands.
    crossing = next(x for x, y in points if y <= HEIGHT * 0.2)
    assert abs(crossing - detectable.x) <= WIDTH / 40
    assert "a change at its allowance (1.25x) 50% of the time" in error_ratio.note
    latency = curves["http_latency"]  # detects 1.08x; its allowance is 1.05x
    assert [m.label for m in latency.markers] == ["80 % at 1.08x", "allowance 1.05x"]
    assert "finer than the check can see" in latency.note
