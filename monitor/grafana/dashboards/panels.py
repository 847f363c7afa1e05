"""Panel and query factories with the dashboards' conventions (legends as tables, code-mode queries)."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import text as text_model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

from monitor.grafana.dashboards.common import DATASOURCE

# A check's ``unit`` in a profile, as a Grafana unit id.
UNITS = {"s": "s", "ratio": "percentunit", "bytes": "bytes", "": "short"}


def grafana_unit(unit: str) -> str:
    """The Grafana unit of a profile unit (``s``, ``ratio``, ``bytes``); others pass through."""
    return UNITS.get(unit, unit)


def query(
    expr: str,
    legend: str | None = None,
    ref_id: str = "A",
    *,
    instant: bool = False,
    fmt: PromQueryFormat = PromQueryFormat.TIME_SERIES,
) -> prometheus.Dataquery:
    """A PromQL target, a range query unless ``instant``; ``legend`` names its series (``{{label}}``)."""
    target = (
        prometheus.Dataquery()
        .datasource(DATASOURCE)
        .expr(expr)
        .ref_id(ref_id)
        .editor_mode(QueryEditorMode.CODE)
        .format(fmt)
    )
    if legend is not None:
        target = target.legend_format(legend)
    return target.instant() if instant else target.range()


def fixed_color(color: str) -> list[model.DynamicConfigValue]:
    """Override properties painting a series in one colour."""
    return [model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": color})]


def field_color(color: str) -> sdk.FieldColor:
    """One colour for every field of a panel."""
    return sdk.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color(color)


def graph(
    title: str,
    description: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    bars: bool = False,
    min_interval: str | None = None,
    stacked: bool = False,
) -> timeseries.Panel:
    """A time series panel with a table legend showing each series' mean and maximum.

    ``bars`` draws counts per interval; ``min_interval`` keeps ``$__interval`` long enough for
    ``increase()`` to see at least two scrapes.
    """
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .targets(list(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if min_interval is not None:
        panel = panel.interval(min_interval)
    return panel


def big_number(
    title: str,
    description: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    width: int = 6,
    height: int = 5,
    fields: str | None = None,
) -> stat.Panel:
    """A stat panel of the last value of each series (or of the table columns matching ``fields``)."""
    reduce = common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    if fields is not None:
        reduce = reduce.fields(fields)
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .targets(list(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .reduce_options(reduce)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
    )


def table_of(
    title: str,
    description: str,
    target: prometheus.Dataquery,
    columns: Sequence[str],
    *,
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    """A table of an instant query's labels: ``columns`` in that order, the time and value hidden."""
    organize = model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": {"Time": True, "Value": True},
            "indexByName": {column: index for index, column in enumerate(columns)},
        },
    )
    return (
        table.Panel()
        .title(title)
        .description(description)
        .with_target(target)
        .span(width)
        .height(height)
        .with_transformation(organize)
    )


def bucket_heatmap(
    title: str, description: str, target: prometheus.Dataquery, *, unit: str, width: int = 12, height: int = 8
) -> heatmap.Panel:
    """A heatmap of Prometheus histogram buckets as they are (no re-bucketing by Grafana)."""
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .with_target(target)
        .span(width)
        .height(height)
        .calculate(False)
        # Prometheus' ``le`` is a bucket's upper bound.
        .rows_frame(heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .y_axis(heatmap.YAxisConfig().unit(unit))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .scale(heatmap_model.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .steps(64)
        )
        .mode(common.TooltipDisplayMode.SINGLE)
        .show_y_histogram()
    )


def markdown(title: str, content: str, *, width: int = 24, height: int = 6) -> text.Panel:
    """A text panel rendering ``content`` as Markdown."""
    return (
        text.Panel()
        .title(title)
        .content(content)
        .mode(text_model.TextMode.MARKDOWN)
        .span(width)
        .height(height)
    )


def alert_line(panel: timeseries.Panel, value: float) -> timeseries.Panel:
    """Draw a dashed red line at ``value``, where an alert rule fires."""
    return panel.thresholds(thresholds((None, "green"), (value, "red"))).thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)
    )


def thresholds(*steps: tuple[float | None, str]) -> sdk.ThresholdsConfig:
    """Absolute thresholds: ``(None, base colour)`` first, then ``(value, colour)`` upwards."""
    return (
        sdk.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )
