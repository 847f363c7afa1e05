"""Report links in what the channels send: pages, webhooks and Grafana annotations carry a signed,
expiring link (counted from when the event happened) when a report-link key is configured, and the
plain URL as before when none is.

Only the outbox items are built here (no receiver is involved): the payloads are what is stored and
later sent unchanged.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from monitor.api.documents import deployment_verdict_document
from monitor.channels.notify import Notifier
from monitor.config import Settings, WebhookSpec
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.reportlinks import LinkCheck, LinkKey, check_link
from monitor.schema import load
from monitor.settings.grafana import GrafanaSpec
from monitor.settings.pager import PagerSpec

PUBLIC = "https://deploy-monitor.example.com"
KEY = LinkKey(b"s" * 64, lifetime_s=86400)
NOW_S = 1_800_000_000.0
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, AT, "otel-http", 0, 60, 600, 1800
)  # fmt: skip
DEPLOYMENT = Deployment("dep-1", SPEC, DeploymentStatus.FAIL, "", AT, AT, looks_done=3)


def _notifier(key: LinkKey | None, public_url: str | None = PUBLIC) -> Notifier:
    settings = Settings(
        public_url=public_url,
        report_links=key,
        pager=PagerSpec(alertmanager_url="http://127.0.0.1:9", pagerduty_routing_key="r" * 32),
        grafana=GrafanaSpec(url="http://127.0.0.1:9", token="g" * 32),
        webhooks=(WebhookSpec("deploys", "http://127.0.0.1:9/hook", "w" * 32),),
    )
    return Notifier(settings, clock=lambda: NOW_S)


def _document() -> str:
    pending = Deployment("dep-1", SPEC, DeploymentStatus.PENDING, "", AT, AT, looks_done=0, next_look_at=AT)
    return json.dumps(deployment_verdict_document(pending, None))


def _payloads(notifier: Notifier) -> dict[str, Any]:
    items = notifier.final(DEPLOYMENT, "fail", AT, "errors x3", _document())
    return {item.kind: json.loads(item.payload_json) for item in items}


def _assert_signed(url: str, valid_for_s: float) -> None:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC}/api/v1/deployments/dep-1/report"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert int(query["exp"]) == int(NOW_S + valid_for_s)
    assert check_link(KEY, "dep-1", query["exp"], query["sig"], NOW_S) is LinkCheck.VALID


def test_the_report_url_is_signed_for_the_keys_lifetime_from_now() -> None:
    url = _notifier(KEY).report_url("dep-1")
    assert url is not None
    _assert_signed(url, KEY.lifetime_s)
    assert _notifier(None).report_url("dep-1") == f"{PUBLIC}/api/v1/deployments/dep-1/report"
    assert _notifier(KEY, public_url=None).report_url("dep-1") is None  # nowhere to point


def test_pages_webhooks_and_annotations_carry_the_signed_link() -> None:
    payloads = _payloads(_notifier(KEY))
    [alert] = payloads["alertmanager"]
    _assert_signed(alert["generatorURL"], KEY.lifetime_s)
    assert alert["annotations"]["report_url"] == alert["generatorURL"]
    pagerduty = payloads["pagerduty"]
    _assert_signed(pagerduty["client_url"], KEY.lifetime_s)
    assert pagerduty["links"] == [{"href": pagerduty["client_url"], "text": "Verdict report"}]
    hook = payloads["webhook:deploys"]
    _assert_signed(hook["report_url"], KEY.lifetime_s)
    annotation = payloads["grafana:annotation"]
    [href] = re.findall(r'<a href="([^"]+)">Report</a>', annotation["text"])
    _assert_signed(html.unescape(href), KEY.lifetime_s)
    assert "&amp;sig=" in href  # escaped in Grafana's HTML


def test_the_webhook_body_is_the_verdict_document_with_its_report_url() -> None:
    schema = load("verdict.schema.json")
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for notifier in (_notifier(KEY), _notifier(None), _notifier(None, public_url=None)):
        hook = _payloads(notifier)["webhook:deploys"]
        validator.validate(hook)
        assert {k: v for k, v in hook.items() if k != "report_url"} == json.loads(_document())
        assert hook["report_url"] == notifier.report_url("dep-1")  # signed, plain, or null


def test_the_deploy_annotation_links_the_report_too() -> None:
    [item] = [i for i in _notifier(KEY).registered("dep-1", SPEC) if i.kind == "grafana:annotation"]
    [href] = re.findall(r'<a href="([^"]+)">Report</a>', json.loads(item.payload_json)["text"])
    _assert_signed(html.unescape(href), KEY.lifetime_s)
