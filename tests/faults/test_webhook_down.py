"""The webhook receiver down for minutes when a final verdict is written.

The engine judges the bad canary against the real Prometheus; the receiver's port refuses
connections for ten minutes of the outbox's (manual) clock, over a daemon restart; then it comes
up and must get the verdict exactly once, signed, with the verdict the store holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.faults import SECRET, Clock, Hooks, serve, spec_of

from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings, WebhookSpec
from monitor.engine.scheduler import Scheduler, SchedulerSettings
from monitor.models import DeploymentStatus
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.simulate.prometheus import free_port
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

pytestmark = pytest.mark.prometheus


async def test_a_final_verdict_waits_out_a_dead_receiver_and_arrives_once(
    prometheus: SimulatedPrometheus, tmp_path: Path
) -> None:
    port = free_port()
    webhook = WebhookSpec("pager", f"http://127.0.0.1:{port}/hook", SECRET)
    outbox_clock = Clock(datetime.now(UTC))
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = await Store.open(url, clock=outbox_clock)
    spec = spec_of(prometheus, "errors_3x")
    deployment, _ = await store.register(spec, actor="pipeline")
    source = PrometheusSource(prometheus.url)
    engine_clock = Clock(spec.started_at + timedelta(seconds=spec.max_duration_s + 60))
    notifier = Notifier(Settings(webhooks=(webhook,)))
    try:
        await Scheduler(
            store, source, load_profile, SchedulerSettings(owner="a"), engine_clock, notifier=notifier
        ).run_once()
    finally:
        await source.close()
    assert (await store.get(deployment.id)).status is DeploymentStatus.FAIL
    deliverer = Deliverer(store, channels=channels_for(Settings(webhooks=(webhook,))), clock=outbox_clock)
    for _ in range(10):  # ten minutes of refused connections
        assert await deliverer.run_once() == 0
        outbox_clock.now += timedelta(minutes=1)
    assert (await store.outbox_backlog())[0] == 1  # still owed, not dropped
    await store.close()  # and the daemon restarts meanwhile
    receiver = Hooks()
    _, runner = await serve(receiver.handle, port)
    reopened = await Store.open(url, clock=outbox_clock)
    try:
        again = Deliverer(reopened, channels=channels_for(Settings(webhooks=(webhook,))), clock=outbox_clock)
        outbox_clock.now += timedelta(minutes=5)  # past the longest backoff
        assert await again.run_once() == 1
        outbox_clock.now += timedelta(hours=1)
        assert await again.run_once() == 0
    finally:
        await runner.cleanup()
        await reopened.close()
    [final] = receiver.finals(deployment.id)
    assert final["verdict"] == "fail"
