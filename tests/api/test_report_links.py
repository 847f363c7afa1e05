"""Signed, expiring report links: what they open, what they refuse, and the deployments index page.

An in-process daemon over a real SQLite store; no Prometheus is asked (the routes under test read
only the store), so its source points at a closed port.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.access_log import RedactingAccessLogger
from monitor.api.auth import ACTOR, LINK_QUERY, auth_middleware
from monitor.api.keys import STORE
from monitor.api.report_sources import dashboard_url
from monitor.channels.notify import Notifier
from monitor.config import Settings, TokenSpec
from monitor.models import DeploymentSpec, Strategy
from monitor.reportlinks import (
    INDEX_SUBJECT,
    LinkCheck,
    LinkKey,
    check_link,
    link_query,
    signature,
    signed_report_url,
)
from monitor.store import Store

KEY = LinkKey(b"k" * 64, lifetime_s=3600)
READER = "r" * 32
ROOT = Path(__file__).resolve().parents[2]
DEPLOYER = "d" * 32
SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 59, tzinfo=UTC),
    "otel-http", 0, 60, 600, 1800,
)  # fmt: skip

Factory = Callable[[LinkKey | None], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def make_client(open_client: Callable[..., Awaitable[TestClient[Any, Any]]]) -> Factory:
    """A started daemon with read and deploy tokens and the given link key (None: no links); no
    Prometheus is asked, so its source points at a closed port."""
    tokens = [TokenSpec("grafana", ("read",), READER), TokenSpec("jenkins", ("read", "deploy"), DEPLOYER)]

    def with_key(key: LinkKey | None) -> Awaitable[TestClient[Any, Any]]:
        settings = Settings(public_url="https://monitor.example.com", report_links=key)
        return open_client("http://127.0.0.1:9", tokens, Notifier(settings))

    return with_key


async def _register(client: TestClient[Any, Any], spec: DeploymentSpec = SPEC) -> str:
    deployment, _ = await _store(client).register(spec, actor="test")
    return deployment.id


def _store(client: TestClient[Any, Any]) -> Store:
    store: Store = client.app[STORE]
    return store


def _signed(path: str, subject: str, now_s: float | None = None, lifetime_s: float | None = None) -> str:
    return f"{path}?{link_query(KEY, subject, time.time() if now_s is None else now_s, lifetime_s)}"


# The pure signing rules.


def test_a_link_checks_only_for_its_subject_its_expiry_and_its_key() -> None:
    now_s = 1_800_000_000.0
    query = parse_qs(link_query(KEY, "dep-a", now_s))
    exp, sig = query["exp"][0], query["sig"][0]
    assert exp == str(int(now_s + 3600))
    assert check_link(KEY, "dep-a", exp, sig, now_s) is LinkCheck.VALID
    assert check_link(KEY, "dep-a", exp, sig.upper(), now_s) is LinkCheck.VALID  # hex in either case
    assert check_link(KEY, "dep-a", exp, sig, now_s + 3600) is LinkCheck.EXPIRED
    assert check_link(KEY, "dep-b", exp, sig, now_s) is LinkCheck.INVALID  # A's link used on B
    assert check_link(KEY, "dep-a", str(int(exp) + 86400), sig, now_s) is LinkCheck.INVALID  # exp moved
    other_key = replace(KEY, secret=b"o" * 64)
    assert check_link(other_key, "dep-a", exp, sig, now_s) is LinkCheck.INVALID  # the key was rotated
    for bad_exp in ("", "-5", "1e12", "١٢٣", "9" * 5000):
        assert check_link(KEY, "dep-a", bad_exp, sig, now_s) is LinkCheck.INVALID
    assert check_link(KEY, "dep-a", exp, sig[:-1], now_s) is LinkCheck.INVALID


def test_a_report_url_is_signed_only_with_a_key() -> None:
    plain = signed_report_url("https://m.example.com/", "dep-a", None, 0)
    assert plain == "https://m.example.com/api/v1/deployments/dep-a/report"
    signed = urlsplit(signed_report_url("https://m.example.com", "dep-a", KEY, 1000.0, lifetime_s=60))
    assert signed.path == "/api/v1/deployments/dep-a/report"
    assert parse_qs(signed.query) == {"exp": ["1060"], "sig": [signature(KEY, "dep-a", 1060)]}


# The authentication.


async def test_a_valid_link_opens_the_report_and_its_documents_read_only(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    base = f"/api/v1/deployments/{deployment_id}"
    for path in (f"{base}/report", base, f"{base}/verdict", f"{base}/events"):
        answer = await client.get(_signed(path, deployment_id))
        assert answer.status == 200, (path, await answer.text())
    events = await (await client.get(_signed(f"{base}/events", deployment_id))).json()
    assert events["deployment_id"] == deployment_id
    report = await client.get(_signed(f"{base}/report", deployment_id))
    assert report.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # Never a write, never the list, never a fresh link (a link cannot prolong itself).
    cancel = await client.post(_signed(f"{base}/cancel", deployment_id))
    assert cancel.status == 403
    assert "opens only GET" in (await cancel.json())["detail"]
    assert (await _store(client).get(deployment_id)).status.value == "pending"
    for path in ("/api/v1/deployments", f"{base}/report-link"):
        assert (await client.get(_signed(path, deployment_id))).status == 403


async def test_the_actor_is_signed_link_and_the_page_gets_the_link_query() -> None:
    seen: dict[str, str] = {}

    async def probe(request: web.Request) -> web.Response:
        seen["actor"], seen["link"] = request[ACTOR], request[LINK_QUERY]
        return web.Response(text="ok")

    # The middleware alone, before a handler that shows what it was handed.
    app = web.Application(middlewares=[auth_middleware([TokenSpec("grafana", ("read",), READER)], KEY)])
    app.router.add_get("/api/v1/deployments/{id}/report", probe)
    async with TestClient(TestServer(app)) as client:
        url = _signed("/api/v1/deployments/dep-a/report", "dep-a")
        assert (await client.get(url)).status == 200
        assert seen == {"actor": "signed-link", "link": "?" + url.partition("?")[2]}
        bearer = {"Authorization": f"Bearer {READER}"}
        assert (await client.get("/api/v1/deployments/dep-a/report", headers=bearer)).status == 200
        assert seen == {"actor": "grafana", "link": ""}


async def test_an_expired_link_says_when_and_how_to_get_a_fresh_one(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    made_s = time.time() - 7200  # an hour-long link made two hours ago
    answer = await client.get(_signed(f"/api/v1/deployments/{deployment_id}/report", deployment_id, made_s))
    assert answer.status == 401
    detail = (await answer.json())["detail"]
    expired_at = datetime.fromtimestamp(int(made_s + 3600), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"expired at {expired_at}" in detail
    assert f"monitor report-link {deployment_id}" in detail


async def test_tampered_and_borrowed_links_are_refused(make_client: Factory) -> None:
    client = await make_client(KEY)
    first, second = await _register(client), await _register(client, replace(SPEC, version="v3"))
    url = _signed(f"/api/v1/deployments/{first}/report", first)
    query = parse_qs(urlsplit(url).query)
    exp, sig = query["exp"][0], query["sig"][0]
    borrowed = await client.get(f"/api/v1/deployments/{second}/report?exp={exp}&sig={sig}")  # A's on B
    assert borrowed.status == 401
    assert "wrong signature" in (await borrowed.json())["detail"]
    later = await client.get(f"/api/v1/deployments/{first}/report?exp={int(exp) + 1}&sig={sig}")
    assert later.status == 401
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert (await client.get(f"/api/v1/deployments/{first}/report?exp={exp}&sig={flipped}")).status == 401
    assert (await client.get(f"/api/v1/deployments/{first}/report?exp={exp}")).status == 401  # no sig
    assert (await client.get(url)).status == 200


async def test_without_a_key_links_are_plain_and_a_signature_opens_nothing(make_client: Factory) -> None:
    client = await make_client(None)
    deployment_id = await _register(client)
    answer = await client.get(_signed(f"/api/v1/deployments/{deployment_id}/report", deployment_id))
    assert answer.status == 401
    assert "signs no report links" in (await answer.json())["detail"]
    bearer = {"Authorization": f"Bearer {READER}"}
    link = await (await client.get(f"/api/v1/deployments/{deployment_id}/report-link", headers=bearer)).json()
    assert link == {
        "deployment_id": deployment_id,
        "url": f"https://monitor.example.com/api/v1/deployments/{deployment_id}/report",
        "expires_at": None,
    }


async def test_a_fresh_link_from_the_api_opens_the_report(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    bearer = {"Authorization": f"Bearer {READER}"}
    assert (await client.get(f"/api/v1/deployments/{deployment_id}/report-link")).status == 401
    link = await (await client.get(f"/api/v1/deployments/{deployment_id}/report-link", headers=bearer)).json()
    url = urlsplit(link["url"])
    assert (url.scheme, url.netloc) == ("https", "monitor.example.com")
    exp = int(parse_qs(url.query)["exp"][0])
    assert 3590 <= exp - time.time() <= 3600
    assert link["expires_at"] == datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await client.get(f"{url.path}?{url.query}")).status == 200


# The index page.


async def test_the_index_lists_newest_first_filters_and_links_signed_reports(make_client: Factory) -> None:
    client = await make_client(KEY)
    old = await _register(client)
    staging = await _register(client, replace(SPEC, environment="staging", version="v3"))
    other = await _register(client, replace(SPEC, service="payments", version="v9"))
    await _store(client).cancel(old, actor="test", reason="superseded")
    bearer = {"Authorization": f"Bearer {READER}"}

    page = await client.get("/api/v1/deployments/index", headers=bearer)
    assert page.status == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = await page.text()
    assert [html.index(i) for i in (other, staging, old)] == sorted(
        html.index(i) for i in (other, staging, old)
    )
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert len(hrefs) == 3
    for href in hrefs:  # each report opens in a browser, without a token
        assert (await client.get(href.replace("&amp;", "&"))).status == 200

    async def listed(query: str) -> set[str]:
        text = await (await client.get(f"/api/v1/deployments/index?{query}", headers=bearer)).text()
        return {i for i in (old, staging, other) if i in text}

    assert await listed("service=checkout") == {old, staging}
    assert await listed("environment=staging") == {staging}
    assert await listed("verdict=cancelled") == {old}
    assert await listed("service=checkout&environment=&verdict=") == {old, staging}  # the empty form
    assert await listed("limit=1") == {other}
    for bad in ("servce=checkout", "verdict=great", "limit=0", "limit=501", "limit=x"):
        answer = await client.get(f"/api/v1/deployments/index?{bad}", headers=bearer)
        assert answer.status == 400, bad
        assert (await answer.json())["field"] == bad.partition("=")[0]


async def test_the_index_opens_with_an_index_link_not_a_deployments_link(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    assert (await client.get("/api/v1/deployments/index")).status == 401
    assert (await client.get(_signed("/api/v1/deployments/index", deployment_id))).status == 401
    index = await client.get(_signed("/api/v1/deployments/index", INDEX_SUBJECT))
    assert index.status == 200
    html = await index.text()
    # The filter form carries the link along, so filtering keeps working in the browser.
    assert re.search(r'<input type="hidden" name="sig" value="[0-9a-f]{64}">', html)
    # An index link is not a deployment's link.
    report = _signed(f"/api/v1/deployments/{deployment_id}/report", INDEX_SUBJECT)
    assert (await client.get(report)).status == 401


async def test_the_access_log_masks_the_signature(caplog: pytest.LogCaptureFixture) -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/api/v1/deployments/{id}/report", ok)
    server = TestServer(app)
    await server.start_server(access_log_class=RedactingAccessLogger)  # as monitor serve runs it
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with TestClient(server) as client:
        url = _signed("/api/v1/deployments/dep-a/report", "dep-a")
        assert (await client.get(url)).status == 200
        assert (await client.get("/api/v1/deployments/dep-a/report?plain=1")).status == 200
        # A browser following a link on a signed page names that page as Referer.
        referer = {"Referer": f"https://monitor.example.com{url}"}
        assert (await client.get("/api/v1/deployments/dep-a/report?from=page", headers=referer)).status == 200
    signature_hex = parse_qs(urlsplit(url).query)["sig"][0]
    assert signature_hex not in caplog.text
    assert "sig=***" in caplog.text and "exp=" in caplog.text and "?plain=1" in caplog.text
    assert "https://monitor.example.com/api/v1/deployments/dep-a/report?exp=" in caplog.text  # Referer


async def test_no_response_lets_a_browser_send_its_signed_address_on(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    for path in (f"/api/v1/deployments/{deployment_id}/report", f"/api/v1/deployments/{deployment_id}"):
        answer = await client.get(_signed(path, deployment_id))
        assert answer.status == 200 and answer.headers["Referrer-Policy"] == "no-referrer"
    assert (await client.get("/healthz")).headers["Referrer-Policy"] == "no-referrer"


async def test_an_index_link_mints_no_report_link_that_outlives_it(make_client: Factory) -> None:
    client = await make_client(KEY)  # the key's lifetime: an hour
    deployment_id = await _register(client)
    now_s = time.time()
    index = await client.get(_signed("/api/v1/deployments/index", INDEX_SUBJECT, now_s, lifetime_s=60))
    assert index.status == 200
    html = unescape(await index.text())
    (row,) = re.findall(rf"/api/v1/deployments/{deployment_id}/report\?exp=(\d+)", html)
    assert int(row) <= int(now_s + 60)
    with_token = await client.get("/api/v1/deployments/index", headers={"Authorization": f"Bearer {READER}"})
    (row,) = re.findall(
        rf"/api/v1/deployments/{deployment_id}/report\?exp=(\d+)", unescape(await with_token.text())
    )
    assert int(row) >= int(now_s + 3600) - 5  # a token holder's rows last the key's lifetime


async def test_odd_links_are_refused_and_head_opens_like_get(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    report = f"/api/v1/deployments/{deployment_id}/report"
    exp = parse_qs(urlsplit(_signed(report, deployment_id)).query)["exp"][0]
    odd = await client.get(f"{report}?exp={exp}&sig={'%C3%A9' * 64}")  # non-ASCII, the right length
    assert odd.status == 401
    assert (await client.head(_signed(report, deployment_id))).status == 200


async def test_the_json_links_of_a_report_opened_by_a_signed_link_open_too(make_client: Factory) -> None:
    client = await make_client(KEY)
    deployment_id = await _register(client)
    page = await client.get(_signed(f"/api/v1/deployments/{deployment_id}/report", deployment_id))
    assert page.status == 200
    html = await page.text()
    links = re.findall(r'href="(/api/v1/deployments/[^"]+)"', html)
    json_links = [unescape(link) for link in links if "/report" not in link]
    assert len(json_links) == 2, links  # the verdict and the deployment documents
    for link in json_links:
        assert link.count("?") == 1 and "sig=" in link, link
        assert (await client.get(link)).status == 200, link


def _dashboard_report_link() -> str:
    """The detail dashboard's "Verdict report" link as generated (dashboards/deployment-detail.json)."""
    dashboard = json.loads((ROOT / "dashboards" / "deployment-detail.json").read_text())
    (link,) = [link["url"] for link in dashboard["links"] if link["title"] == "Verdict report"]
    url: str = link
    return url


