"""Where the report's numbers come from: the Grafana detail dashboard and each check's PromQL.

The dashboard link fills every variable of the detail dashboard (service, environment, canary
version, baseline version) and its ``deployment`` and ``monitor_url`` variables, whose
"Verdict report" link leads back here. The PromQL is the profile's templates rendered as the
engine renders them for one version over the whole window (:mod:`monitor.profiles.templates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from monitor.grafana.dashboards.common import UIDS
from monitor.grafana.dashboards.detail import DEPLOYMENT_VARIABLE, MONITOR_URL_VARIABLE, STEM
from monitor.grafana.dashboards.promql import BASELINE_VARIABLE, CANARY_VARIABLE
from monitor.profiles import CheckSpec, Profile
from monitor.profiles.templates import render, selector

_QUERY_FIELDS = ("events", "exposure", "buckets", "series")


def _millis(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)


def dashboard_url(
    grafana_url: str, deployment: Mapping[str, Any], verdict: Mapping[str, Any], monitor_url: str | None
) -> str:
    """The detail dashboard of this deployment's versions over both windows (a minute either side)."""
    starts = [_millis(verdict[v]["start"]) for v in ("baseline", "canary")]
    ends = [_millis(verdict[v]["end"]) for v in ("baseline", "canary")]
    query: dict[str, str | int] = {
        "var-service": deployment["service"],
        "var-environment": deployment["environment"],
        f"var-{CANARY_VARIABLE}": deployment["version"],
        f"var-{BASELINE_VARIABLE}": deployment["baseline_version"],
        f"var-{DEPLOYMENT_VARIABLE}": deployment["id"],
        "from": min(starts) - 60_000,
        "to": max(ends) + 60_000,
    }
    if monitor_url:
        query[f"var-{MONITOR_URL_VARIABLE}"] = monitor_url
    return f"{grafana_url.rstrip('/')}/d/{UIDS[STEM]}/{STEM}?{urlencode(query)}"


def check_queries(
    spec: CheckSpec, profile: Profile, service: str, versions: Mapping[str, str], window_s: float
) -> list[tuple[str, str]]:
    """``(label, PromQL)`` of each query ``spec`` runs, for each version (e.g. ``events, canary``)."""
    queries = []
    for name in _QUERY_FIELDS:
        template = getattr(spec, name)
        if not template:
            continue
        for role, version in versions.items():
            promql = render(template, profile, selector(profile, service, version), window_s)
            queries.append((f"{name}, {role} ({version})", promql))
    return queries
