"""Routes of the deployments API: register, list, read, wait for the verdict, cancel, health; the
HTML report and index pages, and fresh signed report links."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from importlib import resources

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.api.auth import ACTOR, LINK_QUERY, auth_middleware
from monitor.api.backtest import add_backtest_route
from monitor.api.bodies import read_json
from monitor.api.compression import HANDLER_ARGS as COMPRESSION_HANDLER_ARGS
from monitor.api.compression import compressed_bodies
from monitor.api.documents import deployment_document
from monitor.api.index_page import deployments_index
from monitor.api.integrations import argo_verdict, flagger_hook
from monitor.api.keys import ENVIRONMENTS, METRICS, NOTIFIER, PROFILES, SOURCE, STORE, TRACE_URL, VERDICTS
from monitor.api.otlp import RECEIVER, Receiver, flusher, receive_logs, receive_traces
from monitor.api.problems import Problem, invalid, problem_middleware
from monitor.api.queries import ListQuery, VerdictQuery, unknown_parameters
from monitor.api.registration import note_left_out_probes, registrable_spec, request_digest
from monitor.api.report_data import report_context
from monitor.api.report_page import CONTENT_SECURITY_POLICY, render_report
from monitor.api.requests import MAX_REASON, CancelBody
from monitor.api.validation import validated
from monitor.api.verdicts import VerdictCache
from monitor.channels.notify import Notifier
from monitor.config import Settings, TokenSpec
from monitor.environments import Environments
from monitor.errors import ConflictError, MonitorError, NotFoundError, StoreError
from monitor.own_metrics import EngineMetrics, MonitorMetrics
from monitor.profiles.catalog import ProfileCatalog
from monitor.redact import redact_text
from monitor.reportlinks import INDEX_PATH, signed_report_url
from monitor.sources.base import MetricsSource
from monitor.store import Store
from monitor.timeparse import format_time

MAX_BODY_BYTES = 1024 * 1024  # JSON bodies; the OTLP routes have their own limits
# The only routes that take a compressed body (inflated by the receiver, within its limit).
COMPRESSED_PATHS = frozenset({"/v1/logs", "/v1/traces"})
MAX_IDEMPOTENCY_KEY = 200  # the column's width
# A long-poll re-reads at least this often, even when the feed reports no change.
MAX_QUIET_S = 5.0


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


async def register(request: web.Request) -> web.Response:
    """``POST /api/v1/deployments``: 201 for a new deployment, 200 for a repeated Idempotency-Key."""
    body = await read_json(request)
    spec = registrable_spec(request.app, body)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isprintable()):
        raise invalid("Idempotency-Key", f"at most {MAX_IDEMPOTENCY_KEY} printable characters")
    try:
        deployment, created = await request.app[STORE].register(
            spec,
            actor=request.get(ACTOR, "anonymous"),
            idempotency_key=key,
            request_digest=request_digest(body),
            notify=request.app[NOTIFIER].registered,
        )
    except ConflictError as exc:
        raise Problem(409, "Conflict", str(exc), "Idempotency-Key") from None
    await note_left_out_probes(
        request.app, body, deployment, created=created, actor=request.get(ACTOR, "anonymous")
    )
    location = f"/api/v1/deployments/{deployment.id}"
    return _json(deployment_document(deployment), 201 if created else 200, {"Location": location})


async def list_deployments(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments[?service=&status=]``."""
    query = validated(ListQuery, dict(request.query))
    found = await request.app[STORE].list_deployments(service=query.service, status=query.status)
    return _json({"deployments": [deployment_document(d) for d in found]})


