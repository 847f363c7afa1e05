"""Our monitor as a judge: ``analyze`` with one-minute looks over the 20-minute window.

The runs are judged as production deployments (:class:`HarmPolicy` of the built-in production
environment): a run that would pass without ruling out harm ends inconclusive.
"""

from __future__ import annotations

from bench.detection.outcome import Decision, Status
from monitor.engine import analyze
from monitor.engine.request import RequestDefaults, build_request
from monitor.models import Classification
from monitor.otlp.views import TelemetryReader
from monitor.profiles import Profile
from monitor.simulate import SimulatedRun
from monitor.sources.base import MetricsSource

ENVIRONMENT = "production"

LOOK_INTERVAL_S = 60.0


async def judge_run(
    source: MetricsSource, profile: Profile, run: SimulatedRun, telemetry: TelemetryReader | None = None
) -> Decision:
    """Replay the daemon's looks and stop at the first final verdict, as ``analyze`` does.

    ``minutes`` is ``decided_at - start``; a check that errored (a failed query) marks the
    decision as shaped by the backend.
    """
    sc = run.scenario
    request = build_request(
        RequestDefaults(),
        profile,
        service=sc.name,
        canary_version=sc.canary_version,
        baseline_version=sc.baseline_version,
        canary_window=run.canary_window,
        interval_s=LOOK_INTERVAL_S,
        environment=ENVIRONMENT,
    )
    verdict = await analyze(request, source, telemetry=telemetry)
    decided_at = verdict.decided_at or run.canary_window.end
    minutes = (decided_at - run.canary_window.start).total_seconds() / 60.0
    errors = any(c.classification is Classification.ERROR for c in verdict.checks)
    return Decision(Status(verdict.status.value), minutes, verdict.summary, backend_error=errors)
