"""The daemon's smoke probes: every replica's worker makes the due attempts, the store keeps them.

Attempt ``k`` (0-based, ``k < count``) of a deployment's probe against each role (the new version
and, at its own address, the old one: :func:`monitor.probes.targets.deployment_targets`) is due at
``started_at + k * interval_s``. The worker claims it in the store (a row under a unique key, which
one replica wins), makes it and records its outcome; the attempts of one probe and role are made
one after another, so a worker that was down catches up one attempt per poll, never in a burst.
Restarts lose and repeat nothing: the next attempt is the one after the last stored, and a claim
left unfinished by a replica that died is retaken (compare-and-set) once it is older than the
probe's timeout plus :data:`RETAKE_MARGIN_S`. A claim is made only while one of the worker's slots
(no more than the runner's) is free, so its request starts as it is stamped: a claim queued behind
others would age towards a retake and its request be sent twice. Claims are stamped and judged with
the replicas' own clocks: the margin absorbs clocks (NTP-kept) seconds apart.

A blue/green deployment's new version is probed at its preview address (the registration checked
its host), which the probe may request besides its own hosts; the config's header values go to
the preview only when its whole origin (scheme, host and port) is the probe's own.

Header values are secrets the store never holds. A probe registered from the config gets the
config's headers back at run time, from the config probe of the same name, but only while that
probe still sends its requests where it did (method, URL, hosts and redirect hosts): a secret goes
nowhere it was not configured to go. Otherwise the probe runs without headers, a warning says so
once, and each of its failed answers names the reason (a 401 then explains itself in the verdict).

:class:`StoredProbeAttempts` hands a look the stored attempts (:class:`monitor.checks.kind.ProbeAttempts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from monitor.errors import MonitorError
from monitor.judges.probes import describe
from monitor.models import Deployment, ProbeSpec
from monitor.own_metrics import EngineMetrics
from monitor.probes.result import ProbeResult
from monitor.probes.runner import ProbeRunner
from monitor.probes.spec import url_origin
from monitor.probes.targets import deployment_targets
from monitor.redact import redact_url
from monitor.store import ProbeClaim, ProbeProgress, ProbingDeployment, Store

log = logging.getLogger(__name__)

# A claim unfinished this long past its probe's timeout was left by a replica that died.
RETAKE_MARGIN_S = 30.0
# On shutdown, attempts in flight get this long to finish and be recorded (each is bounded by its
# probe's timeout anyway); the rest are retaken by the next worker.
DRAIN_S = 10.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoredProbeAttempts:
    """The attempts the probe workers stored for one deployment (finished ones only: an attempt in
    flight counts at the next look)."""

    def __init__(self, store: Store, deployment_id: str) -> None:
        self._store, self._deployment_id = store, deployment_id

    async def attempts(self, probe: str, role: str, until: datetime) -> Sequence[ProbeResult]:
        """See :class:`monitor.checks.kind.ProbeAttempts`."""
        return await self._store.probe_results(self._deployment_id, probe, role, until)


def _same_destination(configured: ProbeSpec, stored: ProbeSpec) -> bool:
    return (configured.method, configured.url, configured.hosts, configured.redirect_hosts) == (
        stored.method, stored.url, stored.hosts, stored.redirect_hosts,
    )  # fmt: skip


@dataclass(frozen=True)
class _Run:
    """One probe of one deployment as it is run: with the config's headers, or why without them."""

    probe: ProbeSpec
    without_headers: str | None = None


def runnable(stored: ProbeSpec, from_config: bool, config: Mapping[str, ProbeSpec]) -> _Run:
    """``stored`` with the config's header values re-attached when it may have them (see the module)."""
    if not from_config:
        return _Run(stored)
    configured = config.get(stored.name)
    if configured is not None and _same_destination(configured, stored):
        return _Run(replace(stored, headers=configured.headers))
    reason = (
        f"the config no longer defines probe {stored.name}"
        if configured is None
        else f"the config's probe {stored.name} now requests another URL or host"
    )
    return _Run(stored, f"sent without its headers: {reason}")


def at_address(run: _Run, url: str, preview_url: str | None, own_url: str) -> _Run:
    """``run`` for the request to ``url``: a blue/green preview's host (checked at registration
    against the probe's hosts or the config's ``probe_hosts``) may be requested too, but the
    config's header values go to the preview only when its whole origin is the probe's own: one of
    the probe's hosts, with the scheme and port of ``own_url`` (the new version's address without
    the preview). Another port may be another service; http after https is a downgrade."""
    if not preview_url or url_origin(url) != url_origin(preview_url):
        return run  # the probe's own address
    scheme, host, port = url_origin(url)
    probe = run.probe
    if host not in probe.allowed_hosts():
        probe = replace(probe, hosts=(*sorted(probe.allowed_hosts()), host))
    if not probe.headers:
        return replace(run, probe=probe)
    own_scheme, _, own_port = url_origin(own_url)
    if host in run.probe.allowed_hosts() and (scheme, port) == (own_scheme, own_port):
        return replace(run, probe=probe)
    if host not in run.probe.allowed_hosts():
        note = f"sent without its headers: the preview's host {host} is not one of the probe's hosts"
    else:
        note = (
            f"sent without its headers: the preview's origin {scheme}://{host}:{port} is not the "
            f"probe's own ({own_scheme}, port {own_port})"
        )
    return _Run(replace(probe, headers=()), run.without_headers or note)