async def get_deployment(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments/{id}``."""
    deployment = await request.app[STORE].get(request.match_info["id"])
    return _json(deployment_document(deployment))


async def get_verdict(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments/{id}/verdict?wait_s=N``: long-polls until the verdict is final."""
    wait_s = validated(VerdictQuery, dict(request.query)).wait_s
    verdicts, deployment_id = request.app[VERDICTS], request.match_info["id"]
    deadline = time.monotonic() + wait_s
    while True:
        # From memory while the change feed is current, else from the store; while the store is
        # away, the last known verdict (marked stale) keeps a waiting pipeline informed.
        entry, headers = await verdicts.read(deployment_id)
        remaining_s = deadline - time.monotonic()
        if entry.final or remaining_s <= 0 or verdicts.closing:
            # Stopping: answer now with the current verdict; the caller polls again elsewhere.
            return web.Response(body=entry.body, content_type="application/json", headers=headers)
        await verdicts.changed(deployment_id, min(remaining_s, MAX_QUIET_S))


async def get_events(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments/{id}/events``: the audit trail, oldest first (rollbacks, deliveries)."""
    store = request.app[STORE]
    deployment = await store.get(request.match_info["id"])
    events = [
        {"at": format_time(e.at), "kind": e.kind, "actor": e.actor, "message": e.message}
        for e in await store.events(deployment.id)
    ]
    return _json({"deployment_id": deployment.id, "events": events})


async def report(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments/{id}/report``: the HTML report an SRE reads."""
    store = request.app[STORE]
    deployment = await store.get(request.match_info["id"])
    context = await report_context(request.app, deployment)
    page = render_report(deployment, link_query=request.get(LINK_QUERY, ""), **context)
    response = web.Response(text=page, content_type="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


async def report_link(request: web.Request) -> web.Response:
    """``GET /api/v1/deployments/{id}/report-link``: a fresh signed link to the report (the gate
    prints it). Needs a token: a signed link cannot make another, so none outlives its lifetime.

    Absolute when ``public_url`` is configured, else the path; plain (``expires_at`` null) when no
    report-link key is configured.
    """
    deployment = await request.app[STORE].get(request.match_info["id"])
    notifier, now_s = request.app[NOTIFIER], time.time()
    links = notifier.report_links
    url = signed_report_url(notifier.public_url or "", deployment.id, links, now_s)
    expires_at = format_time(datetime.fromtimestamp(int(now_s + links.lifetime_s), UTC)) if links else None
    return _json({"deployment_id": deployment.id, "url": url, "expires_at": expires_at})


async def cancel(request: web.Request) -> web.Response:
    """``POST /api/v1/deployments/{id}/cancel`` with an optional ``{"reason": "..."}``."""
    store = request.app[STORE]
    await store.get(request.match_info["id"])
    reason = "cancelled through the API"
    if request.can_read_body:
        body = validated(CancelBody, await read_json(request))
        if body.reason is not None:
            reason = body.reason[:MAX_REASON]
    deployment = await store.cancel(
        request.match_info["id"], actor=request.get(ACTOR, "anonymous"), reason=reason
    )
    return _json(deployment_document(deployment))


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the monitor's own metrics, the gauges refreshed from the store."""
    registry = request.app[METRICS]
    await registry.refresh(request.app[STORE])
    response = web.Response(body=await registry.exposition())
    response.content_type = "text/plain"
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def openapi(_: web.Request) -> web.Response:
    """``GET /api/v1/openapi.json``: the API's OpenAPI 3 document."""
    text = resources.files("monitor.api").joinpath("openapi.json").read_text(encoding="utf-8")
    return web.Response(text=text, content_type="application/json")


async def healthz(_: web.Request) -> web.Response:
    """Alive: the process answers."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the store can take a write (answers, not read-only, its file still in place).
    Prometheus is reported, not required.

    Every replica shares one Prometheus: taking them all out of the Service while it is down
    would only turn inconclusive verdicts into connection errors for the pipelines. The route
    needs no token, so what it says passes :func:`redact_text`: no password or token in a URL.
    """
    if (problem := await request.app[STORE].write_problem()) is not None:
        raise Problem(503, "Not ready", redact_text(problem))
    try:
        await request.app[SOURCE].instant("vector(1)", datetime.now(UTC))
        prometheus = "ok"
    except MonitorError as exc:
        prometheus = f"unreachable: {redact_text(str(exc))}"
    return _json({"status": "ready", "prometheus": prometheus})


@web.middleware
async def _store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFoundError as exc:
        raise Problem(404, "Not found", f"{exc}; list deployments at /api/v1/deployments") from None
    except StoreError as exc:
        raise Problem(503, "Store unavailable", f"{exc}; retry shortly") from None


@web.middleware
async def _known_parameters(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if resource is not None and request.path.startswith("/api/") and request.query:
        problem = unknown_parameters(resource.canonical, request.method, request.query.keys())
        if problem is not None:
            raise problem
    return await handler(request)


async def _end_long_polls(app: web.Application) -> None:
    app[VERDICTS].close()


async def _verdict_feed(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    feed = asyncio.create_task(app[VERDICTS].run(stop))
    yield
    stop.set()
    await feed


async def _no_referrer(_: web.Request, response: web.StreamResponse) -> None:
    # A page opened by a signed link would hand its link to the next page as Referer (its own
    # JSON links, a trace or dashboard link elsewhere): no response lets the browser send one.
    response.headers.setdefault("Referrer-Policy", "no-referrer")


def create_app(
    store: Store,
    source: MetricsSource,
    tokens: Sequence[TokenSpec] | None,
    environments: Environments | None = None,
    telemetry: MonitorMetrics | None = None,
    trace_url: str | None = None,
    notifier: Notifier | None = None,
    profiles: ProfileCatalog | None = None,
) -> web.Application:
    """The aiohttp application over ``store`` and ``source``; ``tokens`` None means no authentication.

    ``profiles`` is the daemon's one catalog, shared with an engine in this process; by default the
    built-ins and those ``environments`` name. The ``notifier``'s settings give the report-link key
    that signed links are checked with (and links made with).
    """
    notifier = notifier or Notifier(Settings())
    # Compressed bodies are judged first, before authentication: a refused one is never read.
    middlewares: list[Middleware] = [
        compressed_bodies(COMPRESSED_PATHS), problem_middleware, _known_parameters, _store_errors
    ]  # fmt: skip
    if tokens is not None:
        middlewares.insert(2, auth_middleware(tokens, notifier.report_links))
    app = web.Application(
        middlewares=middlewares, client_max_size=MAX_BODY_BYTES, handler_args=COMPRESSION_HANDLER_ARGS
    )
    app[STORE] = store
    app[ENVIRONMENTS] = environments or Environments()
    app[PROFILES] = profiles or ProfileCatalog(app[ENVIRONMENTS].profiles)
    app[METRICS] = telemetry or MonitorMetrics(EngineMetrics())
    app[SOURCE] = source
    app[TRACE_URL] = trace_url or ""
    app[NOTIFIER] = notifier
    app[VERDICTS] = VerdictCache(store)
    app.cleanup_ctx.append(_verdict_feed)
    app.on_shutdown.append(_end_long_polls)
    app.on_response_prepare.append(_no_referrer)
    app[RECEIVER] = Receiver()
    app.cleanup_ctx.append(flusher)
    app.router.add_post("/api/v1/deployments", register)
    app.router.add_get("/api/v1/deployments", list_deployments)
    app.router.add_get(INDEX_PATH, deployments_index)  # before {id}, which would take "index"
    app.router.add_get("/api/v1/deployments/{id}", get_deployment)
    app.router.add_get("/api/v1/deployments/{id}/verdict", get_verdict)
    app.router.add_post("/api/v1/deployments/{id}/cancel", cancel)
    app.router.add_get("/api/v1/deployments/{id}/report", report)
    app.router.add_get("/api/v1/deployments/{id}/events", get_events)
    app.router.add_get("/api/v1/deployments/{id}/report-link", report_link)
    app.router.add_get("/api/v1/integrations/argo-rollouts/verdict", argo_verdict)
    app.router.add_post("/api/v1/integrations/flagger/{hook}", flagger_hook)
    add_backtest_route(app)  # GET /api/v1/services/{service}/backtest
    app.router.add_post("/v1/logs", receive_logs)
    app.router.add_post("/v1/traces", receive_traces)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
