"""One look at a deployment: fetch every check's data for both versions, judge, decide."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

from monitor.engine.fetch import Fetched, fetch_check, selector
from monitor.engine.request import AnalysisRequest
from monitor.errors import MonitorError
from monitor.judges import decide, judge_check
from monitor.judges.checks import error_result
from monitor.models import (
    CheckResult,
    Classification,
    ComparisonKind,
    Verdict,
    VersionWindow,
    Window,
)
from monitor.profiles import CheckSpec
from monitor.sources.base import MetricsSource
from monitor.stats import per_check_alpha, per_look_alpha


async def _judge_one(
    source: MetricsSource,
    request: AnalysisRequest,
    spec: CheckSpec,
    windows: tuple[Window, Window],
    alpha: float,
) -> CheckResult:
    profile = request.profile
    canary_sel = selector(profile, request.service, request.canary_version, request.extra_matchers)
    baseline_sel = selector(profile, request.service, request.baseline_version, request.extra_matchers)
    try:
        canary, baseline = await asyncio.gather(
            fetch_check(source, spec, profile, canary_sel, windows[0]),
            fetch_check(source, spec, profile, baseline_sel, windows[1]),
        )
    except MonitorError as exc:
        return error_result(spec, f"{spec.name}: {exc}")
    canary_s, baseline_s = windows[0].duration_s, windows[1].duration_s
    result = judge_check(
        spec,
        canary.data,
        baseline.data,
        alpha=alpha,
        traffic=profile.traffic,
        window_ratio=None if request.baseline_window is None else canary_s / baseline_s,
    )
    if result.classification is Classification.NODATA:
        result = replace(result, message=result.message + _unmatched(canary, baseline))
    return result


def _unmatched(*fetched: Fetched) -> str:
    missing = [f"{{{f.selector}}}" for f in fetched if not f.matched]
    return f"; no series matched {' nor '.join(missing)}" if missing else ""


async def evaluate_look(
    source: MetricsSource, request: AnalysisRequest, at: datetime, look: int, *, last_look: bool
) -> Verdict:
    """Evaluate the deployment as of ``at`` (the ``look``-th look, 1-based)."""
    profile = request.profile
    windows = request.windows_at(at)
    total_weight = sum(c.alpha_weight for c in profile.checks)

    def alpha_for(spec: CheckSpec) -> float:
        if spec.alpha_weight == 0:
            return profile.alpha  # traffic checks test nothing
        check_alpha = per_check_alpha(profile.alpha, spec.alpha_weight, total_weight)
        # Samples tests are fixed-horizon: they spend their share over the looks.
        if spec.comparison is ComparisonKind.SAMPLES:
            return per_look_alpha(check_alpha, look)
        return check_alpha

    results = await asyncio.gather(
        *(_judge_one(source, request, spec, windows, alpha_for(spec)) for spec in profile.checks)
    )
    elapsed_s = windows[0].duration_s
    decision = decide(
        results,
        {c.name: c for c in profile.checks},
        profile.decision,
        last_look=last_look,
        elapsed_s=elapsed_s,
    )
    return Verdict(
        service=request.service,
        environment=request.environment,
        canary=VersionWindow(request.canary_version, windows[0]),
        baseline=VersionWindow(request.baseline_version, windows[1]),
        status=decision.status,
        score=decision.score,
        summary=decision.summary,
        checks=tuple(results),
        decided_at=at if decision.status.value != "running" else None,
        deployment_id=request.deployment_id,
    )
