"""A deployment's before/after baseline choice is stored and read back, and the upgrade that adds it
keeps what older deployments had (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from monitor.models import BaselineChoice, DeploymentSpec, Strategy
from monitor.store import Store
from monitor.store.migrate import downgrade
from monitor.store.rows import request_hash


@pytest.mark.parametrize("choice", list(BaselineChoice))
async def test_the_baseline_choice_is_read_back_as_registered(
    store: Store, spec: DeploymentSpec, choice: BaselineChoice
) -> None:
    rolling = replace(spec, strategy=Strategy.ROLLING, baseline=choice)
    registered, created = await store.register(rolling, actor="test")
    assert created
    assert (await store.get(registered.id)).spec == rolling


async def test_a_registration_retried_with_its_key_matches_only_the_same_choice(
    store: Store, spec: DeploymentSpec
) -> None:
    day = replace(spec, strategy=Strategy.ROLLING, baseline=BaselineChoice.DAY)
    first, _ = await store.register(day, actor="test", idempotency_key="build-7")
    again, created = await store.register(day, actor="test", idempotency_key="build-7")
    assert (again.id, created) == (first.id, False)
    assert request_hash(day) != request_hash(replace(day, baseline=BaselineChoice.WEEK))


def test_the_default_choice_leaves_the_request_digest_as_before_the_field(spec: DeploymentSpec) -> None:
    """A key's digest from before the upgrade still matches the same registration after it."""
    # The digest as the release before the field computed it: every column value but the new one.
    before = {
        "service": spec.service, "environment": spec.environment, "version": spec.version,
        "baseline_version": spec.baseline_version, "strategy": spec.strategy.value,
        "started_at": spec.started_at.isoformat(), "profile": spec.profile, "warmup_s": spec.warmup_s,
        "interval_s": spec.interval_s, "min_duration_s": spec.min_duration_s,
        "max_duration_s": spec.max_duration_s, "labels": dict(spec.labels),
    }  # fmt: skip
    old = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    assert request_hash(spec) == old
    assert request_hash(replace(spec, baseline=BaselineChoice.DAY)) != old


async def test_the_upgrade_gives_older_deployments_the_previous_baseline_and_keeps_their_history(
    database_url: str, spec: DeploymentSpec
) -> None:
    store = await Store.open(database_url)
    try:
        deployment, _ = await store.register(replace(spec, strategy=Strategy.BLUEGREEN), actor="test")
        await store.add_event(deployment.id, "note", "sre", "switched at 10:00")
        await downgrade(store._engine, "0005")  # as a database written by the previous release
    finally:
        await store.close()
    reopened = await Store.open(database_url)  # migrates to the newest revision
    try:
        upgraded = await reopened.get(deployment.id)
        events = await reopened.events(deployment.id)
    finally:
        await reopened.close()
    assert upgraded.spec.baseline is BaselineChoice.PREVIOUS
    # Adding the column did not copy the table: its audit trail (ON DELETE CASCADE) is intact.
    assert [e.message for e in events if e.kind == "note"] == ["switched at 10:00"]
