"""The deployment detail dashboard: one service's canary against its baseline, check by check.

The panels are generated from the profile's checks (the default profile unless told), with the
queries the engine runs rendered for Grafana (see :mod:`.promql`): a new check in the profile gets
its panels at the next ``python -m monitor.grafana.dashboards``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitor.grafana.dashboards import promql
from monitor.grafana.dashboards.common import (
    Board,
    PanelBuilder,
    deploy_annotations,
    label_values_variable,
    verdict_mappings,
)
from monitor.grafana.dashboards.panels import (
    big_number,
    bucket_heatmap,
    field_color,
    fixed_color,
    grafana_unit,
    graph,
    markdown,
    query,
)
from monitor.models import ComparisonKind
from monitor.profiles import CheckSpec, Profile
from monitor.reportlinks import EXPIRES_PARAMETER, SIGNATURE_PARAMETER, report_path

STEM = "deployment-detail"
# The report of the deployment these variables show: the report's link here sets both variables
# (var-deployment, var-monitor_url); the monitor's default address until it does.
MONITOR_URL_VARIABLE, DEPLOYMENT_VARIABLE = "monitor_url", "deployment"
# A report opened by a signed link passes its expiry and signature (hidden variables), so the way
# back opens in a browser without a token too; empty, the link is the plain address.
EXPIRES_VARIABLE, SIGNATURE_VARIABLE = "report_exp", "report_sig"
DEFAULT_MONITOR_URL = "http://127.0.0.1:8080"
REPORT_LINK = (
    f"${{{MONITOR_URL_VARIABLE}}}{report_path(f'${{{DEPLOYMENT_VARIABLE}}}')}"
    f"?{EXPIRES_PARAMETER}=${{{EXPIRES_VARIABLE}}}&{SIGNATURE_PARAMETER}=${{{SIGNATURE_VARIABLE}}}"
)
# The monitor's backtest of the service: how its profile judged the last 30 days (JSON, read scope).
BACKTEST_LINK = f"${{{MONITOR_URL_VARIABLE}}}/api/v1/services/${{service}}/backtest?since=30d"
CANARY_COLOR = "orange"
BASELINE_COLOR = "blue"
CURRENT = (
    'max by (version, verdict) (monitor_deployment_verdict{service="$service", environment="$environment"})'
)


def build(profile: Profile) -> dict[str, object]:
    """The dashboard's JSON model for ``profile``'s checks."""
    board = Board(
        STEM,
        "Deploy monitor: deployment detail",
        f"One service's canary ($version) against its baseline ($baseline), check by check, with the "
        f"queries of the {profile.name} profile; deploy and verdict annotations of the service.",
        "now-3h",
    )
    for variable in _variables(profile):
        board.variable(variable)
    for text in _report_variables():
        board.variable(text)
    board.builder.link(report_link())
    board.builder.link(backtest_link())
    for annotation in deploy_annotations("service:$service"):
        board.annotation(annotation)
    board.row("Verdict")
    board.add(*_verdict(profile))
    for check in promql.metric_checks(profile):
        board.row(f"{check.name}: {check.description}" if check.description else check.name)
        board.add(*check_panels(check, profile))
    return board.to_dict()


def _variables(profile: Profile) -> list[sdk.QueryVariable]:
    metric = promql.selected_metric(profile)
    service, version = profile.labels.service, profile.labels.version
    versions = f'label_values({metric}{{{service}="$service"}}, {version})'
    return [
        label_values_variable("service", "Service", f"label_values({metric}, {service})"),
        label_values_variable(
            "environment",
            "Environment",
            'label_values(monitor_deployment_verdict{service="$service"}, environment)',
        ),
        # Newest-looking version first for the canary, oldest first for the baseline: a guess the
        # deployments table's links replace with the deployment's own version.
        label_values_variable(
            promql.CANARY_VARIABLE, "Canary version", versions, sort=model.VariableSort.NATURAL_DESC
        ),
        label_values_variable(
            promql.BASELINE_VARIABLE, "Baseline version", versions, sort=model.VariableSort.NATURAL_ASC
        ),
    ]


def _report_variables() -> list[sdk.TextBoxVariable]:
    return [
        sdk.TextBoxVariable(DEPLOYMENT_VARIABLE)
        .label("Deployment id")
        .description("The monitor's deployment id: the Verdict report link opens its report"),
        sdk.TextBoxVariable(MONITOR_URL_VARIABLE)
        .label("Monitor URL")
        .description("The monitor as users reach it (its public_url)")
        .default_value(DEFAULT_MONITOR_URL),
        *(
            sdk.TextBoxVariable(name).hide(model.VariableHide.HIDE_VARIABLE).description(description)
            for name, description in (
                (EXPIRES_VARIABLE, "The expiry of the signed report link the report came from"),
                (SIGNATURE_VARIABLE, "The signature of the signed report link the report came from"),
            )
        ),
    ]


def report_link() -> sdk.DashboardLink:
    """The link to the monitor's report of the deployment in ``$deployment``, in a new tab."""
    return (
        sdk.DashboardLink("Verdict report")
        .type(model.DashboardLinkType.LINK)
        .url(REPORT_LINK)
        .tooltip("The monitor's report of this deployment: every check's looks, the actions taken")
        .icon("doc")
        .target_blank(True)
    )


