"""The report's SVG geometry, kept importable here: it lives in :mod:`monitor.charts`, below every
package that draws a chart (the deployment report here, the backtest page in :mod:`monitor.backtest`)."""

from __future__ import annotations

from monitor.charts import (
    Scale,
    Tick,
    band_path,
    linear_domain,
    linear_ticks,
    look_scale,
    nice_step,
    polyline,
    ratio_domain,
    ratio_ticks,
)

__all__ = [
    "Scale",
    "Tick",
    "band_path",
    "linear_domain",
    "linear_ticks",
    "look_scale",
    "nice_step",
    "polyline",
    "ratio_domain",
    "ratio_ticks",
]
