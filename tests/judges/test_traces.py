"""The trace judges on literal per-operation aggregates."""

from __future__ import annotations

import numpy as np

from monitor.judges.traces import (
    judge_trace_errors,
    judge_trace_exceptions,
    judge_trace_fanout,
    judge_trace_latency,
    judge_trace_operations,
)
from monitor.models import Classification, ComparisonKind, OperationStats, Signal, TraceData
from monitor.otlp.aggregate import SPAN_BUCKETS_S
from monitor.profiles import CheckSpec, load_profile
from monitor.stats import Claim, allocate, per_look_alpha

COUNTS, TRACES = ComparisonKind.COUNTS, Signal.TRACES
FANOUT = CheckSpec("trace_fanout", COUNTS, TRACES, allowed_effect=0.5, min_data=50)
ERRORS = CheckSpec("trace_errors", COUNTS, TRACES, allowed_effect=0.25, negligible_value=0.0005, min_data=50)
EXCEPTIONS = CheckSpec("trace_exceptions", COUNTS, TRACES, allowed_effect=1.0, min_data=50)
LATENCY = CheckSpec("trace_latency", ComparisonKind.DISTRIBUTION, TRACES, allowed_effect=0.1, min_data=50)
ALPHA = 0.01
GET = "GET /orders (server)"


def _buckets(rng: np.random.Generator, n: int, median_s: float) -> tuple[int, ...]:
    durations = rng.lognormal(np.log(median_s), 0.5, size=n)
    edges = np.searchsorted(np.array(SPAN_BUCKETS_S), durations, side="left")
    return tuple(int(x) for x in np.bincount(edges, minlength=len(SPAN_BUCKETS_S) + 1))


def _data(canary: OperationStats, baseline: OperationStats) -> TraceData:
    return TraceData(SPAN_BUCKETS_S, {GET: canary}, {GET: baseline})


def test_an_n_plus_one_loop_fails_fan_out_and_names_the_callee() -> None:
    canary = OperationStats(300, calls={"SELECT orders (client)": 1500}, exemplars=("ab" * 16,))
    baseline = OperationStats(2700, calls={"SELECT orders (client)": 2700})
    result = judge_trace_fanout(FANOUT, _data(canary, baseline), ALPHA)
    assert result.classification is Classification.HIGH
    assert "GET /orders (server) -> SELECT orders (client)" in result.message
    assert result.effect is not None and 4 < result.effect < 6
    assert "ab" * 16 in result.evidence[0].detail  # exemplar trace ids of the canary


def test_a_new_downstream_edge_and_a_new_exception_type() -> None:
    canary = OperationStats(300, errors=75, calls={"payments: POST /charge (server)": 300},
                            exceptions={"TimeoutError": 75})  # fmt: skip
    baseline = OperationStats(2700, errors=3)
    fanout = judge_trace_fanout(FANOUT, _data(canary, baseline), ALPHA)
    assert fanout.classification is Classification.HIGH and "new downstream edge" in fanout.message
    exceptions = judge_trace_exceptions(EXCEPTIONS, _data(canary, baseline), ALPHA)
    assert exceptions.classification is Classification.HIGH and "TimeoutError" in exceptions.message
    assert "new exception type" in exceptions.message
    assert judge_trace_errors(ERRORS, _data(canary, baseline), ALPHA).classification is Classification.HIGH


def test_a_single_new_exception_is_not_a_regression() -> None:
    canary = OperationStats(300, exceptions={"KeyError": 1})
    result = judge_trace_exceptions(EXCEPTIONS, _data(canary, OperationStats(2700)), ALPHA)
    assert result.classification is Classification.PASS


def test_a_slower_operation_fails_latency() -> None:
    rng = np.random.default_rng(3)
    canary = OperationStats(600, buckets=_buckets(rng, 600, 0.12), exemplars=("cd" * 16,))
    baseline = OperationStats(5400, buckets=_buckets(rng, 5400, 0.06))
    result = judge_trace_latency(LATENCY, _data(canary, baseline), ALPHA)
    assert result.classification is Classification.HIGH and GET in result.message
    assert any("cd" * 16 in e.detail for e in result.evidence)


def test_identical_versions_pass_every_trace_check() -> None:
    # A/A: 20 operations with the same error, call and exception rates and latencies (fixed seed).
    rng = np.random.default_rng(11)
    canary, baseline = {}, {}
    for i in range(20):
        for side, n in ((canary, 400), (baseline, 3600)):
            side[f"op{i} (server)"] = OperationStats(
                n, errors=int(rng.binomial(n, 0.01)), buckets=_buckets(rng, n, 0.05 + 0.01 * i),
                exceptions={"ValueError": int(rng.binomial(n, 0.005))},
                calls={"db (client)": int(rng.poisson(2.0 * n))},
            )  # fmt: skip
    data = TraceData(SPAN_BUCKETS_S, canary, baseline)
    for spec, judge in ((FANOUT, judge_trace_fanout), (ERRORS, judge_trace_errors),
                        (EXCEPTIONS, judge_trace_exceptions), (LATENCY, judge_trace_latency)):  # fmt: skip
        assert judge(spec, data, ALPHA).classification is Classification.PASS, spec.name


