"""A profile's query templates as Grafana PromQL: the same rendering as the engine, with variables.

The engine replaces ``$selector`` with one version's label matchers and ``$window`` with a window
length (:mod:`monitor.profiles.templates`). Here the matchers name Grafana variables
(``service_name="$service", service_version="$version"``) and the window is ``$__rate_interval``,
so a panel shows what the engine judges, version by version, as time goes by.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from monitor.models import CheckPurpose, Signal
from monitor.profiles import CheckSpec, Profile, templates

RATE_INTERVAL = "$__rate_interval"
CANARY_VARIABLE = "version"
BASELINE_VARIABLE = "baseline"

Renderer = Callable[[CheckSpec, Profile, str], str]
"""A check's query for one version, given that version's label matchers."""

_SELECTED_METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{\$selector")


def version_matchers(profile: Profile, variable: str) -> str:
    """Label matchers of the service and the version held by the Grafana variable ``variable``."""
    return templates.selector(profile, "$service", f"${variable}")


def render(template: str, profile: Profile, matchers: str, window: str = RATE_INTERVAL) -> str:
    """The engine's rendering (:func:`monitor.profiles.templates.render`) over Grafana's rate interval."""
    return templates.render(template, profile, matchers, window)


def metric_checks(profile: Profile) -> tuple[CheckSpec, ...]:
    """The checks whose data come from Prometheus."""
    return tuple(check for check in profile.checks if check.signal is Signal.METRICS)


def log_and_trace_checks(profile: Profile) -> tuple[CheckSpec, ...]:
    """The checks judged from the OTLP receiver's logs and spans (not in Prometheus)."""
    return tuple(check for check in profile.checks if check.signal is not Signal.METRICS)


def ratio(check: CheckSpec, profile: Profile, matchers: str) -> str:
    """Events per exposure of one version (e.g. the 5xx share of requests).

    Both sides are summed and missing events count as zero, as the engine totals them: a version
    without a single error shows 0, not a gap.
    """
    assert check.events is not None and check.exposure is not None
    events = total(render(check.events, profile, matchers))
    exposure = total(render(check.exposure, profile, matchers))
    return f"({events} or vector(0)) / {exposure}"


def canary_share(check: CheckSpec, profile: Profile) -> str:
    """The canary's share of the exposure of both versions (a traffic check)."""
    assert check.exposure is not None
    canary = total(render(check.exposure, profile, version_matchers(profile, CANARY_VARIABLE)))
    baseline = total(render(check.exposure, profile, version_matchers(profile, BASELINE_VARIABLE)))
    return f"{canary} / ({canary} + {baseline})"


def total(expr: str) -> str:
    """``expr`` summed into one series, as the engine totals every sample (unless it is a ``sum(...)``)."""
    if templates.is_plain_sum(expr):
        return expr
    return f"sum({expr})"


def buckets(check: CheckSpec, profile: Profile, matchers: str) -> str:
    """One version's histogram buckets over the rate interval (a heatmap's rows)."""
    assert check.buckets is not None
    return render(check.buckets, profile, matchers)


def quantile(check: CheckSpec, profile: Profile, matchers: str, q: float) -> str:
    """The ``q`` quantile of one version's histogram."""
    return f"histogram_quantile({q:g}, {buckets(check, profile, matchers)})"


def quantile_of(q: float) -> Renderer:
    """A renderer of the ``q`` quantile of a version's histogram."""

    def render_quantile(check: CheckSpec, profile: Profile, matchers: str) -> str:
        return quantile(check, profile, matchers, q)

    return render_quantile


def series(check: CheckSpec, profile: Profile, matchers: str) -> str:
    """One version's series of a samples check."""
    assert check.series is not None
    return render(check.series, profile, matchers)


def is_traffic(check: CheckSpec) -> bool:
    """Whether the check measures the traffic split rather than a regression."""
    return check.purpose is CheckPurpose.TRAFFIC


def selected_metric(profile: Profile) -> str:
    """The first metric a check selects with ``$selector``: it carries the service and version labels."""
    for check in metric_checks(profile):
        for template in (check.exposure, check.events, check.buckets, check.series):
            found = _SELECTED_METRIC.search(template or "")
            if found:
                return found.group(1)
    raise ValueError(f"profile {profile.name} has no metrics check selecting a metric with $selector")
