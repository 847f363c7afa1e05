"""The deployments dashboard: what is being judged now, the verdicts of the time range, rollbacks."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitor.grafana.dashboards.common import (
    UIDS,
    VERDICT_COLORS,
    Board,
    PanelBuilder,
    deploy_annotations,
    label_values_variable,
    verdict_mappings,
)
from monitor.grafana.dashboards.counters import grown
from monitor.grafana.dashboards.panels import big_number, fixed_color, graph, query, table_of

STEM = "deployments"

SELECTED = 'environment=~"$environment", service=~"$service"'
# Verdicts are rare (a few per service and day): rates over the rate interval would be mostly
# gaps, so the panels over time count them over a sliding hour.
VERDICT_WINDOW = "1h"
# Every replica exports the database's gauges (monitor_deployment_verdict, monitor_deployments):
# take the max across replicas, never the sum.
CURRENT = f"max by (service, environment, version, verdict) (monitor_deployment_verdict{{{SELECTED}}})"
STATUS_COLORS = {"pending": "light-blue", **VERDICT_COLORS}
DETAIL_LINK = (
    f"/d/{UIDS['deployment-detail']}/deployment-detail?var-service=${{__data.fields.service}}"
    "&var-environment=${__data.fields.environment}&var-version=${__data.fields.version}"
    "&${datasource:queryparam}&${__url_time_range}"
)


def build() -> dict[str, object]:
    """The dashboard's JSON model."""
    board = Board(
        STEM,
        "Deploy monitor: deployments",
        "Deployments the monitor judges: current verdicts, final verdicts over time, time to verdict, "
        "rollbacks and the inconclusive rate.",
        "now-24h",
    )
    board.variable(
        label_values_variable(
            "environment", "Environment", "label_values(monitor_deployment_verdict, environment)", multi=True
        )
    )
    board.variable(
        label_values_variable(
            "service",
            "Service",
            'label_values(monitor_deployment_verdict{environment=~"$environment"}, service)',
            multi=True,
        )
    )
    for annotation in deploy_annotations():
        board.annotation(annotation)
    board.row("Now")
    board.add(*_summary())
    board.row("Deployments")
    board.add(*_tables())
    board.row("Over time")
    board.add(*_history())
    return board.to_dict()


def _summary() -> list[PanelBuilder]:
    current = big_number(
        "Current verdicts",
        "Newest deployment of each selected service and environment, by verdict (running while it is "
        "pending or analysed).",
        [query(f"count by (verdict) ({CURRENT})", "{{verdict}}", instant=True)],
    )
    by_status = big_number(
        "Deployments by status",
        "The newest 200 deployments of every service and environment, by status (not filtered).",
        [query("max by (status) (monitor_deployments)", "{{status}}", instant=True)],
    )
    finals = big_number(
        "Final verdicts in the time range",
        "Final verdicts reached in the dashboard's time range.",
        [
            query(
                f"sum by (verdict) {grown(f'monitor_verdicts_total{{{SELECTED}}}', '$__range')}",
                "{{verdict}}",
                instant=True,
            )
        ],
    ).decimals(0)
    for panel in (current, by_status, finals):
        for status, color in STATUS_COLORS.items():
            panel.override_by_name(status, fixed_color(color))
    inconclusive = big_number(
        "Inconclusive (time range)",
        "Share of the final verdicts of the time range that were inconclusive (too little data, or "
        "a source failing).",
        [query(_inconclusive_share("$__range", ""), "inconclusive", instant=True)],
        unit="percentunit",
        width=3,
    )
    rollbacks = big_number(
        "Rollbacks (time range)",
        "Rollback actions in the time range, by outcome (done, dry_run, failed).",
        [
            query(
                f"sum by (outcome) {grown(f'monitor_rollbacks_total{{{SELECTED}}}', '$__range')}",
                "{{outcome}}",
                instant=True,
            )
        ],
        width=3,
    ).decimals(0)
    return [current, by_status, finals, inconclusive, rollbacks]


def _inconclusive_share(window: str, by: str) -> str:
    """Inconclusive final verdicts per final verdict; 0 (not a gap) where none was inconclusive."""
    grouping = f" by ({by})" if by else ""
    inconclusive = f"sum{grouping} " + grown(
        f'monitor_verdicts_total{{{SELECTED}, verdict="inconclusive"}}', window
    )
    total = f"sum{grouping} " + grown(f"monitor_verdicts_total{{{SELECTED}}}", window)
    return f"({inconclusive} or 0 * {total}) / {total}"


def _tables() -> list[PanelBuilder]:
    columns = ["service", "environment", "version", "verdict"]
    link = sdk.DashboardLink("Deployment detail").url(DETAIL_LINK)
    current = table_of(
        "Running and current deployments",
        "The newest deployment of each service and environment and its verdict; click a row for the "
        "deployment's detail.",
        query(CURRENT, instant=True, fmt=PromQueryFormat.TABLE),
        columns,
    )
    recent = table_of(
        "Recent final verdicts",
        "Deployments that reached a final verdict in the time range (while they were the newest of their "
        "service and environment).",
        query(
            "max by (service, environment, version, verdict) "
            f'(max_over_time(monitor_deployment_verdict{{{SELECTED}, verdict!="running"}}[$__range]))',
            instant=True,
            fmt=PromQueryFormat.TABLE,
        ),
        columns,
    )
    for panel in (current, recent):
        panel.mappings(verdict_mappings()).data_links([link]).override_by_name(
            "verdict",
            [
                model.DynamicConfigValue(
                    id_val="custom.cellOptions", value=common.TableColoredBackgroundCellOptions()
                )
            ],
        )
    return [current, recent]


def _history() -> list[PanelBuilder]:
    verdicts = graph(
        "Final verdicts by service and environment",
        "Final verdicts per interval, by verdict, service and environment.",
        [
            query(
                "sum by (verdict, service, environment) "
                + grown(f"monitor_verdicts_total{{{SELECTED}}}", "$__interval"),
                "{{verdict}} {{service}} {{environment}}",
            )
        ],
        bars=True,
        stacked=True,
        min_interval="5m",
    )
    for verdict, color in VERDICT_COLORS.items():
        verdicts.override_by_regexp(f"^{verdict} .*", fixed_color(color))
    time_to_verdict = graph(
        "Time to verdict",
        f"From a deploy's start to its final verdict, by environment, over the preceding {VERDICT_WINDOW}.",
        [
            query(
                f"histogram_quantile({q:g}, sum by (le, environment) "
                + grown('monitor_time_to_verdict_seconds_bucket{environment=~"$environment"}', VERDICT_WINDOW)
                + ")",
                f"p{q * 100:g} {{{{environment}}}}",
                ref_id=f"p{q * 100:g}",
            )
            for q in (0.5, 0.9, 0.99)
        ],
        unit="s",
    )
    rollbacks = graph(
        "Rollbacks over time",
        "Rollback actions per interval, by service, environment, action and outcome.",
        [
            query(
                "sum by (service, environment, action, outcome) "
                + grown(f"monitor_rollbacks_total{{{SELECTED}}}", "$__interval"),
                "{{service}} {{environment}} {{action}} {{outcome}}",
            )
        ],
        bars=True,
        stacked=True,
        min_interval="5m",
    )
    inconclusive = graph(
        "Inconclusive rate by environment",
        f"Share of the final verdicts of the preceding {VERDICT_WINDOW} that were inconclusive, "
        "by environment.",
        [query(_inconclusive_share(VERDICT_WINDOW, "environment"), "{{environment}}")],
        unit="percentunit",
    )
    return [verdicts, time_to_verdict, rollbacks, inconclusive]
