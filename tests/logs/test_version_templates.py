"""Both versions' log lines are mined into one template set, as the receiver aggregates them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from monitor.otlp.aggregate import Aggregator
from monitor.otlp.decode import JSON, decode


def _request(version: str, lines: list[tuple[str, str]]) -> ExportLogsServiceRequest:
    at = str(int(datetime.now(UTC).timestamp() * 1e9))
    attributes = [
        {"key": "service.name", "value": {"stringValue": "checkout"}},
        {"key": "service.version", "value": {"stringValue": version}},
    ]
    records = [
        {"timeUnixNano": at, "severityText": level, "body": {"stringValue": text}} for text, level in lines
    ]
    document = {
        "resourceLogs": [{"resource": {"attributes": attributes}, "scopeLogs": [{"logRecords": records}]}]
    }
    return decode(json.dumps(document).encode(), JSON, ExportLogsServiceRequest())


def test_both_versions_share_one_template_set() -> None:
    aggregator = Aggregator()
    now = datetime.now(UTC)
    aggregator.add_logs(_request("v1", [(f"user {i} logged in", "INFO") for i in range(30)]), now)
    canary = [(f"user {i} logged in", "INFO") for i in range(5)]
    canary += [(f"db timeout after {i} ms password=hunter{i}", "ERROR") for i in range(3)]
    aggregator.add_logs(_request("v2", canary), now)
    by_version = {key.version: payload["templates"] for _, key, payload in aggregator.drain()}
    assert by_version["v1"]["user <NUM> logged in"]["count"] == 30
    assert by_version["v2"]["user <NUM> logged in"]["count"] == 5
    [timeout] = [t for text, t in by_version["v2"].items() if text.startswith("db timeout")]
    assert (timeout["count"], timeout["level"]) == (3, "ERROR")
    assert all("hunter" not in example and "<REDACTED>" in example for example in timeout["examples"])
