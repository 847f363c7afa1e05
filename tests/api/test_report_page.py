"""The HTML report page, for a deployment judged by the engine against the real Prometheus."""

from __future__ import annotations

from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from monitor.api.keys import STORE
from monitor.api.report_page import CHART_HEIGHT, CHART_WIDTH, score_chart, trace_links
from monitor.config import load_settings
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.errors import ConfigError
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import LookScore

pytestmark = pytest.mark.prometheus


class _Page(HTMLParser):
    """Collects element ids, the text of each, and the points of the score chart."""

    def __init__(self) -> None:
        super().__init__()
        self.text_by_id: dict[str, str] = {}
        self.circles = 0
        self.scripts = 0
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "circle" and str(found.get("class", "")).startswith("look "):
            self.circles += 1  # the score chart's points (the checks' charts have their own)
        if tag == "script":
            self.scripts += 1
        if found.get("id"):
            self._open.append(str(found["id"]))
            self.text_by_id[str(found["id"])] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag in ("span", "p", "strong", "table"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            self.text_by_id[element] += data


async def test_report_of_a_failed_deployment(make_client: Any, prometheus: SimulatedPrometheus) -> None:
    client: TestClient[Any, Any] = await make_client(None)
    run = prometheus.runs["errors_3x"]
    body = {
        "service": "errors_3x", "environment": "production", "version": run.scenario.canary_version,
        "baseline_version": run.scenario.baseline_version, "started_at": run.canary_window.start.isoformat(),
        "warmup_s": 0, "interval_s": 60, "min_duration_s": 600,
        "max_duration_s": int(run.canary_window.duration_s),
    }  # fmt: skip
    created = await (await client.post("/api/v1/deployments", json=body)).json()

    before = await client.get(f"/api/v1/deployments/{created['id']}/report")
    assert before.status == 200 and "No look has been evaluated yet" in await before.text()

    store = client.server.app[STORE]
    source = PrometheusSource(prometheus.url)
    try:
        clock = lambda: run.canary_window.end + timedelta(minutes=1)  # noqa: E731
        await Scheduler(store, source, load_profile, SchedulerSettings(owner="a"), clock).run_once()
    finally:
        await source.close()
    deployment = await store.get(created["id"])

    response = await client.get(f"/api/v1/deployments/{created['id']}/report")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    page = _Page()
    page.feed(html)
    assert page.text_by_id["verdict"] == "FAIL"
    verdict = await (await client.get(f"/api/v1/deployments/{created['id']}/verdict")).json()
    assert page.text_by_id["summary"] == verdict["summary"]
    assert "http_error_ratio" in page.text_by_id["checks"]
    assert "registered" in page.text_by_id["events"] and "fail" in page.text_by_id["events"]
    assert page.circles == deployment.looks_done  # one point per recorded look


async def test_caller_supplied_text_is_escaped(make_client: Any) -> None:
    client: TestClient[Any, Any] = await make_client(None)
    body = {
        "service": "checkout", "environment": "testing", "version": "v2", "baseline_version": "v1",
        "labels": {"cluster": "<script>alert(1)</script>"},
    }  # fmt: skip
    created = await (await client.post("/api/v1/deployments", json=body)).json()
    reason = {"reason": '<img src=x onerror="alert(2)">'}
    await client.post(f"/api/v1/deployments/{created['id']}/cancel", json=reason)
    html = await (await client.get(f"/api/v1/deployments/{created['id']}/report")).text()
    page = _Page()
    page.feed(html)
    assert page.scripts == 0 and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html
    assert page.text_by_id["verdict"] == "INCONCLUSIVE"  # a cancelled analysis never reads as a pass


async def test_report_of_an_unknown_deployment_is_404(make_client: Any) -> None:
    client: TestClient[Any, Any] = await make_client(None)
    response = await client.get("/api/v1/deployments/nope/report")
    assert response.status == 404


def test_score_chart_spans_the_looks_and_the_scores() -> None:
    at = datetime(2026, 1, 1)
    points = score_chart([LookScore(1, at, "running", 100.0), LookScore(3, at, "fail", 0.0)])
    assert [(p.x, p.y) for p in points] == [(0.0, 0.0), (CHART_WIDTH, CHART_HEIGHT)]
    assert score_chart([LookScore(1, at, "pass", 50.0)])[0].y == CHART_HEIGHT / 2


def test_exemplar_traces_link_to_the_configured_url() -> None:
    detail = "traces 4bf92f3577b34da6a3ce929d0e0e4736, <b>x</b>"
    linked = str(trace_links(detail, "https://tempo.example.com/trace/{trace_id}"))
    assert '<a href="https://tempo.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736">' in linked
    assert "&lt;b&gt;" in linked and "<b>" not in linked
    assert "<a " not in str(trace_links(detail, ""))  # not configured: the ids as text


def test_trace_url_must_hold_the_trace_id(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("trace_url: https://tempo.example.com/trace/\n")
    with pytest.raises(ConfigError, match=r"monitor.yaml:1.*trace_url.*\{trace_id\}"):
        load_settings(config)
    config.write_text("trace_url: https://tempo.example.com/trace/{trace_id}\n")
    assert load_settings(config, environ={}).trace_url == "https://tempo.example.com/trace/{trace_id}"
