"""Simulated canary/baseline deployments, written as OpenMetrics and served by a real Prometheus."""

from monitor.simulate.openmetrics import write_openmetrics
from monitor.simulate.prometheus import (
    PrometheusProcess,
    SimulatedPrometheus,
    backfill,
    default_start_unix_s,
    simulate_into_prometheus,
)
from monitor.simulate.scenario import (
    OTEL_BUCKETS_S,
    PROMETHEUS_BUCKETS_S,
    STATUS_CODES,
    Regression,
    Scenario,
    SimulatedRun,
    Totals,
    VersionData,
    simulate,
)

__all__ = [
    "OTEL_BUCKETS_S",
    "PROMETHEUS_BUCKETS_S",
    "STATUS_CODES",
    "PrometheusProcess",
    "Regression",
    "Scenario",
    "SimulatedPrometheus",
    "SimulatedRun",
    "Totals",
    "VersionData",
    "backfill",
    "default_start_unix_s",
    "simulate",
    "simulate_into_prometheus",
    "write_openmetrics",
]
