"""The report page served by the real API: in-process, and rendered by headless Chromium.

The deployments are :mod:`bench.report_screenshots`' four scenarios (a fail, a pass, an
inconclusive and a rollback), their looks judged by the real judges. The browser tests run
Debian's ``chromium`` as a subprocess against the app on 127.0.0.1 and assert on the DOM it
rendered and on its screenshots (written to a temporary directory; ``python -m
bench.report_screenshots`` writes the committed ones in docs/img).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from bench.report_screenshots import (
    INTERVAL_S,
    NAMES,
    SCENARIOS,
    TRACE_ID,
    _spec,
    _verdict,
    dump_dom,
    fixture_clock,
    look_results,
    populate,
    screenshot,
    serving,
)
from monitor.api.report_checks import PLOT_HEIGHT, PLOT_WIDTH
from monitor.api.report_page import CHART_HEIGHT, CHART_WIDTH, render_report
from monitor.profiles import load_profile
from monitor.report import verdict_document
from monitor.store import Store, StoredVerdict


@dataclass
class Page:
    """What the tests read of a page: text by element id, SVG elements by class, links, all text."""

    text_by_id: dict[str, str] = field(default_factory=dict)
    svgs: list[str] = field(default_factory=list)
    circles: list[tuple[str, float, float]] = field(default_factory=list)
    rects: int = 0
    links: dict[str, str] = field(default_factory=dict)
    text: str = ""
    scripts: int = 0


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._open: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self.page.svgs.append(found.get("class", ""))
        elif tag == "circle":
            self.page.circles.append((found.get("class", ""), float(found["cx"]), float(found["cy"])))
        elif tag == "rect":
            self.page.rects += 1
        elif tag == "script":
            self.page.scripts += 1
        elif tag == "a":
            self.page.links[found.get("id") or found["href"]] = found["href"]
        if found.get("id"):
            self._open.append((tag, found["id"]))
            self.page.text_by_id[found["id"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        self.page.text += data
        for _, element in self._open:
            self.page.text_by_id[element] += data


def parse(html: str) -> Page:
    """The page's ids, SVG elements, links and text."""
    parser = _Parser()
    parser.feed(html)
    return parser.page


@pytest.fixture
async def reports(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str], Store]]:
    """The API on 127.0.0.1 over a store with the four scenarios: base URL, report URLs, store."""
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=fixture_clock())
    try:
        ids = await populate(store)
        async with serving(store) as base:
            yield base, {n: f"{base}/api/v1/deployments/{ids[n]}/report" for n in NAMES}, store
    finally:
        await store.close()


def _check_key_elements(name: str, page: Page) -> None:
    """What each scenario's report must show, whoever rendered it."""
    scenario = SCENARIOS[name]
    assert page.scripts == 0
    assert page.text_by_id["verdict"].strip() == scenario.verdict.value.upper()
    assert page.text_by_id["summary"].strip() == scenario.summary
    # One effect chart and one values chart per metric check with an estimate; latency's histogram.
    assert page.svgs.count("effect-chart") >= 3 and page.svgs.count("values-chart") >= 3
    assert page.svgs.count("histogram") == 1 and page.rects >= 2 * 11
    assert page.svgs.count("score-chart") == 1
    looks = [c for c in page.circles if c[0].startswith("look ")]
    assert len(looks) == scenario.looks
    for css, x, y in page.circles:
        width, height = (CHART_WIDTH, CHART_HEIGHT) if css.startswith("look ") else (PLOT_WIDTH, PLOT_HEIGHT)
        assert 0 <= x <= width and 0 <= y <= height, (css, x, y)
    assert "warm-up 2 min, a look every 1 min" in page.text_by_id["timing"]
    assert re.search(r"n=\d{1,3}(,\d{3})+", page.text), "counts with thousands separators"
    grafana = page.links["grafana-link"]
    assert "var-baseline=v2.3.1" in grafana and "var-version=v2.4.0" in grafana
    assert "PromQL" in page.text and "histogram_quantile" not in page.text_by_id["checks"]


