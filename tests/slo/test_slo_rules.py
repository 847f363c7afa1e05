"""The SLO rule generator (pure): the burn-rate table, the expressions, the generated documents."""

from __future__ import annotations

import pytest
import yaml

from monitor.slo import BURN_ALERTS, RECORDED_WINDOWS, SLO, SliCheck, burn_factor, rule_file, unit_test_file
from monitor.slo.rules import budget_remaining, burn_rate, period_ratio, rule_document, unit_test_document

ERRORS = (
    'sum(rate(http_server_request_duration_seconds_count{service_name="checkout", code=~"5.."}[{{.window}}]))'
)
TOTAL = 'sum(rate(http_server_request_duration_seconds_count{service_name="checkout"}[{{.window}}]))'
WINDOW = "{{.window}}"


def _slo(**changes: object) -> SLO:
    fields: dict[str, object] = {
        "name": "checkout-availability",
        "service": "checkout",
        "objective": 0.999,
        "window_days": 30,
        "total": TOTAL,
        "errors": ERRORS,
    }
    fields.update(changes)
    return SLO(**fields)  # type: ignore[arg-type]


def test_the_workbook_table_for_30_days() -> None:
    rows = [(a.severity, a.long_window, a.short_window, burn_factor(a, 30)) for a in BURN_ALERTS]
    assert rows == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6.0),
        ("ticket", "1d", "2h", 3.0),
        ("ticket", "3d", "6h", 1.0),
    ]


def test_a_28_day_window_scales_the_factors_to_the_same_budget_shares() -> None:
    assert [burn_factor(a, 28) for a in BURN_ALERTS] == [13.44, 5.6, 2.8, 0.9333]


def test_every_window_an_alert_reads_is_recorded() -> None:
    assert RECORDED_WINDOWS == ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    read = {w for a in BURN_ALERTS for w in (a.long_window, a.short_window)}
    assert read == set(RECORDED_WINDOWS)


def test_recording_rules_substitute_each_window_into_errors_over_total() -> None:
    """Errors over total; with no error series at all (a service that never failed) 0 while there
    is traffic, so the ratio is there for the dashboard and the alerts read 0, not nothing."""
    records = rule_document(_slo())["groups"][0]["rules"]
    assert [r["record"] for r in records] == [f"slo:sli_error:ratio_rate{w}" for w in RECORDED_WINDOWS]
    first = records[0]
    total = '(sum(rate(http_server_request_duration_seconds_count{service_name="checkout"}[5m])))'
    assert first["expr"] == (
        '(sum(rate(http_server_request_duration_seconds_count{service_name="checkout", code=~"5.."}[5m])))'
        f"\n/\n{total}\nor on()\n({total} > 0) * 0"
    )
    assert first["labels"] == {"service": "checkout", "slo": "checkout-availability"}
    assert all("{{.window}}" not in r["expr"] for r in records)


def test_a_good_events_sli_records_one_minus_good_over_total() -> None:
    slo = _slo(errors=None, good=TOTAL.replace("checkout", "good"))
    assert slo.error_ratio("1h").startswith(
        '1 - (\n  (sum(rate(http_server_request_duration_seconds_count{service_name="good"}[1h])))'
    )
    # No good series at all while there is traffic: every event was bad.
    (one_hour,) = [r for r in rule_document(slo)["groups"][0]["rules"] if r["record"].endswith("rate1h")]
    total = f"({TOTAL.replace(WINDOW, '1h')})"
    assert one_hour["expr"] == f"{slo.error_ratio('1h')}\nor on()\n({total} > 0) * 0 + 1"


