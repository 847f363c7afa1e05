"""The slo_burn kind: the checks a request gets, the per-version PromQL it sends, the counts it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.checks.kind import Judging, Look, VersionQuery
from monitor.checks.registry import kind_for
from monitor.checks.slo import SLO_BURN, BurnSubject, check_name, slo_checks
from monitor.engine.request import RequestDefaults, build_request
from monitor.errors import InputError
from monitor.judges import decide
from monitor.judges.checks import error_result
from monitor.models import (
    CheckResult,
    Classification,
    ComparisonKind,
    CountsData,
    Signal,
    VerdictStatus,
    Window,
)
from monitor.profiles import CheckSpec, DecisionPolicy, TrafficPolicy, load_profile
from monitor.slo import SLO, SliCheck
from monitor.slo.promql import bare_metric, inject_matchers, rename_labels
from monitor.sources.base import InstantSample, Labels, RangeSeries

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CANARY = VersionQuery('service_name="checkout", service_version="v2"', Window(T0, T0 + timedelta(minutes=10)))
BASELINE = VersionQuery(
    'service_name="checkout", service_version="v1"', Window(T0, T0 + timedelta(minutes=10))
)
SLOTH = SLO(
    "checkout-availability", "checkout", 0.999, 30,
    errors='sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
    total="sum(rate(http_requests_total{}[{{.window}}]))",
)  # fmt: skip


class Rates:
    """A metrics source answering each version's queries with fixed per-second rates (or increases)."""

    url = "http://prometheus.invalid"

    def __init__(self, values: dict[tuple[str, bool], float]) -> None:
        self.values = values  # (version, bad?) -> value
        self.queries: list[str] = []

    async def instant(self, query: str, at: datetime) -> list[InstantSample]:
        self.queries.append(query)
        version = "v2" if 'service_version="v2"' in query else "v1"
        bad = "5.." in query
        return [InstantSample(Labels(()), self.values[(version, bad)])]

    async def range(self, query: str, window: Window, step_s: float) -> list[RangeSeries]:
        raise AssertionError("one whole window: no periods")

    async def label_values(self, label: str, match: str, window: Window) -> list[str]:
        return []

    async def close(self) -> None:
        return None


def _look(source: Rates, slo: SLO, limit: float | None = 10.0) -> Look:
    return Look(
        source, load_profile("otel-http"), CANARY, BASELINE, None,
        subjects={check_name(slo): BurnSubject(slo, limit)},
    )  # fmt: skip


def test_matchers_go_into_every_selector_outside_strings() -> None:
    m = 'service_name="checkout", service_version="v2"'
    query = 'sum(rate(a{code=~"5..", path="{x}"}[5m])) / sum(rate(b{}[5m])) or vector(0)'
    assert inject_matchers(query, m) == (
        f'sum(rate(a{{{m}, code=~"5..", path="{{x}}"}}[5m])) / sum(rate(b{{{m}}}[5m])) or vector(0)'
    )


def test_matchers_go_into_no_comment() -> None:
    query = "# about x{}: the errors\nsum(rate(a{}[5m]))  # not b{}\n/ sum(rate(c{}[5m]))"
    assert inject_matchers(query, 'v="2"') == (
        '# about x{}: the errors\nsum(rate(a{v="2"}[5m]))  # not b{}\n/ sum(rate(c{v="2"}[5m]))'
    )


def test_labels_are_renamed_whatever_the_values_hold() -> None:
    matchers = 'service_name="check\\"out, x", service_version=~"v2", team!="a"'
    names = {"service_name": "service", "service_version": "version"}
    assert rename_labels(matchers, names) == 'service="check\\"out, x", version=~"v2", team!="a"'
    with pytest.raises(ValueError, match="not label matchers"):
        rename_labels("service_name=checkout", names)


@pytest.mark.parametrize(
    ("query", "bare"),
    [
        ("sum(rate(x_total[5m]))", "x_total"),
        ("sum(rate(a{}[5m])) / sum(rate(good_total[5m]))", "good_total"),
        ("sum by (le) (rate(a{}[5m])) / on(service) group_left(x) b{} > bool 0.5", None),
        ('histogram_quantile(0.99, sum by (le) (rate(h_bucket{le!="1e3"}[5m] offset 1h)))', None),
        ('count_values("code", x{}) * 1e-3 + 0x1f', None),
        # Keywords whatever their case, as Prometheus reads them.
        ("SUM BY (le) (rate(a{}[5m])) / ON(service) GROUP_LEFT(x) b{} > BOOL Inf", None),
        ("sum(rate(a{}[5m] OFFSET 1h)) > NaN or -INF", None),
        ("sum(rate(a{}[5m])) Unless IGNORING(code) b{}", None),
        # Comments are skipped: what they mention selects nothing, and they end at the line.
        ("# sum(rate(bare_total[5m]))\nsum(rate(a{}[5m])) # or c_total\n/ sum(rate(b{}[5m]))", None),
        ("# a comment\nsum(rate(bare_total[5m]))", "bare_total"),
    ],
)
def test_a_metric_without_braces_is_found(query: str, bare: str | None) -> None:
    assert bare_metric(query) == bare


