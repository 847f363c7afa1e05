"""The probe worker under load and odd answers, with a real store (SQLite) and a real local server:
a claim is made only when a runner slot is free (so no queued claim ages towards a retake), a
poll is two queries however many deployments, a binary answer is stored, and an attempt whose
deployment was deleted says so."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from probe_server import Target
from sqlalchemy import text
from worker_fixtures import Clock

from monitor.engine.probing import RETAKE_MARGIN_S, ProbeWorker, StoredProbeAttempts
from monitor.models import DeploymentSpec, ProbeSpec, Strategy
from monitor.probes.runner import ProbeRunner
from monitor.store import Store

FAR = datetime(2100, 1, 1, tzinfo=UTC)


def _deployment(clock: Clock, *probes: ProbeSpec, service: str = "checkout") -> DeploymentSpec:
    return DeploymentSpec(
        service=service, environment="production", version="v2", baseline_version="v1",
        strategy=Strategy.CANARY, started_at=clock.now, profile="otel-http", warmup_s=60, interval_s=60,
        min_duration_s=300, max_duration_s=1800, probes=probes,
    )  # fmt: skip


async def test_a_claim_is_made_only_with_a_runner_slot_free_so_none_waits_to_look_stale(
    target: Target, store: Store, clock: Clock
) -> None:
    # Three probes that never answer in time, two slots: the third is claimed only when it can start.
    probes = [
        ProbeSpec(f"slow{n}", target.url("/slow"), count=1, fail_after=1, timeout_s=0.3) for n in range(3)
    ]
    deployment, _ = await store.register(_deployment(clock, *probes), actor="test")
    async with aiohttp.ClientSession() as session:
        worker = ProbeWorker(store, (), ProbeRunner(session, concurrency=2), clock, slots=2)
        assert await worker.run_once() == 2
        assert len(await store.probe_claims(deployment.id)) == 2  # no claim queued behind a slot
        assert await worker.run_once() == 0  # both slots busy: nothing claimed
        await worker.drain(5.0)
        # Long after: the third claim is stamped when its request starts, so another replica sees
        # it fresh, never abandoned.
        clock.advance(probes[2].timeout_s + RETAKE_MARGIN_S + 60)
        assert await worker.run_once() == 1
        other = ProbeWorker(store, (), ProbeRunner(session, concurrency=2), clock, slots=2)
        assert await other.run_once() == 0
        await worker.drain(5.0)
    claims = await store.probe_claims(deployment.id)
    assert [(c.probe, c.finished) for c in claims] == [("slow0", True), ("slow1", True), ("slow2", True)]
    assert claims[2].started_at == clock.now


async def test_a_poll_is_two_queries_and_a_finished_probe_is_not_claimed_again(
    target: Target, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = ProbeSpec("done", target.url("/ok"), count=1, fail_after=1)
    for service in ("checkout", "cart", "search"):
        await store.register(_deployment(clock, done, service=service), actor="test")
    async with aiohttp.ClientSession() as session:
        worker = ProbeWorker(store, (), ProbeRunner(session), clock)
        assert await worker.run_once() == 3
        await worker.drain(5.0)
        clock.advance(60)
        calls: list[str] = []
        for name in ("probing", "probe_progress", "probe_claims", "claim_probe_attempt"):
            original = getattr(store, name)

            async def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
                calls.append(_name)
                return await _original(*args)

            monkeypatch.setattr(store, name, counted)
        assert await worker.run_once() == 0
    assert calls == ["probing", "probe_progress"]


async def test_a_binary_answer_is_stored_without_its_nul_bytes(
    target: Target, store: Store, clock: Clock
) -> None:
    probe = ProbeSpec("logo", target.url("/binary"), count=1, fail_after=1, body_contains="GIF")
    deployment, _ = await store.register(_deployment(clock, probe), actor="test")
    async with aiohttp.ClientSession() as session:
        worker = ProbeWorker(store, (), ProbeRunner(session), clock)
        assert await worker.run_once() == 1
        await worker.drain(5.0)
    [attempt] = await StoredProbeAttempts(store, deployment.id).attempts("logo", "canary", FAR)
    assert not attempt.ok and attempt.status == 200 and "\x00" not in attempt.body_head
    assert attempt.body_head.startswith("\ufffdPNG")  # the rest of the head is kept
    assert [c.finished for c in await store.probe_claims(deployment.id)] == [True]


async def test_an_attempt_whose_deployment_was_deleted_meanwhile_says_so(
    target: Target, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    probe = ProbeSpec("slow", target.url("/slow"), count=1, fail_after=1, timeout_s=0.3)
    await store.register(_deployment(clock, probe), actor="test")
    async with aiohttp.ClientSession() as session:
        worker = ProbeWorker(store, (), ProbeRunner(session), clock)
        assert await worker.run_once() == 1
        async with store._engine.begin() as connection:
            await connection.execute(text("DELETE FROM deployments"))  # as retention would
        with caplog.at_level(logging.WARNING, logger="monitor.engine.probing"):
            await worker.drain(5.0)
    assert "was retaken by another replica (its outcome is theirs) or its deployment deleted" in caplog.text
