"""The monitor's own metrics (``/metrics``): the contract of its dashboards and alert rules.

Counters and histograms are updated where things happen (the engine loop); gauges that describe
the database (deployments by status, the outbox backlog, current verdicts) are refreshed from the
store by :meth:`MonitorMetrics.refresh`, so every replica reports the shared state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor.errors import StoreError
from monitor.models import DeploymentStatus, Verdict
from monitor.store import Store

RECENT_DEPLOYMENTS = 200  # monitor_deployments{status} counts the newest ones
OTLP_DROP_REASONS = ("refused", "backlog")  # why monitor_otlp_dropped_aggregates counted


class EngineMetrics:
    """What the engine counts as it works: looks, their duration and lag, verdicts, errors, takeovers.

    They live in the process that evaluates (the engine's own, by default) and reach ``/metrics``
    through :class:`MonitorMetrics`.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.evaluations = Counter(
            "monitor_evaluations", "Looks evaluated, by outcome (recorded, retried).", ["outcome"], registry=r
        )
        self.evaluation_duration = Histogram(
            "monitor_evaluation_duration_seconds", "Wall time of one look.", registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.evaluation_lag = Histogram(
            "monitor_evaluation_lag_seconds", "How late a look ran after it was due.", registry=r,
            buckets=(0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, 300, 900),
        )  # fmt: skip
        self.verdicts = Counter(
            "monitor_verdicts", "Final verdicts.", ["verdict", "service", "environment"], registry=r
        )
        self.source_errors = Counter(
            "monitor_source_errors",
            "Checks that errored (backend failures), by check.",
            ["check"],
            registry=r,
        )
        self.lease_takeovers = Counter(
            "monitor_lease_takeovers",
            "Deployments taken over from a replica whose lease expired.",
            registry=r,
        )
        self.time_to_verdict = Histogram(
            "monitor_time_to_verdict_seconds", "From a deploy's start to its final verdict.",
            ["environment", "verdict"], registry=r,
            buckets=(60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 14400),
        )  # fmt: skip
        self.deliveries = Counter(
            "monitor_deliveries",
            "Outbox delivery attempts, by channel (webhook, grafana, alertmanager, pagerduty, rollback"
            " actions) and outcome (delivered, failed, abandoned).",
            ["channel", "outcome"],
            registry=r,
        )
        self.rollbacks = Counter(
            "monitor_rollbacks",
            "Rollback actions, by service, environment, action and outcome (done, dry_run, failed).",
            ["service", "environment", "action", "outcome"],
            registry=r,
        )

    def observe_look(
        self, verdict: Verdict, duration_s: float, lag_s: float, recorded: bool, since_start_s: float = 0.0
    ) -> None:
        """Account for one evaluated look (``since_start_s``: from the deploy's start to this look)."""
        self.evaluations.labels("recorded" if recorded else "retried").inc()
        self.evaluation_duration.observe(duration_s)
        self.evaluation_lag.observe(max(lag_s, 0.0))
        for check in verdict.checks:
            if check.classification.value == "error":
                self.source_errors.labels(check.name).inc()
        if recorded and verdict.final:
            self.verdicts.labels(verdict.status.value, verdict.service, verdict.environment or "").inc()
            self.time_to_verdict.labels(verdict.environment or "", verdict.status.value).observe(
                max(since_start_s, 0.0)
            )

    def exposition(self) -> bytes:
        """The text exposition of the engine's metrics."""
        return generate_latest(self.registry)


class MonitorMetrics:
    """Everything ``/metrics`` shows: gauges of the shared database, and the engine's metrics.

    ``engine`` is the engine's registry when it runs in this process; ``remote_engine`` fetches
    the exposition of an engine running in its own process (and fails with :class:`OSError` or
    :class:`aiohttp.ClientError` when it does not answer).
    """

    def __init__(
        self,
        engine: EngineMetrics | None = None,
        remote_engine: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        self.engine, self._remote_engine = engine, remote_engine
        self.registry = CollectorRegistry()
        r = self.registry
        self.deployments = Gauge("monitor_deployments", "Deployments by status.", ["status"], registry=r)
        self.deployment_verdict = Gauge(
            "monitor_deployment_verdict",
            "1 for the current verdict of the newest deployment of each service and environment.",
            ["service", "environment", "version", "verdict"],
            registry=r,
        )
        self.store_up = Gauge(
            "monitor_store_up",
            "1 when the last read of the database succeeded, 0 when it failed.",
            registry=r,
        )
        self.engine_up = Gauge(
            "monitor_engine_up", "1 when the engine's process answered the last scrape.", registry=r
        )
        self.otlp_requests = Counter(
            "monitor_otlp_requests",
            "OTLP export requests, by signal and HTTP status.",
            ["signal", "code"],
            registry=r,
        )
        self.otlp_records = Counter(
            "monitor_otlp_records",
            "OTLP log records and spans, accepted or rejected.",
            ["signal", "outcome"],
            registry=r,
        )
        self.otlp_span_pairs = Counter(
            "monitor_otlp_span_pairs",
            "Client and server spans paired across export requests, by outcome: paired, expired "
            "unpaired (client or server side), evicted over the cap, attributed by address.",
            ["outcome"],
            registry=r,
        )
        self.otlp_dropped = Counter(
            "monitor_otlp_dropped_aggregates",
            "Per-minute OTLP aggregates dropped after their records were accepted, by reason: refused"
            " by the database as data (the rest of their flush was stored), or over the backlog kept"
            " while the database is down.",
            ["reason"],
            registry=r,
        )
        for reason in OTLP_DROP_REASONS:
            self.otlp_dropped.labels(reason)
        self.outbox_backlog = Gauge("monitor_outbox_backlog", "Undelivered notifications.", registry=r)
        self.outbox_oldest_age = Gauge(
            "monitor_outbox_oldest_age_seconds", "Age of the oldest undelivered notification.", registry=r
        )

    async def refresh(self, store: Store) -> None:
        """Update the gauges that describe the shared database; keep the last values while it is down."""
        try:
            await self._refresh(store)
        except StoreError:
            self.store_up.set(0)
        else:
            self.store_up.set(1)

    async def _refresh(self, store: Store) -> None:
        recent = await store.list_deployments(limit=RECENT_DEPLOYMENTS)
        counts = {status: 0 for status in DeploymentStatus}
        for deployment in recent:
            counts[deployment.status] += 1
        for status, count in counts.items():
            self.deployments.labels(status.value).set(count)
        # Only the newest deployment of a service in an environment speaks for it: an old failure
        # that was rolled back or superseded must stop paging; one not followed by any must not.
        newest = await store.newest_per_service()
        self.deployment_verdict.clear()
        for deployment in newest:
            spec = deployment.spec
            verdict = "running" if deployment.status is DeploymentStatus.PENDING else deployment.status.value
            self.deployment_verdict.labels(spec.service, spec.environment, spec.version, verdict).set(1)
        backlog, oldest = await store.outbox_backlog()
        self.outbox_backlog.set(backlog)
        self.outbox_oldest_age.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0)

    async def exposition(self) -> bytes:
        """The text exposition of every metric; the engine's are left out while it does not answer."""
        engine = b""
        if self.engine is not None:
            engine = self.engine.exposition()
        elif self._remote_engine is not None:
            try:
                engine = await self._remote_engine()
            except (OSError, aiohttp.ClientError, TimeoutError):
                engine = b""
        self.engine_up.set(1 if engine else 0)
        return generate_latest(self.registry) + engine
