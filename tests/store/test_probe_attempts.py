"""A deployment's smoke probes and their attempts in the store (SQLite and PostgreSQL): the probes
round-trip without header values, an attempt is claimed by one replica only, an abandoned claim
is retaken once, and the attempts go with their deployment."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from monitor.models import DeploymentSpec, DeploymentStatus, ErrorKind, ProbeResult, ProbeSpec, Strategy
from monitor.store import Store
from monitor.store.migrate import downgrade

HEALTH = ProbeSpec(
    name="health",
    url="https://{service}.example.com/healthz",
    headers=(("Authorization", "Bearer s3cr3t-token-value"),),
    expected_status=(200, 204),
    json_equals=(("status", "ok"), ("ready", True)),
    json_exists=("version",),
    max_latency_s=0.5,
    hosts=("checkout.example.com",),
    count=4,
    fail_after=2,
    critical=False,
)
INLINE = ProbeSpec(name="login", url="https://preview.example.com/login", body_contains="Sign in")


def _probed(spec: DeploymentSpec) -> DeploymentSpec:
    return replace(
        spec, strategy=Strategy.BLUEGREEN, probes=(HEALTH, INLINE), preview_url="https://green.example.com"
    )


async def _finished(store: Store, deployment_id: str, clock: Any) -> list[ProbeResult]:
    """The canary's ``health`` attempts finished by now (a look a second from now sees them)."""
    return await store.probe_results(deployment_id, "health", "canary", clock.now + timedelta(seconds=1))


async def test_probes_and_preview_round_trip_without_header_values(
    store: Store, spec: DeploymentSpec
) -> None:
    deployment, _ = await store.register(_probed(spec), actor="test")
    read = (await store.get(deployment.id)).spec
    assert read.probes == (replace(HEALTH, headers=()), INLINE)
    assert read.preview_url == "https://green.example.com"
    async with store._engine.connect() as connection:
        stored = (await connection.execute(text("SELECT probes FROM deployments"))).scalar_one()
    assert "s3cr3t" not in stored and "Authorization" in stored  # the name is kept, never the value
    [probing] = await store.probing()
    assert probing.deployment.id == deployment.id
    assert probing.config_probes == {"health"}  # registered with headers: the config's


async def test_a_deployment_without_probes_is_not_probed(store: Store, spec: DeploymentSpec) -> None:
    deployment, _ = await store.register(spec, actor="test")
    assert (await store.get(deployment.id)).spec.probes == ()
    assert await store.probing() == []


async def test_an_attempt_is_claimed_once_finished_once_and_read_back(
    store: Store, spec: DeploymentSpec, clock: Any
) -> None:
    deployment, _ = await store.register(_probed(spec), actor="test")
    url = "https://checkout.example.com/healthz"
    claim = await store.claim_probe_attempt(deployment.id, "health", "canary", 0, url)
    assert claim is not None and claim.seq == 0
    # Another replica (or this one again) cannot take the same attempt.
    assert await store.claim_probe_attempt(deployment.id, "health", "canary", 0, url) is None
    # The same seq against the other role, or of another probe, is another attempt.
    assert await store.claim_probe_attempt(deployment.id, "health", "baseline", 0, url) is not None
    assert await store.probe_results(deployment.id, "health", "canary", clock.now + timedelta(hours=1)) == []
    outcome = ProbeResult(
        "health", url, False, status=503, latency_s=0.25, body_head="down", failed="status 503"
    )
    clock.advance(1)
    assert await store.finish_probe_attempt(claim, outcome)
    assert not await store.finish_probe_attempt(claim, outcome)  # finished already
    [read] = await _finished(store, deployment.id, clock)
    assert read == replace(outcome, at=claim.started_at)
    # Attempts finished at or after the look's time are not the look's.
    assert await store.probe_results(deployment.id, "health", "canary", clock.now) == []
    claims = await store.probe_claims(deployment.id)
    assert [(c.role, c.seq, c.finished) for c in claims] == [("baseline", 0, False), ("canary", 0, True)]


