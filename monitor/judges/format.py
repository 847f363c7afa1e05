"""Human-readable numbers for check messages."""

from __future__ import annotations

import math


def fmt_value(value: float | None, unit: str) -> str:
    """Format a measured value in its unit: ratios as percents, seconds as s or ms."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "s":
        return f"{value * 1000:.3g}ms" if abs(value) < 1 else f"{value:.3g}s"
    if unit == "bytes":
        return f"{value / 2**20:.1f}MiB"
    suffix = f" {unit}" if unit else ""
    return f"{value:.3g}{suffix}"


def fmt_ratio(value: float | None) -> str:
    """Format an effect ratio like ``1.25x``."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf x"
    return f"{value:.2f}x"


def fmt_duration(seconds: float) -> str:
    """Format seconds as ``45s``, ``12m`` or ``1h05m``."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def fmt_p(value: float | None) -> str:
    """Format a p-value: ``0.003``, ``2e-07``, ``<1e-15`` (below what the arithmetic resolves)."""
    if value is None or math.isnan(value):
        return "n/a"
    if value < 1e-15:
        return "<1e-15"
    return f"{value:.2g}" if value >= 0.001 else f"{value:.0e}"
