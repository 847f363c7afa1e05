"""Rollback configuration and policy: which actions a final fail requests, and at most once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.channels.notify import Notifier
from monitor.config import Settings, load_settings
from monitor.environments import Environments
from monitor.errors import ConfigError
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.rollback.base import ActionError, Target
from monitor.rollback.configured import ActionType, RollbackPolicy
from monitor.store import Store

CONFIG = """\
environments:
  staging: {rollback: auto}
rollback:
  actions:
    - {name: jenkins, type: webhook, url: https://jenkins.example.com/hook, secret_env: HOOK_SECRET}
    - {name: rollouts, type: argo-rollouts, namespace: shop, rollout: $service}
    - {name: undo, type: kubernetes-deployment, namespace: "${label_namespace}", deployment: $service}
    - {name: helm, type: helm, namespace: shop, release: $service, services: [cart]}
    - {name: argocd, type: argocd, url: https://argocd.example.com, token_env: ARGOCD_TOKEN,
       application: $service, dry_run: true}
    - {name: flags, type: feature-flag, url: "https://flags.example.com/api/flags/$flag", method: PATCH,
       environments: [production]}
"""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HOOK_SECRET", "s" * 32)
    monkeypatch.setenv("ARGOCD_TOKEN", "a" * 32)
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG)
    return load_settings(path, environ={})


def _deployment(environment: str, service: str = "checkout", status: str = "fail") -> Deployment:
    spec = DeploymentSpec(
        service, environment, "v2", "v1", Strategy.CANARY, datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "otel-http", 0, 60, 600, 1800, (("namespace", "shop-eu"), ("feature_flag", "new-checkout")),
    )  # fmt: skip
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    return Deployment("d-1", spec, DeploymentStatus(status), "", at, at)


def _actions(settings: Settings, deployment: Deployment, verdict: str = "fail") -> list[str]:
    notifier = Notifier(settings, Environments(settings.environments))
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    return [
        i.kind for i in notifier.final(deployment, verdict, at, "s", "{}") if i.kind.startswith("rollback:")
    ]


def test_the_config_parses_every_action_type(settings: Settings) -> None:
    actions = {a.name: a for a in settings.rollback.actions}
    assert [a.type for a in actions.values()] == list(ActionType)
    assert actions["argocd"].dry_run and actions["argocd"].secret == "a" * 32
    assert "a" * 32 not in repr(actions["argocd"])  # secrets never printed
    assert actions["helm"].services == ("cart",)
    target = Target.of(_deployment("production"), "undo")
    assert target.render(actions["undo"].param("namespace"), "undo.namespace") == "shop-eu"


def test_the_policy_decides_which_actions_a_fail_requests(settings: Settings) -> None:
    # production signals by default: the webhook only; flags is scoped to production but acts
    assert _actions(settings, _deployment("production")) == ["rollback:jenkins"]
    # staging is auto in this config: every action in scope (helm is for cart, flags for production)
    assert _actions(settings, _deployment("staging")) == [
        "rollback:jenkins", "rollback:rollouts", "rollback:undo", "rollback:argocd"
    ]  # fmt: skip
    assert "rollback:helm" in _actions(settings, _deployment("staging", service="cart"))
    assert _actions(settings, _deployment("development")) == []  # off by default
    assert _actions(settings, _deployment("staging"), verdict="marginal") == []
    assert _actions(settings, _deployment("staging"), verdict="inconclusive") == []


def test_builtin_policies() -> None:
    envs = Environments()
    assert {name: envs.get(name).rollback for name in envs.names} == {  # type: ignore[union-attr]
        "production": RollbackPolicy.SIGNAL,
        "staging": RollbackPolicy.SIGNAL,
        "testing": RollbackPolicy.OFF,
        "development": RollbackPolicy.OFF,
    }


@pytest.mark.parametrize(
    ("snippet", "where", "fix"),
    [
        ("rollback:\n  actions:\n    - {name: x, type: argo-rollout, namespace: a, rollout: b}\n",
         "rollback.actions[0].type", "use one of: webhook, argo-rollouts"),
        ("rollback:\n  actions:\n    - {name: x, type: helm, namespace: a}\n",
         "rollback.actions[0].release", "helm actions need release"),
        ("rollback:\n  actions:\n    - {name: x, type: helm, namespace: a, release: b, image: c}\n",
         "rollback.actions[0].image", "helm actions take"),
        ("rollback:\n  actions:\n    - {name: x, type: argocd, url: https://a, application: b}\n",
         "rollback.actions[0]", "set token_file"),
        ("rollback:\n  actions:\n    - {name: x, type: helm, namespace: a, release: b}\n"
         "    - {name: x, type: helm, namespace: a, release: c}\n",
         "rollback.actions[1].name", "duplicate name"),
        ("environments:\n  production: {rollback: yes-please}\n", "environments.production.rollback",
         "auto, signal or off"),
    ],
)  # fmt: skip
def test_bad_rollback_config_names_the_field_and_line(
    tmp_path: Path, snippet: str, where: str, fix: str
) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(snippet)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert where in message and fix in message
    assert re.search(r"monitor\.yaml:\d+: ", message), message  # the file and line


def test_a_template_naming_a_missing_label_is_a_clear_action_error() -> None:
    target = Target.of(_deployment("production"), "undo")
    with pytest.raises(
        ActionError, match=r"names \$label_team, which deployment d-1 does not have"
    ) as caught:
        target.render("${label_team}", "undo.namespace")
    assert not caught.value.retryable


async def test_an_action_is_queued_at_most_once_per_deployment(
    tmp_path: Path, clock: Any, settings: Settings
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}", clock=clock)
    try:
        deployment, _ = await store.register(_deployment("staging").spec, actor="test")
        notifier = Notifier(settings, Environments(settings.environments))
        items = [
            i for i in notifier.final(deployment, "fail", clock(), "s", "{}") if i.kind.startswith("rollback")
        ]
        assert await store.enqueue(deployment.id, items) == 4
        assert await store.enqueue(deployment.id, items) == 0  # another replica, or a retry: nothing new
        assert (await store.outbox_backlog())[0] == 4
    finally:
        await store.close()
