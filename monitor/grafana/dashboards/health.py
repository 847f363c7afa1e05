"""The monitor health dashboard: is the monitor up, evaluating on time, delivering and receiving?

The panels follow the alert rules of ``alert_rules/deploy-monitor.rules.yml``: what pages has a
panel that shows it coming.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.models import dashboard as model

from monitor.grafana.dashboards.common import Board, PanelBuilder
from monitor.grafana.dashboards.panels import alert_line, big_number, graph, query

STEM = "monitor-health"
JOB = "deploy-monitor"
# Where alert rules fire, drawn as lines on the panels that show them coming.
LAG_ALERT_S = 60  # DeployMonitorLagging: p99 evaluation lag
SOURCE_ERRORS_ALERT = 0.1  # DeployMonitorSourceErrors: errors per look of one check
OUTBOX_AGE_ALERT_S = 600  # DeployMonitorDeliveryFailing: oldest undelivered notification


def build() -> dict[str, object]:
    """The dashboard's JSON model."""
    board = Board(
        STEM,
        "Deploy monitor: health",
        "The deployment health monitor itself: scrape and component status, evaluation lag and "
        "duration, source errors, the outbox, lease takeovers and the OTLP receiver.",
        "now-6h",
    )
    board.row("Status")
    board.add(*_status())
    board.row("Engine")
    board.add(*_engine())
    board.row("Outbox and deliveries")
    board.add(*_outbox())
    board.row("OTLP receiver")
    board.add(*_otlp())
    return board.to_dict()


def _up_mappings() -> list[model.ValueMapping]:
    return [
        model.ValueMap(
            options={
                "0": model.ValueMappingResult(text="DOWN", color="red", index=0),
                "1": model.ValueMappingResult(text="UP", color="green", index=1),
            }
        )
    ]


def _status() -> list[PanelBuilder]:
    up = [
        ("Scraped", "Prometheus reaches the monitor's /metrics (job deploy-monitor).", f'up{{job="{JOB}"}}'),
        ("Engine up", "The engine's process answered the last scrape of each replica.", "monitor_engine_up"),
        ("Store up", "The last read of the database succeeded, per replica.", "monitor_store_up"),
    ]
    panels: list[PanelBuilder] = [
        big_number(title, description, [query(expr, "{{instance}}", instant=True)]).mappings(_up_mappings())
        for title, description, expr in up
    ]
    # Every replica exports the database's gauges: the max across replicas, never the sum.
    panels.append(
        big_number(
            "Deployments in analysis",
            "Pending and running deployments (of the newest 200).",
            [
                query(
                    'sum(max by (status) (monitor_deployments{status=~"pending|running"}))',
                    "in analysis",
                    instant=True,
                )
            ],
        )
    )
    return panels


def _engine() -> list[PanelBuilder]:
    lag = graph(
        "Evaluation lag",
        "How late looks run after they are due; DeployMonitorLagging fires when p99 stays above "
        f"{LAG_ALERT_S} s.",
        [_quantile("monitor_evaluation_lag_seconds", q) for q in (0.5, 0.99)],
        unit="s",
        width=8,
    )
    lag = alert_line(lag, LAG_ALERT_S)
    duration = graph(
        "Look duration",
        "Wall time of one look (all of a deployment's queries and judges).",
        [_quantile("monitor_evaluation_duration_seconds", q) for q in (0.5, 0.99)],
        unit="s",
        width=8,
    )
    evaluations = graph(
        "Evaluations by outcome",
        "Looks per second, recorded or retried (a retried look failed and runs again).",
        [query("sum by (outcome) (rate(monitor_evaluations_total[$__rate_interval]))", "{{outcome}}")],
        unit="ops",
        width=8,
    )
    errors = graph(
        "Source errors by check",
        "Share of looks in which a check errored (its backend failed to answer), by check; "
        f"DeployMonitorSourceErrors fires above {SOURCE_ERRORS_ALERT:.0%}.",
        [
            query(
                "sum by (check) (rate(monitor_source_errors_total[$__rate_interval]))"
                " / ignoring (check) group_left sum(rate(monitor_evaluations_total[$__rate_interval]))",
                "{{check}}",
            )
        ],
        unit="percentunit",
    )
    errors = alert_line(errors, SOURCE_ERRORS_ALERT)
    takeovers = graph(
        "Lease takeovers",
        "Deployments taken over from a replica whose lease expired (a replica died or stalled).",
        [query("sum(increase(monitor_lease_takeovers_total[$__interval]))", "takeovers")],
        bars=True,
        min_interval="5m",
    )
    return [lag, duration, evaluations, errors, takeovers]


def _quantile(histogram: str, q: float) -> prometheus.Dataquery:
    return query(
        f"histogram_quantile({q:g}, sum by (le) (rate({histogram}_bucket[$__rate_interval])))",
        f"p{q * 100:g}",
        f"p{q * 100:g}",
    )


def _outbox() -> list[PanelBuilder]:
    backlog = graph(
        "Outbox backlog",
        "Undelivered notifications (webhooks, annotations, alerts, rollback actions).",
        [query("max(monitor_outbox_backlog)", "undelivered")],
        width=8,
    )
    oldest = graph(
        "Oldest undelivered notification",
        "Age of the oldest undelivered notification: growing means a channel keeps failing; "
        f"DeployMonitorDeliveryFailing fires above {OUTBOX_AGE_ALERT_S} s.",
        [query("max(monitor_outbox_oldest_age_seconds)", "oldest")],
        unit="s",
        width=8,
    )
    oldest = alert_line(oldest, OUTBOX_AGE_ALERT_S)
    deliveries = graph(
        "Deliveries by channel and outcome",
        "Delivery attempts per second, by channel and outcome (delivered, failed, abandoned: "
        "DeployMonitorDeliveryAbandoned fires on any).",
        [
            query(
                "sum by (channel, outcome) (rate(monitor_deliveries_total[$__rate_interval]))",
                "{{channel}} {{outcome}}",
            )
        ],
        unit="ops",
        width=8,
    )
    return [backlog, oldest, deliveries]


def _otlp() -> list[PanelBuilder]:
    requests = graph(
        "OTLP requests by signal and code",
        "Export requests per second to the receiver (/v1/logs, /v1/traces), by signal and HTTP status.",
        [
            query(
                "sum by (signal, code) (rate(monitor_otlp_requests_total[$__rate_interval]))",
                "{{signal}} {{code}}",
            )
        ],
        unit="reqps",
    )
    records = graph(
        "OTLP records accepted and rejected",
        "Log records and spans per second, accepted or rejected, by signal.",
        [
            query(
                "sum by (signal, outcome) (rate(monitor_otlp_records_total[$__rate_interval]))",
                "{{signal}} {{outcome}}",
            )
        ],
        unit="ops",
    )
    return [requests, records]
