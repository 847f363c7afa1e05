"""The daemon reads logs from Loki (``logs_from: loki``) instead of its OTLP receiver.

Loki cannot run here: it is the fake of ``tests/fakes`` (:class:`~fakes.loki.LokiFake`), built from
Loki's documented ``query_range`` contract. Metrics come from the session's real Prometheus
(scenario ``aa``: identical versions), so the verdict turns on what the logs show; nothing is sent
to the receiver, so every log line the judges see came from Loki.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.loki import QUERY_RANGE, LogLine, LokiFake

from monitor.config import LOGS_FROM, TRACES_FROM, load_settings
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.errors import ConfigError
from monitor.models import DeploymentSpec, Strategy, Window
from monitor.otlp.pulled import RECEIVER, PulledLogs, telemetry_reader
from monitor.otlp.stored import StoredTelemetry
from monitor.otlp.views import TelemetryReader
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.sources.configured import Sources
from monitor.sources.connect import LOG_BACKENDS, TRACE_BACKENDS
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus


@pytest.fixture
def loki() -> Iterator[LokiFake]:
    with LokiFake() as fake:
        yield fake


def _fill(loki: LokiFake, version: str, window: Window, regression: bool) -> None:
    start_ns = int(window.start.timestamp() * 1e9)
    for i in range(300):
        at_ns = start_ns + i * 10**9
        loki.add_line(LogLine("aa", version, at_ns, f"served order {i} in {12 + i % 7} ms"))
        if regression and i % 4 == 0:
            loki.add_line(
                LogLine("aa", version, at_ns + 1, f"db pool exhausted after {30 + i % 50} ms", "error")
            )


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(body)
    return path


async def _judge(tmp_path: Path, prometheus: SimulatedPrometheus, config: Path) -> dict[str, dict[str, str]]:
    """Register a deployment of ``aa``, let the daemon's scheduler judge it; its checks by name."""
    run = prometheus.runs["aa"]
    settings = load_settings(config, environ={})
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    source = PrometheusSource(prometheus.url)
    try:
        spec = DeploymentSpec(
            "aa", "testing", run.scenario.canary_version, run.scenario.baseline_version, Strategy.CANARY,
            run.canary_window.start, "otel-http", 0, 60, 600, run.canary_window.duration_s,
        )  # fmt: skip
        deployment, _ = await store.register(spec, actor="test")
        telemetry = telemetry_reader(
            settings.sources, settings.logs_from, settings.traces_from, StoredTelemetry(store)
        )
        clock = lambda: run.canary_window.end + timedelta(minutes=1)  # noqa: E731
        await Scheduler(
            store, source, load_profile, SchedulerSettings(owner="a"), clock, telemetry=telemetry
        ).run_once()
        stored = await store.latest_verdict(deployment.id)
        assert stored is not None
        document = json.loads(stored.document_json)
    finally:
        await source.close()
        await store.close()
    return {c["name"]: c for c in document["checks"]}


async def test_a_daemon_with_logs_from_loki_judges_the_logs_from_loki(
    tmp_path: Path, prometheus: SimulatedPrometheus, loki: LokiFake
) -> None:
    run = prometheus.runs["aa"]
    _fill(loki, run.scenario.baseline_version, run.canary_window, regression=False)
    _fill(loki, run.scenario.canary_version, run.canary_window, regression=True)
    checks = await _judge(
        tmp_path, prometheus, _config(tmp_path, f"logs_from: loki\nloki: {{url: {loki.url}}}\n")
    )
    assert checks["log_templates"]["classification"] == "high", checks["log_templates"]["message"]
    assert "db pool exhausted" in checks["log_templates"]["message"]
    assert loki.requests_to("GET", QUERY_RANGE)


async def test_by_default_the_daemon_reads_logs_from_its_receiver_not_loki(
    tmp_path: Path, prometheus: SimulatedPrometheus, loki: LokiFake
) -> None:
    run = prometheus.runs["aa"]
    _fill(loki, run.scenario.canary_version, run.canary_window, regression=True)
    checks = await _judge(tmp_path, prometheus, _config(tmp_path, f"loki: {{url: {loki.url}}}\n"))
    assert "log_templates" not in checks  # the receiver got no logs: the log checks do not take part
    assert not loki.requests_to("GET", QUERY_RANGE)


def test_the_pulled_backends_are_chosen_by_config(tmp_path: Path) -> None:
    config = _config(tmp_path, "logs_from: loki\ntraces_from: jaeger\njaeger: {url: http://jaeger:16686}\n")
    settings = load_settings(config, environ={"MONITOR_LOKI_URL": "http://loki:3100"})
    receiver = StoredTelemetry(store=None)  # type: ignore[arg-type]  # never read here
    reader = telemetry_reader(settings.sources, settings.logs_from, settings.traces_from, receiver)
    assert isinstance(reader, TelemetryReader)
    logs, traces = reader._logs, reader._traces
    assert isinstance(logs, PulledLogs) and logs.backend.url == "http://loki:3100"
    assert type(traces).__name__ == "PulledTraces" and traces.backend.url == "http://jaeger:16686"  # type: ignore[union-attr]
    # Caught when the file is read (monitor.yaml:1), and again by the reader if it is built without.
    with pytest.raises(
        ConfigError, match=r"yaml:1: field 'logs_from': loki is chosen but no loki URL is set"
    ):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match=r"logs_from is loki but no loki URL is set"):
        telemetry_reader(Sources(), "loki", "receiver", receiver)


def test_the_config_offers_exactly_the_registered_backends() -> None:
    """``logs_from``/``traces_from`` choices (and so the published schema) follow the registry."""
    assert set(LOGS_FROM) == {RECEIVER, *LOG_BACKENDS}
    assert set(TRACES_FROM) == {RECEIVER, *TRACE_BACKENDS}