class ProbeWorker:
    """Makes the due probe attempts of every non-final deployment, sharing them with other replicas."""

    def __init__(
        self,
        store: Store,
        probes: Sequence[ProbeSpec],
        runner: ProbeRunner,
        clock: Callable[[], datetime] = _utcnow,
        *,
        poll_s: float = 1.0,
        metrics: EngineMetrics | None = None,
        slots: int = 8,
    ) -> None:
        """``probes`` are the config's (with their header values): what a stored probe's headers
        come from. ``slots``: the attempts in flight at once, at most the runner's concurrency."""
        self._store, self._runner, self._clock = store, runner, clock
        self._config = {p.name: p for p in probes}
        self._poll_s = poll_s
        self._metrics = metrics
        self._slots = slots
        self._in_flight: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._warned: set[tuple[str, str]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; attempts in flight are given :data:`DRAIN_S` to be recorded."""
        while not stop.is_set():
            try:
                await self.run_once()
            except MonitorError as exc:  # the database is down: keep polling, resume when it is back
                log.warning("probe worker: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._poll_s)
        await self.drain(DRAIN_S)

    async def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the attempts in flight (then cancel those left)."""
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def run_once(self) -> int:
        """Start every due attempt not in flight, while a slot is free; return how many were started.

        Two queries a poll whatever the number of deployments: the deployments, then how far each
        of their probes has got; a probe whose attempts are all made costs nothing more.
        """
        found = await self._store.probing()
        progress = await self._store.probe_progress([p.deployment.id for p in found])
        started = 0
        for probing in found:
            try:
                started += await self._deployment(probing, progress)
            except MonitorError:
                raise  # the store: the poll is retried as a whole
            except Exception:  # one deployment's trouble (a bug) never stops the others' probes
                log.exception("deployment %s: its probes could not be run", probing.deployment.id)
        return started

    async def _deployment(
        self, probing: ProbingDeployment, progress: Mapping[tuple[str, str, str], ProbeProgress]
    ) -> int:
        deployment = probing.deployment
        spec = deployment.spec
        started = 0
        for stored in deployment.spec.probes:
            run = runnable(stored, stored.name in probing.config_probes, self._config)
            if run.without_headers and (deployment.id, stored.name) not in self._warned:
                self._warned.add((deployment.id, stored.name))
                log.warning("deployment %s: probe %s is %s", deployment.id, stored.name, run.without_headers)
            for role, url in deployment_targets(stored, deployment.spec).by_role().items():
                key = (deployment.id, stored.name, role)
                if key in self._in_flight:
                    continue
                # A claim is made only with a slot free, so its request starts as it is stamped:
                # one queued behind others would age towards a retake, and be sent twice.
                if len(self._in_flight) >= self._slots:
                    return started
                claim = await self._next(deployment, stored, role, url, progress.get(key))
                if claim is not None:
                    own = stored.render(spec.service, spec.version, spec.environment or "")
                    at = at_address(run, url, spec.preview_url, own)
                    task = asyncio.create_task(self._attempt(deployment, at, claim, url))
                    self._in_flight[key] = task
                    task.add_done_callback(self._done(key))
                    started += 1
        return started

    def _done(self, key: tuple[str, str, str]) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self._in_flight.pop(key, None)

        return forget

    async def _next(
        self, deployment: Deployment, probe: ProbeSpec, role: str, url: str, progress: ProbeProgress | None
    ) -> ProbeClaim | None:
        """The attempt to make now: an abandoned claim retaken, else the next due one claimed."""
        now = self._clock()
        if progress is not None and progress.oldest_unfinished_at is not None:
            stale_before = now - timedelta(seconds=probe.timeout_s + RETAKE_MARGIN_S)
            if progress.oldest_unfinished_at >= stale_before:
                return None  # another replica is making it
            claims = await self._store.probe_claims(deployment.id)  # rare: a replica died mid-attempt
            unfinished = [c for c in claims if (c.probe, c.role) == (probe.name, role) and not c.finished]
            if not unfinished:
                return None  # finished meanwhile
            return await self._store.retake_probe_attempt(unfinished[0], stale_before=stale_before)
        seq = 0 if progress is None else progress.last_seq + 1
        due = deployment.spec.started_at + timedelta(seconds=seq * probe.interval_s)
        if seq >= probe.count or due > now:
            return None
        return await self._store.claim_probe_attempt(deployment.id, probe.name, role, seq, redact_url(url))

    async def _attempt(self, deployment: Deployment, run: _Run, claim: ProbeClaim, url: str) -> None:
        try:
            result = await self._runner.attempt(run.probe, url, claim.role)
            if run.without_headers and not result.ok:
                result = _noted(result, run.without_headers)
            if self._metrics is not None:
                outcome = "ok" if result.ok else (result.error.value if result.error else "failed")
                self._metrics.probe_attempts.labels(outcome).inc()
            if not result.ok:
                log.info(
                    "deployment %s: probe %s attempt %d against %s failed: %s: %s", deployment.id,
                    claim.probe, claim.seq + 1, claim.role, result.url, describe(result),
                )  # fmt: skip
            if not await self._store.finish_probe_attempt(claim, result):
                log.warning(
                    "deployment %s: probe %s attempt %d against %s was retaken by another replica "
                    "(its outcome is theirs) or its deployment deleted",
                    deployment.id, claim.probe, claim.seq + 1, claim.role,
                )  # fmt: skip
        except MonitorError as exc:  # the store failed: the claim is retaken once stale
            log.warning("deployment %s: probe %s: %s", deployment.id, claim.probe, exc)
        except Exception:  # a bug must not end the worker: the claim is retaken once stale
            log.exception("deployment %s: probe %s attempt failed unexpectedly", deployment.id, claim.probe)


def _noted(result: ProbeResult, note: str) -> ProbeResult:
    """A failed attempt's words with why it went without the config's headers."""
    if result.error is not None:
        return replace(result, detail=f"{result.detail} ({note})")
    return replace(result, failed=f"{result.failed} ({note})")
