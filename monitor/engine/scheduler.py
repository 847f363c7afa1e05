"""The daemon's engine loop: claim due deployments, evaluate their looks, record verdicts.

Every look goes through :func:`monitor.engine.evaluate.evaluate_look`, the code path of
``monitor analyze --interval``. A deployment registered with ``started_at`` in the past is
caught up at once: its missed looks are evaluated in order until a verdict is final.

A look whose required checks errored (a backend down or failing) is retried, every
``retry_s`` at most, for ``retry_grace_s`` after it became due; meanwhile the deployment's
status reason and audit trail name the checks and their errors. Past the grace an interim look
is skipped (recorded as running, with its errors: a later look judges the same data, since looks
are cumulative) and the last look ends the run ``inconclusive`` naming them: an outage delays a
verdict by at most the grace, and never hides it. An optional check that errors is reported,
never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from monitor.channels.notify import Notifier
from monitor.engine.evaluate import evaluate_look
from monitor.engine.probing import StoredProbeAttempts
from monitor.engine.replay import look_times
from monitor.engine.request import AnalysisRequest, RequestDefaults, deployment_request
from monitor.errors import ConflictError, MonitorError
from monitor.models import (
    CheckResult,
    Classification,
    Deployment,
    DeploymentStatus,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.otlp.stored import receiver_telemetry
from monitor.otlp.views import TelemetryReader
from monitor.own_metrics import EngineMetrics
from monitor.profiles import CheckSpec, Profile
from monitor.report import render_json
from monitor.sources.base import MetricsSource
from monitor.store import OutboxItem, Store, StoredVerdict
from monitor.timeparse import format_time
from monitor.tracing import tracer

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SchedulerSettings:
    """Who this replica is and how it shares work with the others."""

    owner: str
    lease_s: float = 30.0
    batch: int = 25
    poll_s: float = 1.0
    # Catching up a long-missed deployment is done in slices, so a replica returns to its poll
    # (and can take over a dead replica's deployments) every few seconds.
    max_looks_per_claim: int = 30
    # What the config adds to every analysis: matchers, the expected canary share, harm limits.
    request: RequestDefaults = field(default_factory=RequestDefaults)
    # A look at time t is judged once t + settle_s has passed, live or catching up, so data still
    # in flight (the receiver's flush, a Prometheus scrape) cannot shape a verdict.
    settle_s: float = 0.0
    # How long a look whose required checks error is retried before it counts as it stands, and
    # how often: an outage delays a verdict by at most the grace, and is never retried forever.
    retry_grace_s: float = 300.0
    retry_s: float = 15.0


def blocking_errors(verdict: Verdict, checks: Sequence[CheckSpec]) -> list[CheckResult]:
    """The required checks that errored: they keep a look from counting (optional ones never do).

    ``checks`` are every check of the request (:attr:`AnalysisRequest.checks`): the profile's and
    the added probe and SLO checks, whose optional ones (a probe's latency comparison, an slo_burn
    query Prometheus rejects) must not hold a look back either."""
    optional = {spec.name for spec in checks if spec.optional}
    return [c for c in verdict.checks if c.classification is Classification.ERROR and c.name not in optional]


def trouble(errors: list[CheckResult], look: int, looks: int, until: datetime) -> str:
    """The status reason of a deployment whose look cannot be judged: which checks, and why."""
    named = "; ".join(f"{c.name}: {c.message[:300]}" for c in errors[:3])
    more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
    return (
        f"look {look} of {looks} cannot be judged: {named}{more}; retrying until "
        f"{format_time(until)}, then the look counts without those checks"
    )


def skipped(verdict: Verdict, errors: list[CheckResult]) -> Verdict:
    """An interim look past its retry grace: recorded as running, its errors shown, nothing decided."""
    first = errors[0]
    summary = f"running: look skipped after retries ({first.name}: {first.message})"
    return replace(verdict, status=VerdictStatus.RUNNING, summary=summary)


class Scheduler:
    """One replica's share of the evaluation work."""

    def __init__(
        self,
        store: Store,
        source: MetricsSource,
        profiles: Callable[[str], Profile],
        settings: SchedulerSettings,
        clock: Callable[[], datetime] = _utcnow,
        notifier: Notifier | None = None,
        metrics: EngineMetrics | None = None,
        telemetry: TelemetryReader | None = None,
    ) -> None:
        self._store, self._source, self._profiles = store, source, profiles
        self._settings, self._clock = settings, clock
        self._notifier = notifier
        self._metrics = metrics
        # Logs and traces: the receiver's store unless the config names a pulled backend.
        self._telemetry = telemetry or receiver_telemetry(store)

    async def run_once(self) -> int:
        """Claim due deployments and evaluate their due looks; return how many looks were recorded."""
        metrics = self._metrics
        takeover = (lambda _: metrics.lease_takeovers.inc()) if metrics is not None else None
        claimed = await self._store.claim_due(
            self._settings.owner,
            lease_s=self._settings.lease_s,
            limit=self._settings.batch,
            on_takeover=takeover,
            settle_s=self._settings.settle_s,
        )
        counts = await asyncio.gather(*(self._advance_and_release(d) for d in claimed))
        return sum(counts)

    async def _advance_and_release(self, deployment: Deployment) -> int:
        try:
            return await self._advance(deployment)
        except MonitorError as exc:  # one deployment's trouble never stops the others
            log.warning("deployment %s: %s", deployment.id, exc)
            return 0
        except Exception as exc:  # a bug or an absurd deployment: end it, never the engine
            log.exception("deployment %s could not be judged; ending it inconclusive", deployment.id)
            return await self._give_up(deployment, exc)
        finally:
            await self._store.release(deployment.id, self._settings.owner)

    async def _give_up(self, deployment: Deployment, exc: Exception) -> int:
        """A final ``inconclusive`` verdict naming the error, delivered like any other verdict."""
        spec, at = deployment.spec, self._clock()
        now = Window(at, at)
        verdict = Verdict(
            service=spec.service,
            environment=spec.environment,
            canary=VersionWindow(spec.version, now),
            baseline=VersionWindow(spec.baseline_version, now),
            status=VerdictStatus.INCONCLUSIVE,
            score=0.0,
            summary=f"inconclusive: the analysis failed ({type(exc).__name__}: {exc}); please report it",
            checks=(),
            decided_at=at,
            deployment_id=deployment.id,
        )
        document = render_json(verdict)
        stored = StoredVerdict(deployment.looks_done + 1, at, verdict.status.value, 0.0, True, document)
        try:
            outgoing = await self._outgoing(deployment, verdict, at, document)
            await self._store.record_verdict(
                deployment.id, owner=self._settings.owner, verdict=stored, next_look_at=None,
                notifications=outgoing,
            )  # fmt: skip
        except MonitorError as store_exc:
            log.warning("deployment %s: could not record its failure: %s", deployment.id, store_exc)
            return 0
        return 1

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; the look in flight is finished first."""
        while not stop.is_set():
            try:
                if await self.run_once():
                    continue  # more may be due right away: only rest when there was nothing to do
            except MonitorError as exc:  # the database is down: keep polling, resume when it is back
                log.warning("engine loop: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._settings.poll_s)

    def request_for(self, deployment: Deployment) -> AnalysisRequest:
        """The analysis of ``deployment`` with this replica's profiles and the config's defaults."""
        profile = self._profiles(deployment.spec.profile)
        return deployment_request(deployment, profile, self._settings.request)

    async def _advance(self, deployment: Deployment) -> int:
        request = self.request_for(deployment)
        times = look_times(request.canary_window.start, request.canary_window.end, request.interval_s)
        now = self._clock()
        recorded = 0
        # The probe workers' attempts, read per look from the store.
        probes = StoredProbeAttempts(self._store, deployment.id) if deployment.spec.probes else None
        last_in_slice = deployment.looks_done + self._settings.max_looks_per_claim
        for look in range(deployment.looks_done + 1, min(len(times), last_in_slice) + 1):
            at = times[look - 1]
            if at > now - timedelta(seconds=self._settings.settle_s):
                break  # its data may still be arriving: the look waits

            last = look == len(times)
            started = time.monotonic()
            attributes: dict[str, str | int] = {
                "deployment.id": deployment.id,
                "service.name": deployment.spec.service,
                "look": look,
            }
            with tracer().start_as_current_span("evaluate look", attributes=attributes) as span:
                verdict = await evaluate_look(
                    self._source, request, at, look, last_look=last, planned_looks=len(times),
                    telemetry=self._telemetry, probes=probes,
                )  # fmt: skip
                span.set_attribute("verdict", verdict.status.value)
            errors = blocking_errors(verdict, request.checks)
            grace_ends = at + timedelta(seconds=self._settings.settle_s + self._settings.retry_grace_s)
            # A fail stands on its own checks; anything else waits for the erroring ones a while.
            retry = bool(errors) and verdict.status is not VerdictStatus.FAIL and now < grace_ends
            if errors and not retry and not last and verdict.status is not VerdictStatus.FAIL:
                verdict = skipped(verdict, errors)
            if self._metrics is not None:
                lag_s = (self._clock() - at).total_seconds() - self._settings.settle_s
                self._metrics.observe_look(
                    verdict, time.monotonic() - started, lag_s, recorded=not retry,
                    since_start_s=(at - deployment.spec.started_at).total_seconds(),
                )  # fmt: skip
            if retry:
                await self._defer(deployment, trouble(errors, look, len(times), grace_ends), now)
                break
            document = render_json(verdict)
            stored = StoredVerdict(look, at, verdict.status.value, verdict.score, verdict.final, document)
            # Written in the verdict's transaction: a crash cannot lose them or send them twice.
            outgoing = await self._outgoing(deployment, verdict, at, document) if verdict.final else []
            next_at = times[look] if look < len(times) else None
            try:
                await self._store.record_verdict(
                    deployment.id,
                    owner=self._settings.owner,
                    verdict=stored,
                    next_look_at=next_at,
                    notifications=outgoing,
                )
            except ConflictError as exc:
                log.warning("deployment %s: %s", deployment.id, exc)
                break
            recorded += 1
            if verdict.final:
                break
            await self._store.renew(deployment.id, self._settings.owner, lease_s=self._settings.lease_s)
        return recorded

    async def _defer(self, deployment: Deployment, reason: str, now: datetime) -> None:
        """Say why the look waits (status reason, audit trail, log) and when it is tried again."""
        if reason != deployment.status_reason:
            log.warning("deployment %s: %s", deployment.id, reason)
        retry_at = now + timedelta(seconds=self._settings.retry_s - self._settings.settle_s)
        await self._store.defer_look(
            deployment.id, owner=self._settings.owner, reason=reason, next_look_at=retry_at
        )

    async def _outgoing(
        self, deployment: Deployment, verdict: Verdict, at: datetime, document: str
    ) -> list[OutboxItem]:
        """What a final verdict sends; a pass also resolves the pages of the service's earlier failures."""
        notifier = self._notifier
        if notifier is None:
            return []
        status = verdict.status.value
        items = notifier.final(deployment, status, at, verdict.summary, document)
        spec = deployment.spec
        if status == "pass" and notifier.pages(spec.environment):
            recent = await self._store.list_deployments(
                service=spec.service, environment=spec.environment, limit=20
            )
            earlier: list[Deployment] = []
            for older in (d for d in recent if d.created_at < deployment.created_at):  # newest first
                if older.status is DeploymentStatus.PASS:
                    break  # that pass resolved the failures before it
                if older.status is DeploymentStatus.FAIL:
                    earlier.append(older)
            reason = f"{spec.service} {spec.version} passed its analysis (deployment {deployment.id})"
            items.extend(notifier.resolutions(earlier, deployment.id, at, reason))
        return items
