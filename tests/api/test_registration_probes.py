"""A registration's smoke probes and blue/green preview: the config's by default or by name, inline
ones within probe_hosts, a preview only for bluegreen with probes and an allowed host; every refusal
names the field and the fix."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from monitor.api.keys import STORE
from monitor.api.problems import Problem
from monitor.api.registration_probes import ProbeOffer
from monitor.api.requests import MAX_PROBES, RegistrationBody, deployment_spec
from monitor.channels.notify import Notifier
from monitor.config import Settings
from monitor.environments import Environments
from monitor.models import ProbeSpec

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ENVIRONMENTS = Environments()
BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}
SECRET = "Bearer config-secret-abcdef123456"
HEALTH = ProbeSpec(
    "health", "https://{service}.example.com/healthz", headers=(("Authorization", SECRET),),
    hosts=("checkout.example.com", "cart.example.com"),
)  # fmt: skip
CART_ONLY = ProbeSpec("cart-login", "https://cart.example.com/login", services=("cart",))
OFFER = ProbeOffer((HEALTH, CART_ONLY), ("*.preview.example.com", "status.example.com"))
INLINE = {"name": "login", "url": "https://status.example.com/{service}/login", "body_contains": "Sign in"}


def _spec(**fields: Any) -> Any:
    return deployment_spec({**BODY, **fields}, NOW, ENVIRONMENTS, OFFER)


def _refused(**fields: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        _spec(**fields)
    assert caught.value.status == 400
    return caught.value


def test_without_probes_the_configured_ones_that_apply_are_run() -> None:
    assert _spec().probes == (HEALTH,)  # cart-login is for cart only
    assert deployment_spec({**BODY, "service": "cart"}, NOW, ENVIRONMENTS, OFFER).probes == (
        HEALTH,
        CART_ONLY,
    )
    assert _spec(probes=[]).probes == ()


def test_probes_by_name_and_inline() -> None:
    spec = _spec(service="cart", probes=["cart-login", INLINE])
    assert [p.name for p in spec.probes] == ["cart-login", "login"]
    login = spec.probes[1]
    assert login.url == INLINE["url"] and login.body_contains == "Sign in" and login.headers == ()


@pytest.mark.parametrize(
    ("probes", "field", "words"),
    [
        (["nope"], "probes[0]", "no configured probe 'nope'; configured: health, cart-login"),
        ([42], "probes[0]", "must be a configured probe's name or a probe object"),
        (["health", "health"], "probes[1]", "probes 'health' and 'health' both make check probe_health"),
        (
            [INLINE, {**INLINE, "name": "login_latency"}],
            "probes[1]",
            "probes 'login_latency' and 'login' both make check probe_login_latency; rename one",
        ),
        ([{**INLINE, "url": "https://evil.example.net/x"}], "probes[0].url", "add the host to probe_hosts:"),
        ([{**INLINE, "redirect_hosts": ["evil.example.net"]}], "probes[0].redirect_hosts", "probe_hosts"),
        (
            [{**INLINE, "headers": [{"name": "X", "value_file": "/etc/shadow"}]}],
            "probes[0].headers",
            "secrets",
        ),
        ([{**INLINE, "url": "ftp://status.example.com/"}], "probes[0].url", "use an http:// or https:// URL"),
        (
            [{**INLINE, "count": 2, "fail_after": 3}],
            "probes[0].fail_after",
            "lower fail_after or raise count",
        ),
        ([{**INLINE, "colour": "red"}], "probes[0].colour", "unknown field 'colour'"),
        (
            [{**INLINE, "url": "https://status.example.com/{version:>999999999}"}],
            "probes[0].url",
            "placeholder {version:>999999999} has a format spec, conversion or index; write {version}",
        ),
        ([{**INLINE, "url": "https://status.example.com/{version!r}"}], "probes[0].url", "format spec"),
        ([{**INLINE, "url": "https://[oops/"}], "probes[0].url", "'https://[oops/' cannot be parsed"),
        (
            [{**INLINE, "hosts": ["*.example.com"]}],
            "probes[0].hosts.0",
            "is a pattern; a probe's hosts are host names; list each host",
        ),
        (
            [{**INLINE, "hosts": ["status.example.org"]}],
            "probes[0].hosts",
            "the URL's host 'status.example.com' is not among hosts",
        ),
        ([{"url": "https://status.example.com/"}], "probes[0].name", "required"),
        ([{**INLINE, "services": ["checkout"]}], "probes[0].services", "leave it out (to scope a probe"),
        ([{**INLINE, "environments": ["staging"]}], "probes[0].environments", "it has no scope"),
        (
            [{**INLINE, "url": "https://ci:hunter2@status.example.com/{service}"}],
            "probes[0].url",
            "user info (user:password@) would be stored and shown with the deployment; leave it out: "
            "credentials go in a configured probe's headers (value_file)",
        ),
        ([{**INLINE, "url": "https://ci@status.example.com/"}], "probes[0].url", "user info"),
        (["health"] * (MAX_PROBES + 1), "probes", f"at most {MAX_PROBES} probes, got 21; send fewer"),
        ("health", "probes", "invalid"),
    ],
)
def test_unfit_probes_are_refused_naming_the_field(probes: object, field: str, words: str) -> None:
    problem = _refused(probes=probes)
    assert problem.field == field and words in problem.detail, problem.detail
    assert "hunter2" not in problem.detail


def test_the_probe_limit_admits_its_own_count() -> None:
    many = [{**INLINE, "name": f"login-{n}"} for n in range(MAX_PROBES)]
    assert len(_spec(probes=many).probes) == MAX_PROBES
    assert _refused(probes=[*many, "health"]).field == "probes"


def test_the_inline_schema_lists_neither_headers_nor_a_scope_and_caps_the_list() -> None:
    schema = RegistrationBody.model_json_schema()["properties"]["probes"]
    array = schema["anyOf"][0]
    assert array["maxItems"] == MAX_PROBES
    inline = array["items"]["anyOf"][1]["properties"]
    assert "url" in inline and not {"headers", "services", "environments"} & inline.keys()


def test_an_inline_probe_with_a_templated_host_names_every_version_s_host_within_probe_hosts() -> None:
    versioned = {
        "name": "v",
        "url": "https://{version}.preview.example.com/",
        "hosts": ["v2.preview.example.com"],
    }
    problem = _refused(probes=[versioned])  # the baseline's v1.preview.example.com is not in its hosts
    assert problem.field == "probes[0].hosts" and "'v1.preview.example.com' for version v1" in problem.detail
    both = {**versioned, "hosts": ["v2.preview.example.com", "v1.preview.example.com"]}
    assert _spec(probes=[both]).probes[0].hosts == tuple(both["hosts"])
    elsewhere = {
        **both,
        "url": "https://{version}.example.org/",
        "hosts": ["v2.example.org", "v1.example.org"],
    }
    assert _refused(probes=[elsewhere]).field == "probes[0].url"


def test_a_registrations_version_is_one_path_segment_of_an_inline_probes_url() -> None:
    spec = _spec(version="../../admin?", probes=[{**INLINE, "url": "https://status.example.com/{version}/x"}])
    rendered = spec.probes[0].render(spec.service, spec.version, spec.environment or "")
    assert rendered == "https://status.example.com/..%2F..%2Fadmin%3F/x"


def test_without_probes_a_configured_probe_naming_a_host_it_does_not_list_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # health's URL is https://{service}.example.com/: for search, a host its hosts do not list.
    # Every attempt would end host_not_allowed and the critical probe would fail a good deploy.
    with caplog.at_level(logging.WARNING, logger="monitor.api.registration_probes"):
        spec = _spec(service="search")
    assert spec.probes == ()
    (record,) = caplog.records
    assert record.getMessage() == (
        "registration of search in production: probe 'health' left out: its URL names host "
        "'search.example.com' for search version v2, which its hosts do not list; add the host to "
        "its hosts in the config, or narrow its services"
    )
    assert SECRET not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="monitor.api.registration_probes"):
        assert _spec().probes == (HEALTH,)  # checkout.example.com is listed: kept, no warning
    assert caplog.records == []


def test_a_preview_with_user_info_is_refused_without_echoing_it() -> None:
    problem = _refused(strategy="bluegreen", preview_url="https://ci:hunter2@g.preview.example.com")
    assert problem.field == "preview_url" and "user info (user:password@)" in problem.detail
    assert "hunter2" not in problem.detail


def test_a_preview_needs_bluegreen_probes_and_an_allowed_host() -> None:
    preview = "https://checkout-green.preview.example.com"
    spec = _spec(strategy="bluegreen", preview_url=preview)
    assert spec.preview_url == preview and spec.probes == (HEALTH,)
    # A host every probe may request is allowed without probe_hosts.
    assert _spec(strategy="bluegreen", preview_url="https://cart.example.com").preview_url
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"preview_url": preview}, "only a bluegreen deployment has a preview"),
        ({"strategy": "bluegreen", "preview_url": preview, "probes": []}, "judged by its probes"),
        (
            {"strategy": "bluegreen", "preview_url": "https://evil.example.net"},
            "add the host to probe_hosts:",
        ),
        ({"strategy": "bluegreen", "preview_url": "file:///etc/passwd"}, "use an http:// or https:// URL"),
        ({"strategy": "bluegreen", "preview_url": "http://[oops"}, "invalid 'http://[oops'"),
        ({"strategy": "bluegreen", "preview_url": "https://a.preview.example.com:99999"}, "invalid"),
    ]
    for fields, words in refusals:
        problem = _refused(**fields)
        assert problem.field == "preview_url" and words in problem.detail, problem.detail


def test_without_probe_hosts_no_inline_probe_is_allowed() -> None:
    with pytest.raises(Problem, match="add the host to probe_hosts"):
        deployment_spec({**BODY, "probes": [INLINE]}, NOW, ENVIRONMENTS, ProbeOffer((HEALTH,)))


async def test_the_api_registers_probes_without_storing_secrets_and_the_key_covers_them(
    open_client: Callable[..., Awaitable[Any]],
) -> None:
    settings = replace(Settings(), probes=(HEALTH,), probe_hosts=OFFER.hosts)
    client = await open_client("http://127.0.0.1:1", None, Notifier(settings))
    body = {
        **BODY,
        "strategy": "bluegreen",
        "preview_url": "https://g.preview.example.com",
        "probes": ["health", INLINE],
    }
    answer = await client.post("/api/v1/deployments", json=body, headers={"Idempotency-Key": "build-9"})
    assert answer.status == 201, await answer.text()
    document = await answer.json()
    deployment_id = document["id"]
    assert [(p["name"], p["url"]) for p in document["probes"]] == [
        ("health", HEALTH.url),
        ("login", INLINE["url"]),
    ]
    assert document["preview_url"] == "https://g.preview.example.com"
    stored = await client.app[STORE].get(deployment_id)
    assert [p.name for p in stored.spec.probes] == ["health", "login"]
    assert stored.spec.preview_url == "https://g.preview.example.com"
    async with client.app[STORE]._engine.connect() as connection:
        column = (await connection.execute(text("SELECT probes FROM deployments"))).scalar_one()
    assert SECRET not in column
    # The same key with other probes is another request.
    again = await client.post(
        "/api/v1/deployments", json={**body, "probes": ["health"]}, headers={"Idempotency-Key": "build-9"}
    )
    assert again.status == 409
    refused = await client.post("/api/v1/deployments", json={**BODY, "probes": ["nope"]})
    problem = await refused.json()
    assert (
        refused.status == 400
        and problem["field"] == "probes[0]"
        and "configured: health" in problem["detail"]
    )
    # Thousands of inline probes in one body are refused whole, by their count.
    flood = [{**INLINE, "name": f"p{n}"} for n in range(5000)]
    refused = await client.post("/api/v1/deployments", json={**BODY, "probes": flood})
    problem = await refused.json()
    assert (refused.status, problem["field"]) == (400, "probes")
    assert "at most 20 probes, got 5000" in problem["detail"]


def test_a_named_probe_must_be_for_the_deployment_and_name_its_own_hosts() -> None:
    # cart-login is scoped to the cart service: naming it does not stretch its scope.
    problem = _refused(probes=["health", "cart-login"])
    assert problem.field == "probes[1]"
    assert "not for service 'checkout' in environment 'production' (services: cart)" in problem.detail
    assert "widen its scope in the config" in problem.detail
    # health's URL names {service}.example.com; search.example.com is not among its hosts.
    problem = _refused(service="search", probes=["health"])
    assert problem.field == "probes[0]"
    assert "names host 'search.example.com' for version v2" in problem.detail
    assert "add it to the probe's hosts in the config" in problem.detail
    assert _spec(service="cart", probes=["health", "cart-login"]).probes == (HEALTH, CART_ONLY)


def test_a_plain_http_preview_is_refused_for_https_probes_and_probes_with_headers() -> None:
    bluegreen = {"strategy": "bluegreen", "preview_url": "http://checkout-green.preview.example.com"}
    problem = _refused(**bluegreen)  # health is https (and carries a header)
    assert problem.field == "preview_url"
    assert "probe 'health' requests https but the preview is plain http" in problem.detail
    assert "use the preview's https:// address" in problem.detail
    plain = {**INLINE, "url": "http://status.example.com/{service}/login"}
    assert _spec(**bluegreen, probes=[plain]).preview_url == bluegreen["preview_url"]
    secret_over_http = ProbeSpec(
        "legacy", "http://checkout.example.com/", headers=(("Authorization", SECRET),),
        hosts=("checkout.example.com",),
    )  # fmt: skip
    offer = ProbeOffer((secret_over_http,), OFFER.hosts)
    with pytest.raises(Problem) as caught:
        deployment_spec({**BODY, **bluegreen}, NOW, ENVIRONMENTS, offer)
    assert caught.value.field == "preview_url" and "sends header values" in caught.value.detail
    assert SECRET not in caught.value.detail
    https = {**bluegreen, "preview_url": "https://checkout-green.preview.example.com"}
    assert deployment_spec({**BODY, **https}, NOW, ENVIRONMENTS, offer).preview_url


async def test_a_configured_probe_left_out_is_said_in_the_deployments_audit_trail(
    open_client: Callable[..., Awaitable[Any]],
) -> None:
    """health's URL names search.example.com for the search service, which its hosts do not list:
    a search deployment that names no probes runs without it, and its trail says so (the log alone
    is not where an SRE reading the deployment looks)."""
    settings = replace(Settings(), probes=(HEALTH,), probe_hosts=OFFER.hosts)
    client = await open_client("http://127.0.0.1:1", None, Notifier(settings))
    answer = await client.post("/api/v1/deployments", json={**BODY, "service": "search"})
    assert answer.status == 201, await answer.text()
    deployment_id = (await answer.json())["id"]
    events = await client.app[STORE].events(deployment_id)
    (left_out,) = [e for e in events if e.kind == "probes_left_out"]
    assert "probe 'health' left out: its URL names host 'search.example.com'" in left_out.message
    assert SECRET not in left_out.message
    # A checkout deployment gets health, and nothing is said.
    answer = await client.post("/api/v1/deployments", json=BODY)
    events = await client.app[STORE].events((await answer.json())["id"])
    assert not [e for e in events if e.kind == "probes_left_out"]
