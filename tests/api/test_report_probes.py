"""A verdict with a failed smoke probe, as its JSON document, the CI log's text and the report page:
each shows the attempts that failed it (when, the URL, status and answer time or the error, the
body's first bytes)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.api.report_page import render_report
from monitor.checks.probes import probe_checks
from monitor.judges.probes import judge_probe
from monitor.models import (
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    ProbeSpec,
    Strategy,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.probes.result import ErrorKind, ProbeResult
from monitor.report import render_json, render_text
from monitor.store import StoredVerdict

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
URL = "https://checkout.example.com/healthz?token=hunter2-secret"
PROBE = ProbeSpec("health", "https://checkout.example.com/healthz", count=5, fail_after=3)


def _verdict() -> Verdict:
    attempts = [
        ProbeResult("health", URL, True, 200, 0.02, '{"status": "ok"}', at=T0),
        ProbeResult(
            "health", URL, False, 503, 0.21, "boom: database unavailable", "status 503, expected 200",
            at=T0 + timedelta(seconds=10),
        ),
        ProbeResult(
            "health", URL, False, None, 5.0, error=ErrorKind.TIMEOUT, detail="no answer within 5 s",
            at=T0 + timedelta(seconds=20),
        ),
        ProbeResult(
            "health", URL, False, None, 0.01, error=ErrorKind.TLS,
            detail="TLS: certificate verify failed (self-signed certificate)", at=T0 + timedelta(seconds=30),
        ),
    ]  # fmt: skip
    [added] = probe_checks([PROBE])
    result = judge_probe(added.spec, PROBE, attempts)
    window = Window(T0, T0 + timedelta(minutes=1))
    return Verdict(
        service="checkout", environment="production", canary=VersionWindow("v2", window),
        baseline=VersionWindow("v1", window), status=VerdictStatus.FAIL, score=0.0,
        summary=f"fail: {result.message}", checks=(result,), decided_at=window.end, deployment_id="d-1",
    )  # fmt: skip


def test_the_json_document_keeps_each_failed_attempt_as_evidence_with_the_url_redacted() -> None:
    document = json.loads(render_json(_verdict()))
    [check] = document["checks"]
    assert (check["name"], check["signal"], check["classification"]) == ("probe_health", "probe", "high")
    labels = [e["label"] for e in check["evidence"]]
    assert labels == [
        "canary 2026-12-06T10:00:10Z",
        "canary 2026-12-06T10:00:20Z",
        "canary 2026-12-06T10:00:30Z",
    ]
    details = [e["detail"] for e in check["evidence"]]
    assert "hunter2" not in json.dumps(document)
    assert details[0].endswith(
        "status 503 in 0.210 s: status 503, expected 200; body: boom: database unavailable"
    )
    assert details[1].endswith("no answer within 5 s after 5.000 s")
    assert details[2].endswith("TLS: certificate verify failed (self-signed certificate) after 0.010 s")
    assert [e["canary"] for e in check["evidence"]] == [0.21, 5.0, 0.01]


def test_the_text_shows_each_failed_attempt() -> None:
    text = render_text(_verdict())
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("- probe_health: ")))
    assert "failed 3 attempts in a row (fail_after 3)" in lines[start]
    attempts = lines[start + 1 : start + 4]
    assert [line.split(": ", 1)[0].strip() for line in attempts] == [
        "canary 2026-12-06T10:00:10Z", "canary 2026-12-06T10:00:20Z", "canary 2026-12-06T10:00:30Z",
    ]  # fmt: skip
    assert "status 503 in 0.210 s" in attempts[0] and "body: boom: database unavailable" in attempts[0]
    assert "TLS: certificate verify failed" in attempts[2]
    assert "hunter2" not in text


def _page(verdict: Verdict, raw_detail: str | None = None) -> str:
    """The report page of ``verdict``; ``raw_detail``: every evidence detail as written there, as a
    document stored before its details were redacted would hold them."""
    document = render_json(verdict)
    if raw_detail is not None:
        parsed = json.loads(document)
        for evidence in parsed["checks"][0]["evidence"]:
            evidence["detail"] = raw_detail
        document = json.dumps(parsed)
    spec = DeploymentSpec(
        service="checkout", environment="production", version="v2", baseline_version="v1",
        strategy=Strategy.CANARY, started_at=T0, profile="otel-http", warmup_s=0, interval_s=60,
        min_duration_s=300, max_duration_s=1800, probes=(PROBE,),
    )  # fmt: skip
    deployment = Deployment("d-1", spec, DeploymentStatus.FAIL, "verdict fail", T0, T0, looks_done=1)
    looks = [StoredVerdict(1, T0 + timedelta(minutes=1), "fail", 0.0, True, document)]
    return render_report(deployment, json.loads(document), [], [], looks=looks)


def test_the_report_page_lists_the_attempts_that_failed_the_probe() -> None:
    page = _page(_verdict())
    section = page[page.index('id="check-probe_health"') :]
    section = section[: section.index("</section>")]
    assert "<th>attempt</th><th>answer time</th><th>what happened</th>" in section
    assert section.count("<tr><td>canary 2026-12-06T10:00") == 3
    assert "status 503, expected 200; body: boom: database unavailable" in section
    assert "no answer within 5 s" in section and "certificate verify failed" in section
    assert "hunter2" not in page


def test_a_token_in_a_failed_answers_body_is_masked_in_the_document_text_and_page() -> None:
    # The body's first bytes are the server's words: a redirect page may quote a signed URL.
    body = "moved: see https://auth.example.com/cb?access_token=bodysecret-4f2a&next=/home"
    attempts = [
        ProbeResult(
            "health", URL, False, 302, 0.1, body, "status 302, expected 200", at=T0 + timedelta(seconds=s)
        )
        for s in (0, 10, 20)
    ]
    [added] = probe_checks([PROBE])
    verdict = replace(_verdict(), checks=(judge_probe(added.spec, PROBE, attempts),))
    document = render_json(verdict)
    assert "bodysecret" not in document and "bodysecret" not in render_text(verdict)
    # The page masks it itself, whatever the stored document holds.
    page = _page(verdict, raw_detail=f"{URL}: status 302; body: {body}")
    assert "bodysecret" not in page and "hunter2" not in page
    assert "body: moved: see https://auth.example.com/cb?access_token=***&amp;next=/home" in page