def test_alerts_page_and_ticket_on_both_windows_with_labels_and_runbook() -> None:
    page, ticket = rule_document(_slo())["groups"][1]["rules"]
    selector = '{service="checkout", slo="checkout-availability"}'
    assert page["expr"] == (
        f"(\n  slo:sli_error:ratio_rate1h{selector} / 0.001 > 14.4\n  and\n"
        f"  slo:sli_error:ratio_rate5m{selector} / 0.001 > 14.4\n)\nor\n"
        f"(\n  slo:sli_error:ratio_rate6h{selector} / 0.001 > 6\n  and\n"
        f"  slo:sli_error:ratio_rate30m{selector} / 0.001 > 6\n)"
    )
    assert "ratio_rate1d" in ticket["expr"] and "ratio_rate2h" in ticket["expr"] and "> 3\n" in ticket["expr"]
    assert "ratio_rate3d" in ticket["expr"] and "ratio_rate6h" in ticket["expr"] and "> 1\n" in ticket["expr"]
    for rule, severity in ((page, "page"), (ticket, "ticket")):
        assert rule["alert"] == "ErrorBudgetBurn"
        assert rule["labels"] == {"severity": severity, "service": "checkout", "slo": "checkout-availability"}
        assert rule["annotations"]["runbook_url"] == "docs/runbooks.md#slo-burn"
        assert '{{ printf "%.1f" $value }}x' in rule["annotations"]["description"]
        assert "99.9% over 30d" in rule["annotations"]["description"]
    assert "14.4x over 1h and 5m, or 6x over 6h and 30m" in page["annotations"]["description"]


def test_budget_group_records_objective_budget_window_and_the_whole_windows_ratio() -> None:
    """Constant series a dashboard divides by, and the 28-day SLO's ratio over 28 days."""
    selector = '{service="checkout", slo="checkout-availability"}'
    for days in (30, 28):
        group = rule_document(_slo(objective=0.995, window_days=days))["groups"][2]
        assert group["name"] == "slo-checkout-availability-budget"
        assert [(r["record"], r["expr"]) for r in group["rules"]] == [
            ("slo:objective:ratio", "vector(0.995)"),
            ("slo:error_budget:ratio", "vector(0.005)"),
            ("slo:time_period:days", f"vector({days})"),
            (
                "slo:sli_error:rate5m",
                f"({ERRORS.replace(WINDOW, '5m')})\nor on()\n({TOTAL.replace(WINDOW, '5m')}) * 0",
            ),
            ("slo:sli_total:rate5m", TOTAL.replace(WINDOW, "5m")),
            # Bad over all events in the window, not the mean of the 5-minute ratios (NaN when idle).
            (
                f"slo:sli_error:ratio_rate{days}d",
                f"sum_over_time(slo:sli_error:rate5m{selector}[{days}d])\n/\n"
                f"sum_over_time(slo:sli_total:rate5m{selector}[{days}d])",
            ),
        ]
        assert all(
            r["labels"] == {"service": "checkout", "slo": "checkout-availability"} for r in group["rules"]
        )


def test_budget_remaining_and_burn_rate_queries_read_any_supported_window() -> None:
    matchers = 'service="$service", slo="$slo"'
    assert (
        period_ratio(matchers)
        == '{__name__=~"slo:sli_error:ratio_rate(28d|30d)", service="$service", slo="$slo"}'
    )
    assert budget_remaining(matchers) == (
        f"1 - ({period_ratio(matchers)} / on(service, slo) slo:error_budget:ratio{{{matchers}}})"
    )
    assert burn_rate("1h", matchers) == (
        f"slo:sli_error:ratio_rate1h{{{matchers}}} / on(service, slo) slo:error_budget:ratio{{{matchers}}}"
    )


def test_label_values_are_quoted_as_promql_strings() -> None:
    rules = rule_document(_slo(service='we"ird\\svc'))["groups"][1]["rules"]
    assert 'service="we\\"ird\\\\svc"' in rules[0]["expr"]


