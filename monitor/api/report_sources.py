"""Where the report's numbers come from: the Grafana detail dashboard and each check's PromQL.

The dashboard link fills every variable of the detail dashboard (service, environment, canary
version, baseline version) and its ``deployment`` and ``monitor_url`` variables (and the signed
link's, when the report was opened by one), whose "Verdict report" link leads back here. The
PromQL is the profile's templates rendered as the engine renders them for one version over the
whole window (:mod:`monitor.profiles.templates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from monitor.api.report_format import parse_time
from monitor.grafana.dashboards.common import UIDS
from monitor.grafana.dashboards.detail import (
    DEPLOYMENT_VARIABLE,
    EXPIRES_VARIABLE,
    MONITOR_URL_VARIABLE,
    SIGNATURE_VARIABLE,
    STEM,
)
from monitor.grafana.dashboards.promql import BASELINE_VARIABLE, CANARY_VARIABLE
from monitor.profiles import CheckSpec, Profile
from monitor.profiles.templates import render, selector
from monitor.reportlinks import EXPIRES_PARAMETER, SIGNATURE_PARAMETER

_QUERY_FIELDS = ("events", "exposure", "buckets", "series")


def _millis(moment: str) -> int:
    return int(parse_time(moment).timestamp() * 1000)


def dashboard_url(
    grafana_url: str,
    deployment: Mapping[str, Any],
    verdict: Mapping[str, Any],
    monitor_url: str | None,
    link_query: str = "",
) -> str:
    """The detail dashboard of this deployment's versions over both windows (a minute either side);
    ``link_query`` (the signed link the report was opened with) goes along for the way back."""
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
    signed = parse_qs(link_query.lstrip("?"))
    if signed.get(EXPIRES_PARAMETER) and signed.get(SIGNATURE_PARAMETER):
        query[f"var-{EXPIRES_VARIABLE}"] = signed[EXPIRES_PARAMETER][0]
        query[f"var-{SIGNATURE_VARIABLE}"] = signed[SIGNATURE_PARAMETER][0]
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
