"""The monitor's own metrics (``/metrics``): the contract of its dashboards and alert rules.

Counters and histograms are updated where things happen (the engine loop); gauges that describe
the database (deployments by status, the outbox backlog, current verdicts) are refreshed from the
store by :meth:`MonitorMetrics.refresh`, so every replica reports the shared state.

prometheus-client exports a labelled child only from its first ``.labels(...)``, so a series born
by an increment is first scraped at 1, and ``increase()`` (which needs an earlier sample) reads 0:
a service's first failed rollback would never page. Every label set known in advance is therefore
exported at 0 before it can be incremented: the enumerations when the metrics are built, the
delivery channels and rollback actions when they are configured, and a deployment's service,
environment and checks at each of its looks (so again after a restart). The alert rules count the
series that still appear at 1 by their ``_created`` timestamp (see ``alert_rules/``): keep
prometheus-client's created series on (do not set ``PROMETHEUS_DISABLE_CREATED_SERIES``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor.errors import StoreError
from monitor.models import DeploymentStatus, Verdict, VerdictStatus
from monitor.otlp.pairing import PairingCounts
from monitor.store import Store


class ScopedAction(Protocol):
    """A configured rollback action, as far as its counters need it."""

    @property
    def name(self) -> str: ...

    @property
    def dry_run(self) -> bool: ...

    def applies_to(self, service: str, environment: str) -> bool: ...


RECENT_DEPLOYMENTS = 200  # monitor_deployments{status} counts the newest ones
OTLP_DROP_REASONS = ("refused", "backlog")  # why monitor_otlp_dropped_aggregates counted
LOOK_OUTCOMES = ("recorded", "retried")
FINAL_VERDICTS = tuple(status.value for status in VerdictStatus if status is not VerdictStatus.RUNNING)
OTLP_SIGNALS = ("logs", "traces")
OTLP_CODES = ("200", "400", "413", "415", "429")  # accepted, bad body, too big, bad media type, busy
OTLP_RECORD_OUTCOMES = ("accepted", "rejected")
SPAN_PAIR_OUTCOMES = tuple(field.name for field in fields(PairingCounts))


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
            "Rollback actions, by service, environment, action and outcome (done, dry_run, skipped, failed).",
            ["service", "environment", "action", "outcome"],
            registry=r,
        )
        self.probe_attempts = Counter(
            "monitor_probe_attempts",
            "Smoke-probe attempts, by outcome (ok, failed: answered but an assertion failed, or the "
            "error kind: timeout, tls, dns, connection_refused, connection, ...).",
            ["outcome"],
            registry=r,
        )
        self._rollback_actions: tuple[ScopedAction, ...] = ()
        for outcome in LOOK_OUTCOMES:
            self.evaluations.labels(outcome)

    def expect_channels(self, channels: Iterable[str], outcomes: Iterable[str]) -> None:
        """Export the delivery counters of ``channels`` at 0, so a first attempt is an increase."""
        outcomes = tuple(outcomes)
        for channel in channels:
            for outcome in outcomes:
                self.deliveries.labels(channel, outcome)

    def expect_rollback_actions(self, actions: Iterable[ScopedAction]) -> None:
        """The configured rollback actions: each look exports their counters at 0 for its service."""
        self._rollback_actions = tuple(actions)

    def expect_deployment(self, service: str, environment: str, checks: Iterable[str] = ()) -> None:
        """Export at 0 what a deployment of ``service`` in ``environment`` may count when it ends.

        Its final verdicts, time to verdict, the errors of its ``checks`` and the outcomes of the
        rollback actions that apply to it. Idempotent and cheap: called at every look, so the
        series are back at 0 after a restart before the deployment's verdict is counted.
        """
        for verdict in FINAL_VERDICTS:
            self.verdicts.labels(verdict, service, environment)
            self.time_to_verdict.labels(environment, verdict)
        for check in checks:
            self.source_errors.labels(check)
        for action in self._rollback_actions:
            if action.applies_to(service, environment):
                for outcome in ("dry_run" if action.dry_run else "done", "skipped", "failed"):
                    self.rollbacks.labels(service, environment, action.name, outcome)

    def observe_look(
        self, verdict: Verdict, duration_s: float, lag_s: float, recorded: bool, since_start_s: float = 0.0
    ) -> None:
        """Account for one evaluated look (``since_start_s``: from the deploy's start to this look)."""
        environment = verdict.environment or ""
        self.expect_deployment(verdict.service, environment, (check.name for check in verdict.checks))
        self.evaluations.labels("recorded" if recorded else "retried").inc()
        self.evaluation_duration.observe(duration_s)
        self.evaluation_lag.observe(max(lag_s, 0.0))
        for check in verdict.checks:
            if check.classification.value == "error":
                self.source_errors.labels(check.name).inc()
        if recorded and verdict.final:
            self.verdicts.labels(verdict.status.value, verdict.service, environment).inc()
            self.time_to_verdict.labels(environment, verdict.status.value).observe(max(since_start_s, 0.0))

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
        for signal in OTLP_SIGNALS:
            for code in OTLP_CODES:
                self.otlp_requests.labels(signal, code)
            for record_outcome in OTLP_RECORD_OUTCOMES:
                self.otlp_records.labels(signal, record_outcome)
        for pair_outcome in SPAN_PAIR_OUTCOMES:
            self.otlp_span_pairs.labels(pair_outcome)
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
