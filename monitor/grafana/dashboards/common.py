"""What the dashboards share: the data-source variable, links, annotations and the board builder.

Every panel and query reads the data source chosen in the ``datasource`` variable, so one import
works against any Prometheus; panels are numbered and placed in the order they are added.
"""

from __future__ import annotations

import json
from typing import cast

from grafana_foundation_sdk.builders import bargauge, heatmap, stat, table, text, timeseries
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

TAG = "deploy-monitor"
"""The tag of the dashboards (their links list every dashboard carrying it) and of the
annotations the daemon writes."""

UIDS = {
    "deployments": "deploy-monitor-deployments",
    "deployment-detail": "deploy-monitor-detail",
    "monitor-health": "deploy-monitor-health",
    "slo": "deploy-monitor-slo",
}
"""Stable uids by file stem: links and bookmarks survive re-imports."""

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VARIABLE + "}")
GRAFANA_ANNOTATIONS = model.DataSourceRef(type_val="grafana", uid="-- Grafana --")

# Colours of the verdicts, used by tables, stats and the verdict annotations alike.
VERDICT_COLORS = {
    "pass": "green",
    "marginal": "orange",
    "fail": "red",
    "inconclusive": "purple",
    "running": "blue",
    "cancelled": "text",
}

PanelBuilder = timeseries.Panel | stat.Panel | table.Panel | heatmap.Panel | text.Panel | bargauge.Panel


class Board:
    """A dashboard under construction with the project's defaults.

    Panels get unique ids in the order they are added and the ``$datasource`` data source; the
    SDK places them left to right, wrapping at 24 columns.
    """

    def __init__(self, stem: str, title: str, description: str, time_from: str) -> None:
        self._next_id = 1
        self.builder = (
            sdk.Dashboard(title)
            .uid(UIDS[stem])
            .description(description)
            .tags([TAG])
            .time(time_from, "now")
            .refresh("1m")
            .timezone("browser")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .link(dashboards_link())
            .with_variable(datasource_variable())
        )

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def row(self, title: str) -> None:
        """Start a new (expanded) row: the next panels go below it."""
        self.builder.with_row(sdk.Row(title).id(self._take_id()).datasource(DATASOURCE))

    def add(self, *panels: PanelBuilder) -> None:
        """Add panels after the previous ones."""
        for panel in panels:
            self.builder.with_panel(panel.id(self._take_id()).datasource(DATASOURCE))

    def variable(self, variable: cogbuilder.Builder[model.VariableModel]) -> None:
        """Add a template variable after the previous ones (order matters for chained queries)."""
        self.builder.with_variable(variable)

    def annotation(self, annotation: cogbuilder.Builder[model.AnnotationQuery]) -> None:
        """Add an annotation query."""
        self.builder.annotation(annotation)

    def to_dict(self) -> dict[str, object]:
        """The JSON model Grafana imports, as plain dicts and lists."""
        return cast(dict[str, object], json.loads(json.dumps(self.builder.build(), cls=JSONEncoder)))


def datasource_variable() -> sdk.DatasourceVariable:
    """The ``datasource`` variable: any Prometheus data source of the Grafana instance."""
    return sdk.DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus")


def label_values_variable(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = False,
    sort: model.VariableSort = model.VariableSort.ALPHABETICAL_ASC,
) -> sdk.QueryVariable:
    """A variable listing label values (``label_values(<series>, <label>)``, Grafana's syntax).

    Multi-value variables include All as ``.*``: the queries match them with ``=~``, and a regex
    of every value would grow with the fleet.
    """
    variable = (
        sdk.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(sort)
    )
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


def dashboards_link() -> sdk.DashboardLink:
    """A drop-down of every dashboard tagged ``deploy-monitor``, keeping the time range and variables."""
    return (
        sdk.DashboardLink("Deploy monitor")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
    )


def deploy_annotations(*tags: str) -> list[sdk.AnnotationQuery]:
    """Annotation queries for the daemon's deploy-start and verdict annotations, with ``tags`` added.

    The daemon tags a deploy start ``event:deploy`` and a final verdict ``event:verdict`` and
    ``verdict:<verdict>``: one query per verdict gives each its colour.
    """
    queries = [_tag_annotation("Deploys", "blue", [TAG, *tags, "event:deploy"])]
    for verdict in ("pass", "marginal", "fail", "inconclusive"):
        name = f"Verdicts: {verdict}"
        queries.append(
            _tag_annotation(
                name, VERDICT_COLORS[verdict], [TAG, *tags, "event:verdict", f"verdict:{verdict}"]
            )
        )
    return queries


def _tag_annotation(name: str, color: str, tags: list[str]) -> sdk.AnnotationQuery:
    # Grafana's own annotation store, filtered by tags (all of them must match); Grafana
    # interpolates template variables in the tags.
    target = sdk.AnnotationTarget().type("tags").tags(tags).match_any(False).limit(500)
    return (
        sdk.AnnotationQuery()
        .name(name)
        .datasource(GRAFANA_ANNOTATIONS)
        .enable(True)
        .icon_color(color)
        .target(target)
    )


def verdict_mappings() -> list[model.ValueMapping]:
    """Value mappings colouring verdict names (and ``running``)."""
    options = {
        verdict: model.ValueMappingResult(color=color, index=index)
        for index, (verdict, color) in enumerate(VERDICT_COLORS.items())
    }
    return [model.ValueMap(options=options)]