async def test_a_sloth_sli_is_rates_times_the_window_for_each_version() -> None:
    """0.5 bad/s of 10/s over 600 s: 300 of 6,000 for the new version; the old one 6 of 6,000."""
    source = Rates({("v2", True): 0.5, ("v2", False): 10.0, ("v1", True): 0.01, ("v1", False): 10.0})
    (added,) = slo_checks((SLOTH,), "checkout", 10.0)
    data = await SLO_BURN.fetch(added.spec, _look(source, SLOTH))
    assert data.canary == CountsData(300.0, 6000.0) and data.baseline == CountsData(6.0, 6000.0)
    assert data.windows_s == (600.0, 600.0)
    assert (
        'sum(rate(http_requests_total{service_name="checkout", service_version="v2", code=~"5.."}[600s]))'
        in source.queries
    )
    assert (
        'sum(rate(http_requests_total{service_name="checkout", service_version="v1"}[600s]))'
        in source.queries
    )
    result = SLO_BURN.judge(added.spec, data, Judging(0.01, TrafficPolicy()))
    assert result.classification is Classification.HIGH and result.effect == pytest.approx(50.0)


async def test_a_good_sli_counts_total_minus_good() -> None:
    good = SLO(
        "checkout-availability", "checkout", 0.999, 30,
        good='sum(rate(http_requests_total{code!~"5.."}[{{.window}}]))',
        total="sum(rate(http_requests_total{}[{{.window}}]))",
    )  # fmt: skip
    # "5.." is in the good query too (code!~): the fake answers it as the bad series' slot.
    source = Rates({("v2", True): 9.0, ("v2", False): 10.0, ("v1", True): 10.0, ("v1", False): 10.0})
    (added,) = slo_checks((good,), "checkout", None)
    data = await SLO_BURN.fetch(added.spec, _look(source, good, None))
    assert data.canary == CountsData(600.0, 6000.0) and data.baseline == CountsData(0.0, 6000.0)


async def test_a_check_sli_counts_as_its_profile_check_does() -> None:
    """The templates' increases are counts already: 30 of 6,000, no multiplying."""
    events = 'sum(increase(http_server_request_duration_seconds_count{$selector, code=~"5.."}[$window]))'
    exposure = "sum(increase(http_server_request_duration_seconds_count{$selector}[$window]))"
    slo = SLO(
        "checkout-availability", "checkout", 0.999, 30,
        total="unused{}[{{.window}}]", errors="unused{}[{{.window}}]",
        from_check=SliCheck("otel-http", "http_error_ratio", events, exposure),
    )  # fmt: skip
    source = Rates({("v2", True): 30.0, ("v2", False): 6000.0, ("v1", True): 3.0, ("v1", False): 6000.0})
    (added,) = slo_checks((slo,), "checkout", 10.0)
    data = await SLO_BURN.fetch(added.spec, _look(source, slo))
    assert data.canary == CountsData(30.0, 6000.0) and data.baseline == CountsData(3.0, 6000.0)
    assert any('service_version="v2", code=~"5.."}[600s]' in q for q in source.queries)


async def test_a_bare_metric_is_an_error_naming_the_slo_and_the_fix() -> None:
    bare = SLO("checkout-availability", "checkout", 0.999, 30, errors="sum(rate(errors_total[{{.window}}]))",
               total="sum(rate(requests_total{}[{{.window}}]))")  # fmt: skip
    (added,) = slo_checks((bare,), "checkout", 10.0)
    with pytest.raises(
        InputError, match=r"SLO checkout-availability: .*errors_total without braces.*errors_total\{\}"
    ):
        await SLO_BURN.fetch(added.spec, _look(Rates({}), bare))


def test_requests_get_their_services_slo_checks_limited_by_environment() -> None:
    other = SLO("search-latency", "search", 0.99, 28, errors="e{}[{{.window}}]", total="t{}[{{.window}}]")
    defaults = RequestDefaults(slos=(SLOTH, other))
    window = Window(T0, T0 + timedelta(minutes=30))

    def checks(environment: str | None) -> dict[str, tuple[bool, float, bool]]:
        request = build_request(
            defaults, load_profile("otel-http"), service="checkout", canary_version="v2",
            baseline_version="v1", canary_window=window, environment=environment,
        )  # fmt: skip
        return {
            a.spec.name: (a.spec.critical, a.spec.weight, a.awaited)
            for a in request.added
            if a.spec.kind == "slo_burn" and not a.spec.optional
        }

    # Required (an error counts) but never awaited (no data holds nothing back) everywhere;
    # critical where there is a limit.
    assert checks("production") == {"slo_burn_checkout_availability": (True, 1.0, False)}
    assert checks("development") == {"slo_burn_checkout_availability": (False, 0.0, False)}
    # Lower environments inform: staging has no limit of its own.
    assert checks("staging") == {"slo_burn_checkout_availability": (False, 0.0, False)}
    (added,) = slo_checks((SLOTH,), "checkout", 10.0)
    assert kind_for(added.spec) is SLO_BURN
    assert slo_checks((SLOTH,), "search", 10.0) == ()