async def test_an_abandoned_claim_is_retaken_by_one_replica_and_the_old_claim_cannot_finish(
    store: Store, spec: DeploymentSpec, clock: Any
) -> None:
    deployment, _ = await store.register(_probed(spec), actor="test")
    first = await store.claim_probe_attempt(deployment.id, "health", "canary", 0, "https://x/")
    assert first is not None
    # Not stale yet: nobody may take it.
    assert await store.retake_probe_attempt(first, stale_before=first.started_at) is None
    clock.advance(60)
    stale_before = clock.now - timedelta(seconds=30)
    retaken = await store.retake_probe_attempt(first, stale_before=stale_before)
    assert retaken is not None and retaken.started_at == clock.now
    # A second replica that saw the same abandoned claim loses the compare-and-set.
    assert await store.retake_probe_attempt(first, stale_before=stale_before) is None
    late = ProbeResult("health", "https://x/", True, status=200)
    assert not await store.finish_probe_attempt(first, late)  # the replica that stalled
    assert await store.finish_probe_attempt(retaken, replace(late, latency_s=0.1))
    [read] = await _finished(store, deployment.id, clock)
    assert read.latency_s == 0.1


async def test_final_deployments_are_not_probed_and_their_attempts_go_with_them(
    store: Store, spec: DeploymentSpec
) -> None:
    deployment, _ = await store.register(_probed(spec), actor="test")
    assert await store.claim_probe_attempt(deployment.id, "health", "canary", 0, "https://x/")
    await store.cancel(deployment.id, actor="test", reason="rolled back by hand")
    assert await store.probing() == []
    async with store._engine.begin() as connection:
        await connection.execute(text("DELETE FROM deployments"))  # as retention would
        left = (await connection.execute(text("SELECT count(*) FROM probe_attempts"))).scalar_one()
    assert left == 0
    gone = await store.claim_probe_attempt(deployment.id, "health", "canary", 1, "https://x/")
    assert gone is None  # no deployment to attach it to


async def test_the_upgrade_leaves_older_deployments_without_probes_and_keeps_their_history(
    database_url: str, spec: DeploymentSpec
) -> None:
    store = await Store.open(database_url)
    try:
        deployment, _ = await store.register(spec, actor="test")
        await store.add_event(deployment.id, "note", "sre", "switched at 10:00")
        await downgrade(store._engine, "0006")  # as a database written by the previous release
    finally:
        await store.close()
    reopened = await Store.open(database_url)
    try:
        upgraded = await reopened.get(deployment.id)
        notes = [e.message for e in await reopened.events(deployment.id) if e.kind == "note"]
        assert upgraded.status is DeploymentStatus.PENDING
    finally:
        await reopened.close()
    assert (upgraded.spec.probes, upgraded.spec.preview_url) == ((), None)
    assert notes == ["switched at 10:00"]  # no table copy, so no cascade


async def test_nul_bytes_are_left_out_of_an_outcome_and_the_attempt_is_finished(
    store: Store, spec: DeploymentSpec, clock: Any
) -> None:
    # A binary answer's head has NUL bytes, which PostgreSQL's text refuses: left out, not retaken.
    deployment, _ = await store.register(_probed(spec), actor="test")
    claim = await store.claim_probe_attempt(deployment.id, "health", "canary", 0, "https://x/\x00a")
    assert claim is not None
    outcome = ProbeResult(
        "health", "https://x/\x00a", False, status=200, body_head="\x89PNG\x00\x00IHDR",
        failed="body lacks \x00ok",
    )  # fmt: skip
    clock.advance(1)
    assert await store.finish_probe_attempt(claim, outcome)
    [read] = await _finished(store, deployment.id, clock)
    assert (read.url, read.body_head, read.failed) == ("https://x/a", "\x89PNGIHDR", "body lacks ok")
    errored = await store.claim_probe_attempt(deployment.id, "health", "canary", 1, "https://x/")
    assert errored is not None
    broken = ProbeResult(
        "health", "https://x/", False, error=ErrorKind.CONNECTION, detail="reset\x00 by peer"
    )
    assert await store.finish_probe_attempt(errored, broken)
    claims = await store.probe_claims(deployment.id)
    assert all(c.finished for c in claims)