def _interpolate(template: str, variables: dict[str, str]) -> str:
    """Grafana's ``${name}`` substitution in a dashboard link (a missing variable is empty)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), ""), template)


async def test_the_way_back_from_the_dashboard_carries_the_signed_link(make_client: Factory) -> None:
    """Report → dashboard → report in a browser without a token: the dashboard link made by a report
    opened by a signed link carries its expiry and signature in hidden variables, and the
    dashboard's link back opens; without them it is the plain address, which needs a token."""
    client = await make_client(KEY)
    deployment_id = await _register(client)
    signed = _signed(f"/api/v1/deployments/{deployment_id}/report", deployment_id)
    document = {"id": deployment_id, "service": "checkout", "environment": "production", "version": "v2",
                "baseline_version": "v1"}  # fmt: skip
    windows = {"canary": {"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T10:20:00Z"},
               "baseline": {"start": "2026-11-26T09:40:00Z", "end": "2026-11-26T10:00:00Z"}}  # fmt: skip
    for came_with, status in (("?" + signed.partition("?")[2], 200), ("", 401)):
        to_grafana = dashboard_url("https://grafana.example.com", document, windows, "", came_with)
        variables = {k.removeprefix("var-"): v[0] for k, v in parse_qs(urlsplit(to_grafana).query).items()}
        back = urlsplit(_interpolate(_dashboard_report_link(), variables))
        assert back.path == f"/api/v1/deployments/{deployment_id}/report"
        answer = await client.get(f"{back.path}?{back.query}")
        assert answer.status == status, await answer.text()
        if status == 401:
            assert "send Authorization: Bearer" in (await answer.json())["detail"]  # not "wrong signature"
            bearer = {"Authorization": f"Bearer {READER}"}
            assert (await client.get(f"{back.path}?{back.query}", headers=bearer)).status == 200
