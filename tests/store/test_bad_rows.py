"""Telemetry rows the database refuses are isolated: the good rows of their batch are stored.

On a real PostgreSQL (which refuses NUL in text and values over a column's length) and a real
SQLite file (whose driver cannot encode a lone surrogate); a database that is down keeps every
row for the next flush.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from monitor.api.otlp import Receiver
from monitor.errors import StoreError
from monitor.own_metrics import MonitorMetrics
from monitor.store import Store, TelemetryRow
from monitor.store.engine import create_engine

MINUTE = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _row(index: int, service: str = "checkout") -> TelemetryRow:
    payload = json.dumps({"templates": {f"served order {index}": {"count": 1}}})
    return TelemetryRow("logs", service, "production", "v2", MINUTE + timedelta(minutes=index), payload)


def _bad_rows(database_url: str) -> list[TelemetryRow]:
    """Rows this backend refuses: a lone surrogate everywhere; NUL and over-length on PostgreSQL."""
    bad = [_row(100, "shop\udc80"), replace(_row(101), version="v\udc80")]
    if database_url.startswith("postgresql"):
        bad += [_row(102, "shop\x00evil"), replace(_row(103), environment="e" * 101)]
    return bad


async def _stored(store: Store) -> list[TelemetryRow]:
    rows = await store.telemetry("logs", "checkout", "production", MINUTE, MINUTE + timedelta(hours=3))
    return sorted(rows, key=lambda row: row.minute)


async def test_one_bad_row_among_good_ones_leaves_the_good_ones_stored(
    store: Store, database_url: str
) -> None:
    good = [_row(i) for i in range(40)]
    bad = _bad_rows(database_url)
    batch = good[:7] + bad[:1] + good[7:30] + bad[1:] + good[30:]
    refused = await store.add_telemetry(batch)
    assert [r.row for r in refused] == bad
    assert all(r.reason for r in refused)
    stored = await _stored(store)
    assert [(r.minute, r.payload_json) for r in stored] == [(r.minute, r.payload_json) for r in good]


async def test_a_clean_batch_refuses_nothing(store: Store) -> None:
    assert await store.add_telemetry([_row(i) for i in range(5)]) == []
    assert len(await _stored(store)) == 5


async def test_a_flush_counts_and_logs_the_refused_and_stores_the_rest(
    store: Store, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    receiver, metrics = Receiver(), MonitorMetrics()
    bad = _bad_rows(database_url)
    # Rows left from an earlier flush are sent first; put the bad ones among them.
    receiver._unflushed = [_row(0), *bad, _row(1)]
    assert await receiver.flush(store, metrics) == 2
    assert len(await _stored(store)) == 2
    exposition = generate_latest(metrics.registry).decode()
    assert f'monitor_otlp_dropped_aggregates_total{{reason="refused"}} {float(len(bad))}' in exposition
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "service 'shop\\udc80'" in refusals[0] and "dropped" in refusals[0]
    # Dropped, not retried: the next flush does not send them again.
    assert await receiver.flush(store, metrics) == 0
    assert f'reason="refused"}} {float(len(bad))}' in generate_latest(metrics.registry).decode()


async def test_a_database_that_is_down_keeps_every_row_for_the_next_flush(store: Store) -> None:
    down = Store(create_engine("postgresql://postgres@127.0.0.1:9/nothing"))  # nothing listens on 9
    receiver, metrics = Receiver(), MonitorMetrics()
    receiver._unflushed = [_row(i) for i in range(3)]
    try:
        with pytest.raises(StoreError, match="retry when it is back"):
            await down.add_telemetry([_row(9)])
        assert await receiver.flush(down, metrics) == 0
    finally:
        await down.close()
    exposition = generate_latest(metrics.registry).decode()
    assert 'monitor_otlp_dropped_aggregates_total{reason="refused"} 0.0' in exposition
    assert 'monitor_otlp_dropped_aggregates_total{reason="backlog"} 0.0' in exposition
    assert await receiver.flush(store, metrics) == 3  # the database is back: all of them land
    assert len(await _stored(store)) == 3
