"""No password or token of a URL is shown: not by /readyz, a verdict, the report page, a webhook or a log.

The end-to-end test judges a deployment against a Prometheus URL that holds a password and a token
(nothing listens there, so every check errors and quotes the URL), with a SQLite store and the
real API, then reads everything the monitor shows about it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.app import create_app
from monitor.api.report_page import render_report
from monitor.channels.notify import Notifier
from monitor.config import Settings, WebhookSpec
from monitor.engine import AnalysisRequest, analyze
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import load_profile
from monitor.redact import redact_body, redact_text, redact_url
from monitor.report import render_json, render_text
from monitor.simulate import SimulatedPrometheus
from monitor.sources.prometheus import PrometheusSource
from monitor.store import AuditEvent, Store
from monitor.tracing import JsonFormatter

pytestmark = pytest.mark.prometheus

PASSWORD, TOKEN = "hunter22-pw", "t0ken-4f9e"
SECRET_URL = f"http://monitor:{PASSWORD}@127.0.0.1:9/prometheus?token={TOKEN}&org=7"  # nothing listens
SHOWN_URL = "http://monitor:***@127.0.0.1:9/prometheus?token=***&org=7"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@host:9090/p?token=abc&a=1", "http://user:***@host:9090/p?token=***&a=1"),
        ("https://ghp_abc123@github.com/x", "https://***@github.com/x"),  # a lone user name may be a token
        ("http://u:p%40ss@h", "http://u:***@h"),
        ("http://u:p@ss@h/x", "http://u:***@h/x"),  # the last @ ends the user info
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Date=1&X-Amz-Signature=ab12",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Date=1&X-Amz-Signature=***",
        ),
        (
            "http://h/q?signal=1&sig=2&apikey=3&api_key=4&access_token=5",
            "http://h/q?signal=1&sig=***&apikey=***&api_key=***&access_token=***",
        ),
        (
            "http://h/q?X-Plex-Token=9&db_password=8&Password=7",
            "http://h/q?X-Plex-Token=***&db_password=***&Password=***",
        ),
        ("http://h/cb#access_token=abc&state=x", "http://h/cb#access_token=***&state=x"),
        ("http://h/q?token=&flag", "http://h/q?token=&flag"),  # nothing to hide
        ("postgresql+asyncpg://app:pw@db:5432/monitor", "postgresql+asyncpg://app:***@db:5432/monitor"),
        ("http://prometheus:9090", "http://prometheus:9090"),
        ("prometheus:9090/x?password=1", "prometheus:9090/x?password=***"),  # no scheme: the query still
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_the_urls_in_a_message() -> None:
    text = (
        "Prometheus at http://u:pw1234@h:9090?token=abcd, failed (ClientError: URL('http://u:pw1234@h/x')). "
        "see <https://h/?sig=zz99>; a:b@c is not a URL"
    )
    assert redact_text(text) == (
        "Prometheus at http://u:***@h:9090?token=***, failed (ClientError: URL('http://u:***@h/x')). "
        "see <https://h/?sig=***>; a:b@c is not a URL"
    )


def test_log_lines_are_redacted() -> None:
    record = logging.LogRecord("monitor", logging.WARNING, __file__, 1, "engine: %s", (SECRET_URL,), None)
    line = JsonFormatter().format(record)
    assert SHOWN_URL in json.loads(line)["message"]
    assert PASSWORD not in line and TOKEN not in line


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield opened
    await opened.close()


async def test_readyz_verdicts_report_and_webhooks_show_no_secret(
    prometheus: SimulatedPrometheus, store: Store
) -> None:
    run = prometheus.runs["errors_3x"]
    spec = DeploymentSpec(
        service="errors_3x", environment="production", version=run.scenario.canary_version,
        baseline_version=run.scenario.baseline_version, strategy=Strategy.CANARY,
        started_at=run.canary_window.start, profile="otel-http", warmup_s=0, interval_s=60,
        min_duration_s=60, max_duration_s=180,
    )  # fmt: skip
    deployment, _ = await store.register(spec, actor="test")
    down = PrometheusSource(SECRET_URL, max_attempts=1)
    hooks = (WebhookSpec("ci", "http://127.0.0.1:9/hook", "s" * 20),)
    # Long past the window and any retry grace: every look is judged as it stands, the last one final.
    clock = lambda: run.canary_window.start + timedelta(hours=2)  # noqa: E731
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(store, down, None)))
    await client.start_server()
    try:
        scheduler = Scheduler(
            store, down, load_profile, SchedulerSettings(owner="a"), clock,
            notifier=Notifier(Settings(webhooks=hooks)),
        )  # fmt: skip
        await scheduler.run_once()

        ready = await client.get("/readyz")
        shown = {"readyz": await ready.text()}
        assert ready.status == 200 and SHOWN_URL in shown["readyz"]  # the URL is named, masked
        verdict = await client.get(f"/api/v1/deployments/{deployment.id}/verdict")
        shown["verdict"] = await verdict.text()
        document = json.loads(shown["verdict"])
        assert document["verdict"] == "inconclusive" and SHOWN_URL in document["summary"]
        assert any(SHOWN_URL in check["message"] for check in document["checks"])
        shown["deployment"] = await (await client.get(f"/api/v1/deployments/{deployment.id}")).text()
        shown["report"] = await (await client.get(f"/api/v1/deployments/{deployment.id}/report")).text()
        assert "127.0.0.1:9/prometheus" in shown["report"]
        [delivery] = await store.claim_deliveries(claim_s=60)
        assert delivery.kind == "webhook:ci"
        shown["webhook"] = delivery.payload_json
    finally:
        await client.close()
        await down.close()
    for where, text in shown.items():
        assert PASSWORD not in text and TOKEN not in text, where


def test_the_report_page_masks_urls_stored_before_redaction() -> None:
    """A document or an audit event written unmasked (by an older version) is masked on the page."""
    verdict = {
        "verdict": "inconclusive", "score": 0, "summary": f"failed: {SECRET_URL}", "decided_at": None,
        "canary": {"version": "v2", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
        "baseline": {"version": "v1", "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
        "checks": [{
            "name": "errors", "signal": "metrics", "comparison": "ratio", "classification": "error",
            "critical": True, "unit": "ratio", "baseline": {"value": None, "n": 0},
            "canary": {"value": None, "n": 0}, "effect": None, "interval": None, "p_value": None,
            "message": f"Prometheus at {SECRET_URL} failed",
            "evidence": [{"label": "x", "baseline": None, "canary": None, "unit": "", "detail": SECRET_URL}],
        }],
    }  # fmt: skip
    at = datetime(2026, 1, 1, tzinfo=UTC)
    spec = DeploymentSpec(
        service="s", environment="testing", version="v2", baseline_version="v1", strategy=Strategy.CANARY,
        started_at=at, profile="otel-http", warmup_s=0, interval_s=60, min_duration_s=60, max_duration_s=600,
    )  # fmt: skip
    deployment = Deployment("d-1", spec, DeploymentStatus.INCONCLUSIVE, f"failed: {SECRET_URL}", at, at)
    event = AuditEvent(at, "rollback", "engine", f"POST {SECRET_URL}")
    html = render_report(deployment, verdict, [], [event])
    assert PASSWORD not in html and TOKEN not in html
    # summary, status reason, check message (in the table and in its own section), evidence detail
    # and audit event: all shown, all masked
    assert html.count("monitor:***@127.0.0.1:9/prometheus?token=***&amp;org=7") == 6


async def test_the_verdict_of_monitor_analyze_shows_no_secret(prometheus: SimulatedPrometheus) -> None:
    run = prometheus.runs["aa"]
    request = AnalysisRequest(
        service="aa", canary_version=run.scenario.canary_version,
        baseline_version=run.scenario.baseline_version, canary_window=run.canary_window,
        profile=load_profile("otel-http"),
    )  # fmt: skip
    down = PrometheusSource(SECRET_URL, max_attempts=1)
    try:
        verdict = await analyze(request, down)
    finally:
        await down.close()
    for text in (render_json(verdict), render_text(verdict)):
        assert SHOWN_URL in text
        assert PASSWORD not in text and TOKEN not in text


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ('{"status":"ok","access_token":"abc.def","n":1}', '{"status":"ok","access_token":"***","n":1}'),
        ('{"password": "p\\"q", "user": "bob"}', '{"password": "***", "user": "bob"}'),
        ("session=xyz&a=1 token=t0k; X-Plex-Token=9", "session=***&a=1 token=***; X-Plex-Token=***"),
        ("see https://h/x?token=abc and https://u:pw@h/", "see https://h/x?token=*** and https://u:***@h/"),
        ('{"status": "ok", "monkey": "banana"}', '{"status": "ok", "monkey": "banana"}'),
    ],
)
def test_redact_body_masks_credentials_an_answer_echoes(body: str, shown: str) -> None:
    """What a probe shows of an answer: tokens a health endpoint echoes are masked, the rest kept."""
    assert redact_body(body) == shown
