"""Rollback actions against the Kubernetes API and Argo CD, run by the outbox.

No Kubernetes API server or Argo CD can run here: ``kubernetes`` / ``make_kubernetes`` and
``argocd`` are fakes built from their documented contracts (``docs/integrations.md`` and the
Kubernetes API conventions; ``tests/fakes/``). The clients are the real ones: kubernetes_asyncio
for Rollouts and Deployments, helm-python-sdk (Helm v4's Go SDK) for Helm; the store is SQLite.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fakes.argocd import ADMIN_TOKEN as ARGOCD_TOKEN
from fakes.kubernetes import ADMIN_TOKEN, container_template

from monitor.channels.notify import Notifier
from monitor.channels.outbox import Deliverer
from monitor.channels.registry import channels_for
from monitor.config import Settings
from monitor.environments import EnvironmentDefaults
from monitor.models import Deployment, DeploymentSpec, Strategy
from monitor.rollback.base import Target
from monitor.rollback.configured import ActionType, RollbackAction, RollbackPolicy, RollbackSpec
from monitor.simulate.prometheus import free_port
from monitor.store import Delivery, Store, StoredVerdict

SPEC = DeploymentSpec(
    "checkout", "production", "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    "otel-http", 0, 60, 600, 1800, (("namespace", "shop"),),
)  # fmt: skip
VERSION = "app.kubernetes.io/version"


@pytest.fixture
async def store(tmp_path: Path, clock: Any) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    yield opened
    await opened.close()


def _kubeconfig(tmp_path: Path, fake: Any, token: str = ADMIN_TOKEN) -> str:
    path = tmp_path / f"kubeconfig-{token}"
    cluster = {"server": fake.url, "certificate-authority": str(fake.ca_file)}
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": cluster}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "sa"}}],
    }  # fmt: skip
    path.write_text(json.dumps(config))
    return str(path)


def _settings(action: RollbackAction, kubeconfig: str | None = None) -> Settings:
    auto = EnvironmentDefaults("production", rollback=RollbackPolicy.AUTO)
    return Settings(environments=(auto,), rollback=RollbackSpec((action,), kubeconfig=kubeconfig))


async def _fail(store: Store, settings: Settings) -> Deployment:
    deployment, _ = await store.register(SPEC, actor="test")
    await store.claim_due("engine", lease_s=30)
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    document = json.dumps({"verdict": "fail"})
    await store.record_verdict(
        deployment.id, owner="engine", verdict=StoredVerdict(30, at, "fail", 10.0, True, document),
        next_look_at=None, notifications=Notifier(settings).final(deployment, "fail", at, "s", document),
    )  # fmt: skip
    return deployment


async def _deliver(store: Store, settings: Settings, clock: Any) -> int:
    deliverer = Deliverer(store, channels=channels_for(settings, store), clock=clock)
    try:
        return await deliverer.run_once()
    finally:
        await deliverer.close()


async def _events(store: Store, deployment_id: str) -> list[str]:
    return [e.message for e in await store.events(deployment_id) if e.kind == "rollback"]


async def _redeliver(store: Store, settings: Settings, deployment: Deployment, action: str) -> None:
    """The same request again, as after a crash between acting and acknowledging it."""
    channel = channels_for(settings, store)["rollback"]
    item = Delivery(0, deployment.id, f"rollback:{action}", "key", Target.of(deployment, action).to_json(), 2)
    try:
        async with aiohttp.ClientSession() as session:
            assert (await channel.send(session, item)).outcome.value == "delivered"
    finally:
        await channel.close()


def _template(version: str) -> dict[str, Any]:
    return container_template(
        f"registry.example.com/checkout:{version}", {"app": "checkout", VERSION: version}
    )


ROLLOUTS = RollbackAction(
    "rollouts", ActionType.ARGO_ROLLOUTS, (("namespace", "${label_namespace}"), ("rollout", "$service"))
)


@pytest.mark.parametrize("subresource", [True, False])
async def test_argo_rollouts_abort_merge_patches_status_abort(
    make_kubernetes: Any, store: Store, tmp_path: Path, clock: Any, subresource: bool
) -> None:
    fake = make_kubernetes(tls=True, rollout_status_subresource=subresource)
    fake.add_rollout(
        "shop", "checkout", _template("v2"), revision_templates=[_template("v1")], promoted=False
    )
    settings = _settings(ROLLOUTS, _kubeconfig(tmp_path, fake))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 1
    assert fake.rollout("shop", "checkout")["status"]["abort"] is True
    patches = fake.requests_to("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/checkout")
    assert [r.headers["Content-Type"] for r in patches] == ["application/merge-patch+json"] * len(patches)
    assert [r.path.endswith("/status") for r in patches] == ([True] if subresource else [True, False])
    [event] = await _events(store, deployment.id)
    where = "status subresource" if subresource else "resource (no status subresource)"
    assert (
        event == f"rollouts (argo-rollouts): aborted Rollout shop/checkout (status.abort=true on the {where})"
    )


async def test_an_unknown_rollout_and_a_missing_rbac_verb_are_recorded_and_not_retried(
    make_kubernetes: Any, store: Store, tmp_path: Path, clock: Any
) -> None:
    fake = make_kubernetes(tls=True, tokens={"get-only": {"argoproj.io/rollouts": {"get"}}})
    settings = _settings(ROLLOUTS, _kubeconfig(tmp_path, fake))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 0
    [event] = await _events(store, deployment.id)
    assert 'rollouts.argoproj.io "checkout" not found' in event and "namespace and name templates" in event
    assert "not retried" in event

    fake.add_rollout(
        "shop", "checkout", _template("v2"), revision_templates=[_template("v1")], promoted=False
    )
    # A later deploy of the service fails too; this time the Rollout exists but the token may only read it.
    restricted = _settings(ROLLOUTS, _kubeconfig(tmp_path, fake, "get-only"))
    clock.advance(60)
    newest = await _fail(store, restricted)
    assert await _deliver(store, restricted, clock) == 0
    [forbidden] = await _events(store, newest.id)
    assert "HTTP 403" in forbidden and "cannot patch resource" in forbidden and "lacks this verb" in forbidden
    assert fake.rollout("shop", "checkout")["status"].get("abort") is not True
    clock.advance(3600)
    assert await store.claim_deliveries(claim_s=60) == []


UNDO = RollbackAction(
    "undo", ActionType.KUBERNETES_DEPLOYMENT, (("namespace", "shop"), ("deployment", "$service"))
)


async def test_deployment_undo_restores_the_previous_revision_once(
    make_kubernetes: Any, store: Store, tmp_path: Path, clock: Any
) -> None:
    fake = make_kubernetes(tls=True)
    fake.add_deployment("shop", "checkout", _template("v2"), revision_templates=[_template("v1")])
    settings = _settings(UNDO, _kubeconfig(tmp_path, fake))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 1
    restored = fake.deployment("shop", "checkout")
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1")
    assert restored["spec"]["template"]["metadata"]["labels"][VERSION] == "v1"
    assert "pod-template-hash" not in restored["spec"]["template"]["metadata"]["labels"]
    assert restored["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    [event] = await _events(store, deployment.id)
    assert (
        event
        == "undo (kubernetes-deployment): rolled Deployment shop/checkout back from revision 2 to revision 1"
    )

    # The same request again (a retry after a crash before the acknowledgement) changes nothing.
    await _redeliver(store, settings, deployment, "undo")
    revision = fake.deployment("shop", "checkout")["metadata"]["annotations"][
        "deployment.kubernetes.io/revision"
    ]
    assert revision == "3"
    assert (await _events(store, deployment.id))[-1].endswith("runs v1, not v2: nothing to undo")


HELM = RollbackAction("helm", ActionType.HELM, (("namespace", "shop"), ("release", "$service")))


async def test_helm_rollback_to_the_previous_revision_once(
    make_kubernetes: Any, store: Store, tmp_path: Path, clock: Any
) -> None:
    fake = make_kubernetes(tls=True)
    fake.add_helm_release("shop", "checkout", 1, status="superseded", values={"tag": "v1"})
    fake.add_helm_release("shop", "checkout", 2, values={"tag": "v2"})
    settings = _settings(HELM, _kubeconfig(tmp_path, fake))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 1
    releases = {r["version"]: r for r in fake.helm_releases("shop", "checkout")}
    assert sorted(releases) == [1, 2, 3] and releases[3]["config"] == {"tag": "v1"}
    assert releases[3]["info"]["description"] == "Rollback to 1"
    events = await _events(store, deployment.id)
    assert events == [
        "helm (helm): rolling back from revision 2",
        "helm (helm): rolled Helm release shop/checkout back to revision 1 (new revision 3)",
    ]
    await _redeliver(store, settings, deployment, "helm")  # revision 3 is past 2: nothing to do
    assert len(fake.helm_releases("shop", "checkout")) == 3
    assert (await _events(store, deployment.id))[-1].endswith("is at revision 3, past 2: already rolled back")


async def test_a_missing_helm_release_is_recorded_and_not_retried(
    make_kubernetes: Any, store: Store, tmp_path: Path, clock: Any
) -> None:
    fake = make_kubernetes(tls=True)
    settings = _settings(HELM, _kubeconfig(tmp_path, fake))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 0
    [event] = await _events(store, deployment.id)
    assert "Helm release shop/checkout not found" in event and "not retried" in event


def _argocd_action(fake: Any) -> RollbackAction:
    return RollbackAction("argocd", ActionType.ARGOCD, (("url", fake.url), ("application", "$service")),
                          secret=ARGOCD_TOKEN)  # fmt: skip


async def test_argocd_rolls_back_to_the_previous_history_entry(argocd: Any, store: Store, clock: Any) -> None:
    good, bad = "1" * 40, "2" * 40
    argocd.add_app("checkout", revisions=[good, bad])
    settings = _settings(_argocd_action(argocd))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 1
    [rollback] = argocd.rollbacks
    assert (rollback.app, rollback.id, rollback.revision, rollback.dry_run) == ("checkout", 0, good, False)
    assert argocd.app("checkout")["status"]["sync"]["revision"] == good
    assert await _events(store, deployment.id) == [
        "argocd (argocd): rolling back from history 1",  # recorded first: a retry will not roll back twice
        f"argocd (argocd): rolled Argo CD application checkout back to history 0 ({good})",
    ]
    await _redeliver(store, settings, deployment, "argocd")  # history 2 is past 1: nothing to do
    assert len(argocd.rollbacks) == 1
    assert (await _events(store, deployment.id))[-1].endswith("is at history 2, past 1: already rolled back")


async def test_argocd_refuses_while_auto_sync_is_on_and_says_what_to_do(
    argocd: Any, store: Store, clock: Any
) -> None:
    argocd.add_app("checkout", revisions=["1" * 40, "2" * 40], auto_sync=True)
    settings = _settings(_argocd_action(argocd))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 0
    assert argocd.rollbacks == []
    [_, event] = await _events(store, deployment.id)
    assert "rollback cannot be initiated when auto-sync is enabled" in event
    assert "disable automated sync" in event and "not retried" in event


async def test_an_unreachable_kubernetes_api_is_retried_without_stopping_the_outbox(
    store: Store, tmp_path: Path, clock: Any
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "down",
        "clusters": [{"name": "down", "cluster": {"server": server}}],
        "users": [{"name": "sa", "user": {"token": "t"}}],
        "contexts": [{"name": "down", "context": {"cluster": "down", "user": "sa"}}],
    }))  # fmt: skip
    settings = _settings(ROLLOUTS, str(kubeconfig))
    deployment = await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 0
    [event] = await _events(store, deployment.id)
    assert "Kubernetes API unreachable" in event and event.endswith("; retrying")
    assert (await store.outbox_backlog())[0] == 1  # kept, retried with backoff
    clock.advance(2)
    assert len(await store.claim_deliveries(claim_s=60)) == 1


async def test_argocd_apps_in_another_namespace_are_addressed_with_app_namespace(
    argocd: Any, store: Store, clock: Any
) -> None:
    argocd.add_app("checkout", revisions=["1" * 40, "2" * 40])
    action = RollbackAction(
        "argocd", ActionType.ARGOCD,
        (("url", argocd.url), ("application", "$service"), ("app_namespace", "team-$environment")),
        secret=ARGOCD_TOKEN,
    )  # fmt: skip
    settings = _settings(action)
    await _fail(store, settings)
    assert await _deliver(store, settings, clock) == 1
    [read] = argocd.requests_to("GET", "/api/v1/applications/checkout")
    [rollback] = argocd.requests_to("POST", "/api/v1/applications/checkout/rollback")
    assert read.query["appNamespace"] == ["team-production"]
    assert rollback.body["appNamespace"] == "team-production"
