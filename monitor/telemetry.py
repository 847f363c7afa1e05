"""The monitor's own metrics (``/metrics``): the contract of its dashboards and alert rules.

Counters and histograms are updated where things happen (the engine loop); gauges that describe
the database (deployments by status, the outbox backlog, current verdicts) are refreshed from the
store by :meth:`MonitorMetrics.refresh`, so every replica reports the shared state.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor.models import DeploymentStatus, Verdict
from monitor.store import Store

RECENT_DEPLOYMENTS = 200


class MonitorMetrics:
    """One registry per process with every metric the monitor exports."""

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
        self.deployments = Gauge("monitor_deployments", "Deployments by status.", ["status"], registry=r)
        self.deployment_verdict = Gauge(
            "monitor_deployment_verdict",
            "1 for the current verdict of the newest deployment of each service and environment.",
            ["service", "environment", "version", "verdict"],
            registry=r,
        )
        self.outbox_backlog = Gauge("monitor_outbox_backlog", "Undelivered notifications.", registry=r)
        self.outbox_oldest_age = Gauge(
            "monitor_outbox_oldest_age_seconds", "Age of the oldest undelivered notification.", registry=r
        )

    def observe_look(self, verdict: Verdict, duration_s: float, lag_s: float, recorded: bool) -> None:
        """Account for one evaluated look."""
        self.evaluations.labels("recorded" if recorded else "retried").inc()
        self.evaluation_duration.observe(duration_s)
        self.evaluation_lag.observe(max(lag_s, 0.0))
        for check in verdict.checks:
            if check.classification.value == "error":
                self.source_errors.labels(check.name).inc()
        if recorded and verdict.final:
            self.verdicts.labels(verdict.status.value, verdict.service, verdict.environment or "").inc()

    async def refresh(self, store: Store) -> None:
        """Update the gauges that describe the shared database."""
        recent = await store.list_deployments(limit=RECENT_DEPLOYMENTS)
        counts = {status: 0 for status in DeploymentStatus}
        self.deployment_verdict.clear()
        current: set[tuple[str, str]] = set()
        for deployment in recent:  # newest first
            counts[deployment.status] += 1
            spec = deployment.spec
            # Only the newest deployment of a service in an environment speaks for it: an old
            # failure that was rolled back or superseded must stop paging.
            if (spec.service, spec.environment) in current:
                continue
            current.add((spec.service, spec.environment))
            verdict = "running" if deployment.status is DeploymentStatus.PENDING else deployment.status.value
            self.deployment_verdict.labels(spec.service, spec.environment, spec.version, verdict).set(1)
        for status, count in counts.items():
            self.deployments.labels(status.value).set(count)
        backlog, oldest = await store.outbox_backlog()
        self.outbox_backlog.set(backlog)
        self.outbox_oldest_age.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0)

    def exposition(self) -> bytes:
        """The text exposition of every metric."""
        return generate_latest(self.registry)
