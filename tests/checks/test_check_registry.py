"""The check-kind registry: every kind a profile may name resolves to one object, found by its spec."""

from __future__ import annotations

import pytest

from monitor.checks import registry
from monitor.checks.counts import COUNTS
from monitor.checks.kind import Judging
from monitor.checks.metric import SPANS, Fetched, MetricPair
from monitor.checks.registry import kind_for, load
from monitor.models import CheckPurpose, Classification, ComparisonKind, CountsData, Signal
from monitor.profiles import CheckSpec, TrafficPolicy, kinds, load_profile
from monitor.profiles.kinds import known_check_names, register, registrations

ERRORS = CheckSpec("http_error_ratio", ComparisonKind.COUNTS, min_data=100)


def test_every_registered_kind_loads_and_implements_the_protocol() -> None:
    for registration in registrations():
        kind = load(registration)
        for method in ("fetch", "min_p", "judge"):
            assert callable(getattr(kind, method)), (registration.key, method)


def test_every_check_of_the_builtin_profiles_has_a_kind() -> None:
    for name in ("otel-http", "prometheus-http"):
        for spec in load_profile(name).checks:
            assert kind_for(spec) is not None


def test_a_metric_check_is_found_by_its_comparison_a_log_check_by_its_name() -> None:
    traffic = CheckSpec("share", ComparisonKind.COUNTS, purpose=CheckPurpose.TRAFFIC)
    assert kind_for(ERRORS) is COUNTS
    assert kind_for(traffic) is not COUNTS
    templates = CheckSpec("log_templates", ComparisonKind.COUNTS, Signal.LOGS)
    assert kind_for(templates) is load(kinds._REGISTERED[(Signal.LOGS, "log_templates")])
    with pytest.raises(LookupError, match="no logs check kind 'log_volume'"):
        kind_for(CheckSpec("log_volume", ComparisonKind.COUNTS, Signal.LOGS))


def test_the_parser_lists_names_by_signal() -> None:
    assert known_check_names(Signal.LOGS) == {
        "log_templates": ComparisonKind.COUNTS,
        "log_error_rate": ComparisonKind.COUNTS,
    }
    assert known_check_names(Signal.TRACES)["trace_latency"] is ComparisonKind.DISTRIBUTION
    assert known_check_names(Signal.METRICS) == {}


def test_a_new_kind_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds, "_REGISTERED", dict(kinds._REGISTERED))
    monkeypatch.setattr(registry, "_LOADED", {})
    register("log_volume", Signal.LOGS, ComparisonKind.COUNTS, "monitor.checks.counts:COUNTS")
    assert "log_volume" in known_check_names(Signal.LOGS)
    assert kind_for(CheckSpec("log_volume", ComparisonKind.COUNTS, Signal.LOGS)) is COUNTS
    with pytest.raises(ValueError, match="already registered"):
        register("log_volume", Signal.LOGS, ComparisonKind.COUNTS, "monitor.checks.counts:COUNTS")


def test_a_metric_judge_names_the_selector_that_matched_nothing() -> None:
    data = MetricPair(
        Fetched(CountsData(0, 0), False, 'service="a", version="v2"'),
        Fetched(CountsData(3, 500), True, 'service="a", version="v1"'),
    )
    result = COUNTS.judge(ERRORS, data, Judging(0.01, TrafficPolicy()))
    assert result.classification is Classification.NODATA
    assert result.message.endswith('; no series matched {service="a", version="v2"}')


def test_a_metric_judge_says_when_server_spans_stood_in() -> None:
    spans = MetricPair(Fetched(CountsData(1, 1_000), True, SPANS), Fetched(CountsData(1, 1_000), True, SPANS))
    result = COUNTS.judge(ERRORS, spans, Judging(0.01, TrafficPolicy()))
    assert result.message.endswith("(from server spans: no metric series)")
