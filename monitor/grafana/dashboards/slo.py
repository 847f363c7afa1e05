"""The SLO dashboard: one SLO's error budget, its burn rate by window and its error ratio.

It reads the series the SLO rules record (:mod:`monitor.slo.rules`, ``monitor slo generate``, the
chart's PrometheusRule): the error ratios ``slo:sli_error:ratio_rate<w>``, the constant
``slo:objective:ratio`` (the pickers' list of SLOs), ``slo:error_budget:ratio`` and
``slo:time_period:days``, and the ratio over the whole SLO window. So
it shows any SLO whose rules Prometheus evaluates, whatever its SLI, objective or window, and the
alert thresholds are drawn per SLO (a 28-day SLO's page fires at 13.44x, a 30-day one's at 14.4x).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitor.grafana.dashboards.common import Board, PanelBuilder, label_values_variable
from monitor.grafana.dashboards.panels import (
    big_number,
    field_color,
    fixed_color,
    graph,
    query,
    table_of,
    thresholds,
)
from monitor.slo.rules import (
    ALERT_NAME,
    BURN_ALERTS,
    ERROR_BUDGET_RECORD,
    OBJECTIVE_RECORD,
    PERIOD_DAYS_RECORD,
    RECORDED_WINDOWS,
    budget_remaining,
    burn_factor,
    burn_rate,
    burn_threshold,
    record_name,
)

STEM = "slo"
MATCHERS = 'service="$service", slo="$slo"'
BURN_UNIT = "suffix:x"  # a multiple of the sustainable error rate
SEVERITY_COLORS = {"page": "red", "ticket": "orange"}
# The ratio windows the error ratio panel shows: short, medium, long (all are on the burn panel).
RATIO_WINDOWS = ("5m", "1h", "1d")


def build() -> dict[str, object]:
    """The dashboard's JSON model."""
    board = Board(
        STEM,
        "Deploy monitor: SLOs",
        "One SLO of a service: the error budget left over the SLO's window, the burn rate over each "
        "window the ErrorBudgetBurn alerts read, with the rates they fire at, and the SLI's error "
        "ratio. From the recording rules of monitor slo generate.",
        "now-7d",
    )
    # The constant objective lists every SLO whose rules Prometheus evaluates, traffic or not; an
    # error ratio would drop a service the moment its SLI has no series to divide.
    source = OBJECTIVE_RECORD
    board.variable(label_values_variable("service", "Service", f"label_values({source}, service)"))
    board.variable(label_values_variable("slo", "SLO", f'label_values({source}{{service="$service"}}, slo)'))
    board.row("Error budget")
    board.add(*_budget())
    board.row("Burn rate")
    board.add(*_burn())
    board.row("Error ratio")
    board.add(*_ratio())
    return board.to_dict()


def _budget() -> list[PanelBuilder]:
    remaining = budget_remaining(MATCHERS)
    return [
        big_number(
            "Error budget remaining",
            "The share of the error budget left over the SLO's window: 1 - (error ratio over the window "
            "/ error budget). 100 % untouched, 0 % spent, below 0 overspent.",
            [query(remaining, "remaining", instant=True)],
            unit="percentunit",
        )
        .decimals(1)
        .thresholds(thresholds((None, "red"), (0, "orange"), (0.25, "green"))),
        big_number(
            "Objective",
            "The share of events that must be good over the SLO's window.",
            [query(f"{OBJECTIVE_RECORD}{{{MATCHERS}}}", "objective", instant=True)],
            unit="percentunit",
        )
        .decimals(3)
        .color_scheme(field_color("text")),
        big_number(
            "SLO window",
            "The rolling window the objective and the budget hold over.",
            [query(f"{PERIOD_DAYS_RECORD}{{{MATCHERS}}}", "days", instant=True)],
            unit="d",
        ).color_scheme(field_color("text")),
        big_number(
            "Burn rate (1h)",
            "The error ratio of the last hour over the error budget: 1x spends the budget exactly over "
            "the window; the fast-burn page fires above 14.4x (30 days).",
            [query(burn_rate("1h", MATCHERS), "1h", instant=True)],
            unit=BURN_UNIT,
        )
        .decimals(2)
        .thresholds(thresholds((None, "green"), (1, "orange"), (_page_factor(), "red"))),
        graph(
            "Error budget remaining over the SLO window",
            "At each time, the share of the budget left over the SLO's window ending then.",
            [query(remaining, "remaining")],
            unit="percentunit",
            width=24,
        ),
    ]


def _page_factor() -> float:
    """The fastest page's burn rate for a 30-day window (the stat's red threshold)."""
    return burn_factor(BURN_ALERTS[0], 30)


def _burn() -> list[PanelBuilder]:
    rates = [query(burn_rate(window, MATCHERS), window, window) for window in RECORDED_WINDOWS]
    lines = [
        query(
            burn_threshold(alert, MATCHERS),
            f"{alert.severity} at ({alert.long_window} and {alert.short_window})",
            f"{alert.severity}-{alert.long_window}",
        )
        for alert in BURN_ALERTS
    ]
    panel = graph(
        "Burn rate by window",
        f"The error ratio over each window divided by the error budget. {ALERT_NAME} fires when a long "
        "window and its short one are both above the dashed line of their pair (the SRE workbook's "
        "multi-window multi-burn-rate alerts): red lines page, orange lines open a ticket.",
        [*rates, *lines],
        unit=BURN_UNIT,
        width=24,
        height=10,
    )
    for alert in BURN_ALERTS:
        panel = panel.override_by_query(
            f"{alert.severity}-{alert.long_window}",
            [*fixed_color(SEVERITY_COLORS[alert.severity]), *_dashed()],
        )
    return [panel, _firing()]


def _dashed() -> list[model.DynamicConfigValue]:
    return [model.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]})]


def _firing() -> PanelBuilder:
    alerts = f'ALERTS{{alertname="{ALERT_NAME}", service="$service"}}'
    return table_of(
        f"{ALERT_NAME} alerts of the service",
        "Pending and firing burn alerts of every SLO of the service, as Prometheus evaluates the "
        "generated rules (ALERTS); empty when none burns, or when only Grafana evaluates them.",
        query(alerts, instant=True, fmt=PromQueryFormat.TABLE),
        ["slo", "severity", "alertstate"],
        width=24,
        height=6,
    )


def _ratio() -> list[PanelBuilder]:
    ratios = [query(f"{record_name(window)}{{{MATCHERS}}}", window, window) for window in RATIO_WINDOWS]
    budget = query(f"{ERROR_BUDGET_RECORD}{{{MATCHERS}}}", "error budget", "budget")
    panel = graph(
        "SLI error ratio",
        "The share of bad events over 5 minutes, an hour and a day, against the error budget (dashed): "
        "above it, the budget is spent faster than the window allows.",
        [*ratios, budget],
        unit="percentunit",
        width=24,
    )
    return [panel.override_by_query("budget", [*fixed_color("red"), *_dashed()])]