def _check_scenario(name: str, page: Page) -> None:
    if name == "inconclusive":
        assert "not yet conclusive (" in page.text_by_id["checks"]
        assert "allowed 1.25x)" in page.text_by_id["checks"]
        assert "actions" not in page.text_by_id
        assert page.text_by_id["score"] == "no score: inconclusive"  # not a healthy-looking 100
    else:
        assert float(page.text_by_id["score"]) >= 0
    if name == "pass":
        assert "regressed" not in page.text_by_id["checks"] and "actions" not in page.text_by_id
    if name == "fail":
        assert "Page sent (alertmanager)" in page.text_by_id["actions"]
        assert "Rollback" not in page.text_by_id["actions"]
        trace_links = [href for href in page.links.values() if TRACE_ID in href]
        assert trace_links == [f"https://grafana.example.com/explore?traceId={TRACE_ID}"]
        assert "payment gateway timeout after 5000 ms" in page.text
        assert page.svgs.count("findings-strip") == 1  # the log templates check, look by look
    if name == "rollback":
        actions = page.text_by_id["actions"]
        for words in ("Rollback requested (helm-payments)", "Rollback done", "Page sent", "Page resolved"):
            assert words in actions


@pytest.mark.parametrize("name", NAMES)
async def test_each_report_shows_its_key_elements(
    reports: tuple[str, dict[str, str], Store], name: str
) -> None:
    _, urls, _ = reports
    async with aiohttp.ClientSession() as session, session.get(urls[name]) as response:
        assert response.status == 200
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        page = parse(await response.text())
    _check_key_elements(name, page)
    _check_scenario(name, page)


async def _one_running_look(store: Store) -> str:
    """A deployment of the inconclusive scenario with one interim (running) look recorded; its id."""
    scenario = SCENARIOS["inconclusive"]
    deployment, _ = await store.register(_spec(scenario), actor="ci")
    await store.claim_due("running", lease_s=60)
    verdict = _verdict(scenario, deployment.id, 1, look_results(scenario, load_profile("otel-http"), 1))
    stored = StoredVerdict(1, verdict.canary.window.end, "running", verdict.score, False,
                           json.dumps(verdict_document(verdict)))  # fmt: skip
    later = verdict.canary.window.end + timedelta(seconds=INTERVAL_S)
    await store.record_verdict(deployment.id, owner="running", verdict=stored, next_look_at=later)
    return deployment.id


async def test_a_running_analysis_has_no_score_yet(reports: tuple[str, dict[str, str], Store]) -> None:
    """A non-final verdict's score is not shown as a number that could read as a catastrophic 0."""
    base, _, store = reports
    deployment_id = await _one_running_look(store)
    async with aiohttp.ClientSession() as session:
        html = await (await session.get(f"{base}/api/v1/deployments/{deployment_id}/report")).text()
    page = parse(html)
    assert page.text_by_id["verdict"] == "RUNNING"
    assert page.text_by_id["score"] == "score pending"
    assert 'http-equiv="refresh" content="60"' in html[:400], html[:400]


async def test_a_cancelled_analysis_shows_its_last_look_without_a_score(
    reports: tuple[str, dict[str, str], Store],
) -> None:
    base, _, store = reports
    deployment_id = await _one_running_look(store)
    await store.cancel(deployment_id, actor="ci", reason="rolled forward by hand")
    async with aiohttp.ClientSession() as session:
        page = parse(await (await session.get(f"{base}/api/v1/deployments/{deployment_id}/report")).text())
    assert page.text_by_id["verdict"] == "INCONCLUSIVE"
    assert page.text_by_id["score"] == "no score: inconclusive"
    assert "As of look 1" in page.text_by_id["as-of"]
    assert "http_error_ratio" in page.text_by_id["checks"]


@pytest.mark.parametrize("name", NAMES)
async def test_chromium_renders_each_report(
    reports: tuple[str, dict[str, str], Store], name: str, tmp_path: Path
) -> None:
    _, urls, _ = reports
    page = parse(await dump_dom(urls[name]))
    _check_key_elements(name, page)
    _check_scenario(name, page)
    png = tmp_path / f"report-{name}.png"
    await screenshot(urls[name], png, width=1280, height=2400)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 2400)
    assert png.stat().st_size > 50_000  # a page of charts, not a blank one


async def test_link_query_signs_the_pages_own_json_links(reports: tuple[str, dict[str, str], Store]) -> None:
    """A report opened by a signed link links its JSON documents with the same signature."""
    _, urls, store = reports
    deployment = await store.get(urls["pass"].rsplit("/", 2)[-2])
    stored = await store.latest_verdict(deployment.id)
    assert stored is not None
    html = render_report(deployment, json.loads(stored.document_json), [], [], link_query="exp=1&sig=ab")
    links = parse(html).links
    base = f"/api/v1/deployments/{deployment.id}"
    assert links[f"{base}/verdict?exp=1&sig=ab"] and links[f"{base}?exp=1&sig=ab"]
    assert "grafana-link" not in links  # no Grafana configured: no link to it