def test_unit_tests_burn_at_20x_and_sum_busy_idle_and_quiet_minutes_for_the_budget() -> None:
    doc = unit_test_document(_slo())
    assert doc["rule_files"] == ["../checkout-availability.slo.rules.yml"]
    fast, slow = doc["tests"]
    assert {s["values"] for s in fast["input_series"]} == {"0.02x25"}
    ratios = [s for s in slow["input_series"] if "ratio_rate" in s["series"]]
    assert {s["values"] for s in ratios} == {"0.0005x25"}
    # The 5-minute rates the window's ratio sums: 10 busy minutes at 0.05 %, 5 idle, 6 quiet at 0.5 %.
    rates = {
        s["series"].split("{")[0]: s["values"]
        for s in slow["input_series"]
        if "ratio_rate" not in s["series"]
    }
    assert rates == {"slo:sli_error:rate5m": "0.5x9 0x4 0.05x5", "slo:sli_total:rate5m": "1000x9 0x4 10x5"}
    before, paged, both = fast["alert_rule_test"]
    assert before["exp_alerts"] == [] and before["eval_time"] == "1m"  # pending inside `for: 2m`
    assert [a["exp_labels"]["severity"] for a in paged["exp_alerts"]] == ["page"]
    assert [a["exp_labels"]["severity"] for a in both["exp_alerts"]] == ["page", "ticket"]
    assert "at 20.0x the sustainable rate" in paged["exp_alerts"][0]["exp_annotations"]["description"]
    assert slow["alert_rule_test"][0]["exp_alerts"] == []
    # Bad over all events: (10 x 0.5 + 6 x 0.05) / (10 x 1000 + 6 x 10) = 5.3 / 10,060 = 0.000527,
    # 0.527x the budget, which leaves 0.473 of it. The mean of the ratios would be NaN (0/0 idle)
    # or, idle minutes left out, (10 x 0.0005 + 6 x 0.005) / 16 = 0.0021875: overspent. The constants
    # read as configured.
    checked = {t["expr"].split("{")[0]: t["exp_samples"][0]["value"] for t in slow["promql_expr_test"]}
    assert checked == {
        "slo:objective:ratio": 0.999,
        "slo:error_budget:ratio": 0.001,
        "slo:time_period:days": 30.0,
        "slo:sli_error:ratio_rate30d": pytest.approx(5.3 / 10_060, rel=1e-12),
        "1 - (": pytest.approx(1 - 5.3 / 10_060 / 0.001, rel=1e-12),
    }


def test_the_files_are_yaml_of_the_documents_marked_generated() -> None:
    slo = _slo()
    for text, document in (
        (rule_file(slo), rule_document(slo)),
        (unit_test_file(slo), unit_test_document(slo)),
    ):
        assert text.startswith("# Generated by `monitor slo generate`")
        assert yaml.safe_load(text) == document
        assert "&id" not in text  # no YAML anchors in what a reviewer reads


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"good": TOTAL}, "exactly one of errors and good"),
        ({"errors": None}, "exactly one of errors and good"),
        ({"objective": 1.0}, "not between 0 and 1"),
        ({"window_days": 7}, "not one of 28d, 30d"),
        ({"total": "sum(rate(x_total[5m]))"}, "has no {{.window}}"),
    ],
)
def test_an_slo_built_directly_is_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("(", r"\(")):
        _slo(**changes)


def test_the_recorded_rates_are_events_a_second_whatever_the_sli() -> None:
    """A good-events SLI's bad events a second are total - good (all of them when no good series);
    a profile check's templates count events over 5 minutes (increase): divided by its 300 s."""
    good = TOTAL.replace("checkout", "good")
    rules = rule_document(_slo(errors=None, good=good))["groups"][2]["rules"]
    errors = next(r for r in rules if r["record"] == "slo:sli_error:rate5m")
    five = TOTAL.replace(WINDOW, "5m")
    assert errors["expr"] == f"(({five}) - ({good.replace(WINDOW, '5m')}))\nor on()\n({five})"
    counted = 'sum(increase(c{service_name="checkout"}[{{.window}}]))'
    check = SliCheck("otel-http", "http_error_ratio", "unused", "unused")
    rules = rule_document(_slo(errors=counted, total=counted, from_check=check))["groups"][2]["rules"]
    total = next(r for r in rules if r["record"] == "slo:sli_total:rate5m")
    assert total["expr"] == '(sum(increase(c{service_name="checkout"}[5m]))) / 300'