async def test_an_outcome_the_database_refuses_is_recorded_without_its_text_not_left_to_be_retaken(
    store: Store, spec: DeploymentSpec, clock: Any
) -> None:
    deployment, _ = await store.register(_probed(spec), actor="test")
    claim = await store.claim_probe_attempt(deployment.id, "health", "canary", 0, "https://x/")
    assert claim is not None
    # A lone surrogate cannot be encoded by either driver: the database (or driver) refuses it.
    outcome = ProbeResult("health", "https://x/", True, status=200, latency_s=0.2, body_head="\ud800")
    clock.advance(1)
    assert await store.finish_probe_attempt(claim, outcome)
    [read] = await _finished(store, deployment.id, clock)
    # A good answer stays good: only the text the database refused is dropped, and said so.
    assert read.ok and (read.status, read.latency_s, read.body_head) == (200, 0.2, "")
    assert read.failed is None and read.detail.startswith("the answer could not be stored (")
    [seen] = await store.probe_claims(deployment.id)
    assert seen.finished  # nothing left for another replica to retake
    # A failed answer stays failed, with the note in place of the assertion it failed.
    claim = await store.claim_probe_attempt(deployment.id, "health", "canary", 1, "https://x/")
    assert claim is not None
    bad = ProbeResult(
        "health", "https://x/", False, status=500, latency_s=0.1, body_head="\ud800",
        failed="status 500, expected 200",
    )  # fmt: skip
    clock.advance(1)
    assert await store.finish_probe_attempt(claim, bad)
    _, second = await _finished(store, deployment.id, clock)
    assert not second.ok and second.failed is not None
    assert second.failed.startswith("the answer could not be stored (")


async def test_a_look_sees_the_attempts_finished_before_it_not_those_begun_before_it(
    store: Store, spec: DeploymentSpec, clock: Any
) -> None:
    deployment, _ = await store.register(_probed(spec), actor="test")
    claim = await store.claim_probe_attempt(deployment.id, "health", "canary", 0, "https://x/")
    assert claim is not None
    clock.advance(5)
    look = clock.now  # the look is due while the attempt is in flight
    clock.advance(3)
    assert await store.finish_probe_attempt(claim, ProbeResult("health", "https://x/", True))
    # Evaluated now (after the attempt ended), the look still sees what it would have seen on time.
    assert await store.probe_results(deployment.id, "health", "canary", look) == []
    [read] = await _finished(store, deployment.id, clock)
    assert read.at == claim.started_at


async def test_progress_is_one_row_per_probe_and_role_of_every_deployment_asked(
    store: Store, spec: DeploymentSpec, clock: Any
) -> None:
    first, _ = await store.register(_probed(spec), actor="test")
    second, _ = await store.register(replace(_probed(spec), service="cart"), actor="test")
    done = ProbeResult("health", "https://x/", True)
    for seq in range(3):
        claim = await store.claim_probe_attempt(first.id, "health", "canary", seq, "https://x/")
        assert claim is not None
        clock.advance(1)
        if seq < 2:
            assert await store.finish_probe_attempt(claim, done)
    open_since = clock.now - timedelta(seconds=1)
    baseline = await store.claim_probe_attempt(first.id, "health", "baseline", 0, "https://x/")
    assert baseline is not None and await store.finish_probe_attempt(baseline, done)
    assert await store.claim_probe_attempt(second.id, "login", "canary", 0, "https://x/")
    progress = await store.probe_progress([first.id, second.id])
    assert {k: (p.last_seq, p.unfinished, p.oldest_unfinished_at) for k, p in progress.items()} == {
        (first.id, "health", "canary"): (2, 1, open_since),
        (first.id, "health", "baseline"): (0, 0, None),
        (second.id, "login", "canary"): (0, 1, clock.now),
    }
    assert set(await store.probe_progress([second.id])) == {(second.id, "login", "canary")}
    assert await store.probe_progress([]) == {}


async def test_past_the_cap_the_oldest_deployments_are_probed_and_a_warning_says_so_once_a_minute(
    store: Store, spec: DeploymentSpec, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    registered = []
    for service in ("checkout", "cart", "search"):  # one active deployment per service
        registered.append((await store.register(replace(_probed(spec), service=service), actor="test"))[0])
        clock.advance(1)
    assert [p.deployment.id for p in await store.probing(limit=3)] == [d.id for d in registered]
    assert "only the" not in caplog.text
    assert [p.deployment.id for p in await store.probing(limit=2)] == [d.id for d in registered[:2]]
    await store.probing(limit=2)
    assert caplog.text.count("more than 2 deployments have smoke probes") == 1
    clock.advance(61)
    await store.probing(limit=2)
    assert caplog.text.count("more than 2 deployments have smoke probes") == 2