async def test_a_check_sli_selects_the_versions_in_its_own_profiles_labels() -> None:
    """An SLI of prometheus-http's check (labels service, version) in an otel-http analysis (whose
    matchers say service_name, service_version): the versions are selected as service and version."""
    events = 'sum(increase(http_requests_total{$selector, code=~"5.."}[$window]))'
    exposure = "sum(increase(http_requests_total{$selector}[$window]))"
    slo = SLO(
        "checkout-availability", "checkout", 0.999, 30,
        total="unused{}[{{.window}}]", errors="unused{}[{{.window}}]",
        from_check=SliCheck("prometheus-http", "http_error_ratio", events, exposure, "service", "version"),
    )  # fmt: skip

    class ByVersionLabel(Rates):
        async def instant(self, query: str, at: datetime) -> list[InstantSample]:
            self.queries.append(query)
            version = "v2" if 'version="v2"' in query else "v1"
            return [InstantSample(Labels(()), self.values[(version, "5.." in query)])]

    source = ByVersionLabel(
        {("v2", True): 30.0, ("v2", False): 6000.0, ("v1", True): 3.0, ("v1", False): 6000.0}
    )
    (added,) = slo_checks((slo,), "checkout", 10.0)
    data = await SLO_BURN.fetch(added.spec, _look(source, slo))
    assert data.canary == CountsData(30.0, 6000.0) and data.baseline == CountsData(3.0, 6000.0)
    assert any(
        'http_requests_total{service="checkout", version="v2", code=~"5.."}[600s]' in q
        for q in source.queries
    )
    assert not any("service_name" in q or "service_version" in q for q in source.queries)
    assert data.version_label == "version" and data.same_window


async def test_no_series_of_the_new_version_names_the_version_label_and_holds_nothing_back() -> None:
    """SLI series without the version label: no events for either version. The check has no data
    and says why it may be; not awaited, it leaves the verdict to the other checks. An error
    reading it is another matter: a failing backend never gives a pass."""
    source = Rates({("v2", True): 0.0, ("v2", False): 0.0, ("v1", True): 0.0, ("v1", False): 0.0})
    (added,) = slo_checks((SLOTH,), "checkout", 10.0)
    data = await SLO_BURN.fetch(added.spec, _look(source, SLOTH))
    result = SLO_BURN.judge(added.spec, data, Judging(0.01, TrafficPolicy()))
    assert result.classification is Classification.NODATA
    assert "no version label 'service_version'" in result.message
    passing = CheckResult(
        "http_error_ratio", Signal.METRICS, ComparisonKind.COUNTS, Classification.PASS, True, 1.0,
        "alike", conclusive=True,
    )  # fmt: skip
    specs = {
        added.spec.name: added.spec,
        "http_error_ratio": CheckSpec("http_error_ratio", ComparisonKind.COUNTS),
    }
    unneeded = {a.spec.name for a in (added,) if not a.awaited}
    decision = decide(
        [passing, result], specs, DecisionPolicy(), last_look=True, elapsed_s=1800, unneeded=unneeded
    )
    assert decision.status is VerdictStatus.PASS, decision.summary
    errored = error_result(added.spec, "Prometheus refused the query")
    failing_backend = decide(
        [passing, errored], specs, DecisionPolicy(), last_look=True, elapsed_s=1800, unneeded=unneeded
    )
    assert failing_backend.status is VerdictStatus.INCONCLUSIVE, failing_backend.summary


async def test_before_after_windows_are_not_the_same_window() -> None:
    source = Rates({("v2", True): 0.5, ("v2", False): 10.0, ("v1", True): 0.5, ("v1", False): 10.0})
    (added,) = slo_checks((SLOTH,), "checkout", 10.0)
    earlier = VersionQuery(BASELINE.matchers, Window(T0 - timedelta(minutes=10), T0))
    look = Look(
        source, load_profile("otel-http"), CANARY, earlier, None,
        subjects={check_name(SLOTH): BurnSubject(SLOTH, 10.0)},
    )  # fmt: skip
    data = await SLO_BURN.fetch(added.spec, look)
    assert not data.same_window
    result = SLO_BURN.judge(added.spec, data, Judging(0.01, TrafficPolicy(), window_ratio=1.0))
    assert result.classification is Classification.HIGH
    assert "the old version burnt beyond the limit too, in its own earlier window" in result.message
    assert "shared incident" not in result.message