def test_too_few_spans_is_nodata() -> None:
    data = _data(OperationStats(10), OperationStats(10))
    assert judge_trace_errors(ERRORS, data, ALPHA).classification is Classification.NODATA


def test_root_span_errors_and_a_new_exception_type_fail_at_the_default_level() -> None:
    """v2's root span errors 0.2% -> 3% on a 5 requests/s canary over 10 minutes (the old judge
    passed it), with the failures raising an exception type v1 never raised: both checks fail at
    the level the default profile gives them at the last look with every check taking part."""
    profile = load_profile("otel-http")
    look_alpha = per_look_alpha(profile.alpha, 10, 10, profile.decision.final_share)
    claims = {s.name: Claim(s.alpha_weight, s.critical, 0.0) for s in profile.checks}
    levels = allocate(look_alpha, claims, profile.decision.critical_share)
    specs = {s.name: s for s in profile.checks}
    canary = OperationStats(3_000, errors=90, exceptions={"CardDeclined": 90})
    baseline = OperationStats(27_000, errors=54)
    data = _data(canary, baseline)
    errors = judge_trace_errors(specs["trace_errors"], data, levels["trace_errors"])
    assert errors.classification is Classification.HIGH and errors.critical
    new_type = judge_trace_exceptions(specs["trace_exceptions"], data, levels["trace_exceptions"])
    assert new_type.classification is Classification.HIGH and "new exception type" in new_type.message


def test_operations_below_the_minimum_are_pooled_not_dropped_and_nothing_comparable_is_nodata() -> None:
    """Ten operations with 30 canary and 270 baseline spans each (minimum 50): none alone, their pool
    (300 and 2,700) is compared, and a service-wide error regression in it fails. With a single
    operation below the minimum there is nothing comparable: nodata, never "0 compared" and pass."""
    canary = {f"op{i} (server)": OperationStats(30, errors=6) for i in range(10)}
    baseline = {f"op{i} (server)": OperationStats(270, errors=3) for i in range(10)}
    result = judge_trace_errors(ERRORS, TraceData(SPAN_BUCKETS_S, canary, baseline), ALPHA)
    assert result.classification is Classification.HIGH
    assert "10 operations below 50 spans each (pooled)" in result.message
    lone = TraceData(
        SPAN_BUCKETS_S,
        {GET: OperationStats(30), "SELECT (client)": OperationStats(60)},
        {GET: OperationStats(270), "INSERT (client)": OperationStats(540)},
    )
    for judge, spec in ((judge_trace_errors, ERRORS), (judge_trace_latency, LATENCY)):
        nothing = judge(spec, lone, ALPHA)
        assert nothing.classification is Classification.NODATA, spec.name
        assert "nothing comparable" in nothing.message


def _default(name: str) -> CheckSpec:
    return next(s for s in load_profile("otel-http").checks if s.name == name)


def test_a_version_that_returns_at_once_collapses_its_latency_and_drops_a_call() -> None:
    """The wrong-answer fault: the entry span's p50 falls from 123 ms to 0.5 ms and the downstream
    call to EmptyCart vanishes. Both regress in the default profile (both directions tested);
    a latency 20% lower would not."""
    rng = np.random.default_rng(5)
    empty_cart = "cart: EmptyCart (server)"
    canary = OperationStats(600, buckets=_buckets(rng, 600, 0.0005), calls={})
    baseline = OperationStats(5_400, buckets=_buckets(rng, 5_400, 0.123), calls={empty_cart: 5_400})
    data = _data(canary, baseline)
    latency = judge_trace_latency(_default("trace_latency"), data, 1e-4)
    assert latency.classification is Classification.LOW and "collapsed to" in latency.message
    fanout = judge_trace_fanout(_default("trace_fanout"), data, 1e-4)
    assert fanout.classification is Classification.LOW and "vanished" in fanout.message
    assert empty_cart in fanout.message
    faster = OperationStats(600, buckets=_buckets(rng, 600, 0.1))
    assert judge_trace_latency(_default("trace_latency"), _data(faster, baseline), 1e-4).classification is (
        Classification.PASS
    )


def test_new_edges_and_operations_are_findings_and_vanished_operations_regress() -> None:
    canary = {
        GET: OperationStats(600, calls={"payments: POST /charge (server)": 600}),
        "POST /orders (server)": OperationStats(600),
    }
    baseline = {GET: OperationStats(5_400), "DELETE /orders (server)": OperationStats(5_400)}
    data = TraceData(SPAN_BUCKETS_S, canary, baseline)
    fanout = judge_trace_fanout(_default("trace_fanout"), data, 1e-4)
    assert fanout.classification is Classification.PASS and "new item(s) listed as evidence" in fanout.message
    assert fanout.evidence[0].label.startswith("new: GET /orders (server) -> payments: POST /charge")
    operations = judge_trace_operations(_default("trace_operations"), data, 1e-4)
    assert operations.classification is Classification.LOW
    assert "DELETE /orders (server): vanished" in operations.message
    assert any(e.label == "new: POST /orders (server)" for e in operations.evidence)
