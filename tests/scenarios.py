"""The scenario set backfilled into the session Prometheus (see ``conftest.py``).

Each comment states what the scenario is built to exercise and the verdict a sound monitor
should reach. All windows are 1200 s and every scenario has its own seed.
"""

from __future__ import annotations

from monitor.models import Mode
from monitor.simulate import Regression, Scenario

SCENARIOS: tuple[Scenario, ...] = (
    # A/A: identical versions, 100 rps, 10 % canary -> pass.
    Scenario("aa", seed=1),
    # Canary 5xx ratio 3x baseline (1 % -> 3 %) -> fail.
    Scenario("errors_3x", error_ratio=0.01, canary=Regression(error_factor=3.0), seed=2),
    # Every canary request 25 % slower -> fail.
    Scenario("median_25", canary=Regression(median_factor=1.25), seed=3),
    # 5 % of canary requests 4x slower, median almost unchanged -> fail on the tail.
    Scenario("tail_slow", canary=Regression(tail_fraction=0.05, tail_factor=4.0), seed=4),
    # Trap: traffic triples during the window for both versions -> pass.
    Scenario("ramp_aa", ramp_to_rps=300.0, seed=5),
    # Trap: both versions 2x slower between offsets 300 s and 600 s -> pass.
    Scenario("shared_slowdown_aa", shared_slowdown=(300.0, 600.0, 2.0), seed=6),
    # Trap: a 2 % slowdown at 3000 rps is significant but practically irrelevant -> pass.
    Scenario("high_traffic_2pct", total_rps=3000.0, canary=Regression(median_factor=1.02), seed=7),
    # The canary emits nothing -> inconclusive (no data), never pass.
    Scenario("no_canary", canary_traffic=False, seed=8),
    # Before/after A/A -> pass.
    Scenario("ba_pass", mode=Mode.BEFORE_AFTER, seed=9),
    # Before/after, canary 5xx ratio 4x (1 % -> 4 %) -> fail.
    Scenario(
        "ba_errors",
        mode=Mode.BEFORE_AFTER,
        error_ratio=0.01,
        canary=Regression(error_factor=4.0),
        seed=10,
    ),
    # client_python naming (http_requests_total{service,version,code}), 5xx ratio 3x -> fail.
    Scenario(
        "prom_flavor_errors",
        flavor="prometheus",
        error_ratio=0.01,
        canary=Regression(error_factor=3.0),
        seed=11,
    ),
    # Trap: the canary's share steps from 10% to 50% at minute 10, then an error burst and a
    # slowdown hit both versions; pooled over the window they would weigh more in the canary -> pass.
    Scenario(
        "weight_step_incident_aa",
        share_step=(600.0, 0.5),
        shared_error_burst=(780.0, 960.0, 0.1),
        shared_slowdown=(780.0, 960.0, 2.0),
        seed=13,
    ),
    # Canary needs twice the CPU seconds per request -> fail (or marginal if CPU is non-critical).
    Scenario("cpu_2x", canary=Regression(cpu_factor=2.0), seed=12),
    # A/A at 2 canary requests/s with 0.1% errors: 20 minutes cannot rule out 2x errors ->
    # inconclusive in production (with the minutes it would need), pass with a warning elsewhere.
    Scenario("low_traffic_aa", total_rps=20.0, error_ratio=0.001, seed=14),
)
