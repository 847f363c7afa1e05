"""Pieces of the detection benchmark: the grid's seeds, the OTLP telemetry it sends, the reference judge."""

from __future__ import annotations

import json
import math

import pytest
from scipy.stats import binomtest, chi2_contingency

from bench.detection import reference
from bench.detection.grid import CellKind, build_grid, cell_keys
from bench.detection.telemetry import TelemetryFault, TelemetryPlan, aggregate_run
from monitor.simulate import Scenario, simulate
from monitor.simulate.prometheus import default_start_unix_s


def test_every_cell_has_its_own_seeds_and_the_traps_are_marked() -> None:
    cells = build_grid(400, 20, 5)
    seeds = [s.seed for cell in cells for s in cell.scenarios()]
    assert len(seeds) == len(set(seeds))
    assert sum(c.runs for c in cells if c.kind is CellKind.AA) == 400
    assert {c.key for c in cells if c.trap} == {"aa-ramp", "aa-slowdown", "aa-3000rps-2pct", "aa-weight-step"}
    assert len(cell_keys()) == len(cells)
    # Selecting cells keeps their seeds.
    [only] = build_grid(400, 20, 5, frozenset({"tail2-10"}))
    assert [s.seed for s in only.scenarios()] == [
        s.seed for c in cells if c.key == "tail2-10" for s in c.scenarios()
    ]


def test_an_n_plus_one_canary_calls_the_database_three_times_per_request() -> None:
    run = simulate(Scenario("n1", total_rps=20.0, duration_s=120, seed=5), default_start_unix_s())
    plan = TelemetryPlan(logs=False, traces=True, fault=TelemetryFault(db_calls=3))
    rows = aggregate_run(run, plan)
    assert {r.kind for r in rows} == {"spans"}
    calls: dict[str, list[int]] = {"v1": [0, 0], "v2": [0, 0]}
    for row in rows:
        server = json.loads(row.payload_json)["operations"]["GET /orders (server)"]
        calls[row.version][0] += server["count"]
        calls[row.version][1] += server["calls"]["SELECT orders (client)"]
    assert calls["v2"][1] == 3 * calls["v2"][0] and calls["v1"][1] == calls["v1"][0]


def test_reference_tests_are_scipys_with_the_monitors_floors() -> None:
    counts = {
        "errors/canary": 30.0,
        "errors/baseline": 100.0,
        "requests/canary": 1_000.0,
        "requests/baseline": 9_000.0,
    }
    finding = reference._errors(counts)
    assert finding.p_value == pytest.approx(binomtest(30, 130, 0.1, alternative="greater").pvalue)
    # Below the 0.05% floor the same evidence is not a finding.
    tiny = {**counts, "requests/canary": 1e6, "requests/baseline": 9e6}
    assert reference._errors(tiny).p_value == 1.0
    bounds = (0.1, 0.25, math.inf)
    canary, baseline = [200.0, 80.0, 20.0], [2_100.0, 500.0, 100.0]
    latency = reference._latency(bounds, canary, baseline)
    assert latency.p_value == pytest.approx(chi2_contingency([canary, baseline], correction=False).pvalue)
