"""The aggregator's limits: over a cap, records are rejected and counted, never kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from monitor.otlp import aggregate
from monitor.otlp.aggregate import Aggregator
from monitor.otlp.decode import JSON, decode


def _request(services: int, lines: int) -> ExportLogsServiceRequest:
    at = str(int(datetime.now(UTC).timestamp() * 1e9))
    resources = [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": f"svc-{s}"}}]},
            "scopeLogs": [{"logRecords": [
                {"timeUnixNano": at, "severityText": "WARN", "body": {"stringValue": f"event {i}"}}
                for i in range(lines)
            ]}],
        }
        for s in range(services)
    ]  # fmt: skip
    return decode(json.dumps({"resourceLogs": resources}).encode(), JSON, ExportLogsServiceRequest())


def test_keys_over_the_cap_are_rejected_until_a_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregate, "MAX_KEYS", 3)
    aggregator = Aggregator()
    account = aggregator.add_logs(_request(services=5, lines=2), datetime.now(UTC))
    assert (account.accepted, account.rejected) == (6, 4)
    assert "key limit" in account.message
    rows = aggregator.drain()
    assert len(rows) == 3 and all(kind == "logs" for kind, _, _ in rows)
    assert aggregator.add_logs(_request(services=1, lines=1), datetime.now(UTC)).rejected == 0  # room again


def test_levels_and_counts_survive_the_drain() -> None:
    aggregator = Aggregator()
    aggregator.add_logs(_request(services=1, lines=3), datetime.now(UTC))
    [(signal, key, payload)] = aggregator.drain()
    assert signal == "logs"
    assert key.service == "svc-0" and key.version == "unknown" and key.minute.second == 0
    assert sum(t["count"] for t in payload["templates"].values()) == 3
    assert {t["level"] for t in payload["templates"].values()} == {"WARN"}