def backtest_link() -> sdk.DashboardLink:
    """The link to the monitor's backtest of ``$service`` over the last 30 days, in a new tab."""
    return (
        sdk.DashboardLink("Backtest")
        .type(model.DashboardLinkType.LINK)
        .url(BACKTEST_LINK)
        .tooltip(
            "How the profile would have judged this service's deploys of the last 30 days, and how "
            "often it alarms on the service's own noise (JSON; docs/backtest.md)"
        )
        .icon("info")
        .target_blank(True)
    )


def _verdict(profile: Profile) -> list[PanelBuilder]:
    current = query(CURRENT, instant=True, fmt=PromQueryFormat.TABLE)
    verdict = big_number(
        "Current verdict",
        "The verdict of the newest deployment of $service in $environment (running while it is pending "
        "or analysed).",
        [current],
        fields="/^verdict$/",
        width=4,
    ).mappings(verdict_mappings())
    version = big_number(
        "Version under analysis",
        "The version of the newest deployment of $service in $environment.",
        [query(CURRENT, instant=True, fmt=PromQueryFormat.TABLE)],
        fields="/^version$/",
        width=4,
    ).color_scheme(field_color("text"))
    return [
        verdict,
        version,
        markdown("Checks from logs and traces", _log_and_trace_note(profile), width=16, height=5),
    ]


def _log_and_trace_note(profile: Profile) -> str:
    checks = promql.log_and_trace_checks(profile)
    if not checks:
        return f"Every check of the {profile.name} profile comes from Prometheus."
    rows = "\n".join(f"| `{c.name}` | {c.signal.value} | {c.description} |" for c in checks)
    return (
        f"These checks of the {profile.name} profile are judged from the logs and spans the services send "
        "to the monitor's OTLP receiver (`POST /v1/logs`, `/v1/traces`), or pulls from Loki, Tempo or "
        "Jaeger when configured (`logs_from`, `traces_from`): they are not in Prometheus. "
        "Their results and evidence (log templates, exemplar traces) appear in the verdict report "
        "(`GET /api/v1/deployments/{id}/report`).\n\n"
        f"| check | signal | what it compares |\n|---|---|---|\n{rows}\n"
    )


def check_panels(check: CheckSpec, profile: Profile) -> list[PanelBuilder]:
    """The panels of one metrics check: canary against baseline, rendered from its templates."""
    canary = promql.version_matchers(profile, promql.CANARY_VARIABLE)
    baseline = promql.version_matchers(profile, promql.BASELINE_VARIABLE)
    unit = grafana_unit(check.unit)
    about = _about(check, profile)
    if promql.is_traffic(check):
        share = query(promql.canary_share(check, profile), "canary share", "canary")
        panel = graph(f"{check.name}: canary share", about, [share], unit=unit, width=24)
        return [panel.override_by_query("canary", fixed_color(CANARY_COLOR))]
    if check.comparison is ComparisonKind.COUNTS:
        return [_versus(f"{check.name}: canary vs baseline", about, unit, promql.ratio, check, profile)]
    if check.comparison is ComparisonKind.SAMPLES:
        return [_versus(f"{check.name}: canary vs baseline", about, unit, promql.series, check, profile)]
    width = max(6, 24 // max(1, len(check.quantiles)))
    panels: list[PanelBuilder] = [
        _versus(
            f"{check.name}: p{q * 100:g} canary vs baseline",
            about,
            unit,
            promql.quantile_of(q),
            check,
            profile,
            width=width,
        )
        for q in check.quantiles
    ]
    for name, matchers in (("canary", canary), ("baseline", baseline)):
        target = query(promql.buckets(check, profile, matchers), "{{le}}", name, fmt=PromQueryFormat.HEATMAP)
        panels.append(bucket_heatmap(f"{check.name}: {name} buckets", about, target, unit=unit))
    return panels


def _versus(
    title: str,
    about: str,
    unit: str,
    render: promql.Renderer,
    check: CheckSpec,
    profile: Profile,
    *,
    width: int = 24,
) -> PanelBuilder:
    targets = [
        query(render(check, profile, promql.version_matchers(profile, variable)), name, name)
        for name, variable in (("canary", promql.CANARY_VARIABLE), ("baseline", promql.BASELINE_VARIABLE))
    ]
    return (
        graph(title, about, targets, unit=unit, width=width)
        .override_by_query("canary", fixed_color(CANARY_COLOR))
        .override_by_query("baseline", fixed_color(BASELINE_COLOR))
    )


def _about(check: CheckSpec, profile: Profile) -> str:
    role = "critical" if check.critical else f"weight {check.weight:g}"
    if promql.is_traffic(check):
        role = "traffic split (not judged as a regression)"
    else:
        role += f", fails beyond an effect of {check.allowed_effect:g} ({check.direction.value})"
    return (
        f"{check.description or check.name}: {check.comparison.value} check of the {profile.name} profile, "
        f"{role}. Queries rendered from the profile's templates with $window = $__rate_interval."
    )
