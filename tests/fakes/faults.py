"""Fault injection for the fault matrix (``tests/faults``): a proxy in front of the real Prometheus
that refuses, slows down, answers 5xx HTML pages or holds queries; a webhook receiver that counts
what it gets; and a driver that runs the engine and the outbox to the end of a run.

Only the network between the monitor and Prometheus is faulty: the data come from the suite's real
Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings, WebhookSpec
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.errors import MonitorError
from monitor.models import DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import load_profile
from monitor.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from monitor.simulate import SimulatedPrometheus
from monitor.simulate.prometheus import free_port
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

SECRET = "fault-matrix-" * 2


@dataclass
class FaultProxy:
    """Forwards to ``upstream``; ``mode`` says how it misbehaves: ok, slow, flaky or hold."""

    upstream: str
    mode: str = "ok"
    delay_s: float = 2.0
    requests: int = 0
    held: asyncio.Event = field(default_factory=asyncio.Event)  # set: a query is being held
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        elif self.mode == "flaky" and self.requests % 2 == 1:
            # Every other request gets a load balancer's error page: HTML, not Prometheus' JSON.
            page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=502, text=page, content_type="text/html")
        elif self.mode == "hold":
            self.held.set()
            await self.release.wait()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body,
            headers={"Content-Type": request.headers.get("Content-Type", "")},
        ) as answer:  # fmt: skip
            return web.Response(
                status=answer.status, body=await answer.read(), content_type=answer.content_type
            )


@dataclass
class Hooks:
    """A webhook receiver: every signed delivery it got, by idempotency key."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], time.time())
        self.received.append((headers["Idempotency-Key"], json.loads(body)))
        return web.Response(status=200)

    def finals(self, deployment_id: str) -> list[dict[str, Any]]:
        return [body for key, body in self.received if key == f"{deployment_id}:pager:final"]


async def serve(handler: Callable[[web.Request], Any], port: int | None = None) -> tuple[str, web.AppRunner]:
    """Serve ``handler`` for every path on 127.0.0.1; the base URL and the runner to stop it."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}", runner


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def spec_of(prometheus: SimulatedPrometheus, name: str, max_duration_s: float = 300) -> DeploymentSpec:
    """A canary deployment of the simulated run ``name``: one-minute looks over its first minutes."""
    run = prometheus.runs[name]
    return DeploymentSpec(
        service=name, environment="staging", version=run.scenario.canary_version,
        baseline_version=run.scenario.baseline_version, strategy=Strategy.CANARY,
        started_at=run.canary_window.start, profile="otel-http", warmup_s=0, interval_s=60,
        min_duration_s=60, max_duration_s=max_duration_s,
    )  # fmt: skip


async def run_to_the_end(
    store: Store,
    source: PrometheusSource,
    webhook: WebhookSpec,
    spec: DeploymentSpec,
    *,
    step_s: float = 20,
    settings: SchedulerSettings | None = None,
    between: Callable[[int], Awaitable[None]] | None = None,
) -> DeploymentStatus:
    """Drive the engine and the outbox through the run and past every grace, as a daemon would
    (riding out a failing database as its loops do); ``between(step)`` injects a fault."""
    settings = settings or SchedulerSettings(owner="engine", retry_grace_s=120, retry_s=15)
    deployment, _ = await store.register(spec, actor="pipeline")
    clock = Clock(spec.started_at)
    notifier = Notifier(Settings(webhooks=(webhook,)))
    scheduler = Scheduler(store, source, load_profile, settings, clock, notifier=notifier)
    deliverer = Deliverer(store, channels=channels_for(Settings(webhooks=(webhook,))))
    end = spec.started_at + timedelta(seconds=spec.max_duration_s + settings.retry_grace_s + 60)
    for step in itertools.count():
        if between is not None:
            await between(step)
        for loop in (scheduler.run_once, deliverer.run_once):
            with contextlib.suppress(MonitorError):  # the database is away: the daemon polls again
                await loop()
        if clock.now >= end:
            break
        clock.now += timedelta(seconds=step_s)
    return (await store.get(deployment.id)).status
