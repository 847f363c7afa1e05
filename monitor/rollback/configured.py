"""The configured rollback as values: the actions, and what an environment does on a fail.

Kept apart from the ``rollback:`` section's models (:mod:`monitor.rollback.spec`) so that a
command run without a config file does not import the validation models (bench/analyze_latency.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ActionType(StrEnum):
    """What an action does; only ``webhook`` merely signals (it runs under ``rollback: signal``)."""

    WEBHOOK = "webhook"
    ARGO_ROLLOUTS = "argo-rollouts"
    KUBERNETES_DEPLOYMENT = "kubernetes-deployment"
    HELM = "helm"
    ARGOCD = "argocd"
    FEATURE_FLAG = "feature-flag"


class RollbackPolicy(StrEnum):
    """Per environment: act by itself, only signal pipelines, or do nothing."""

    AUTO = "auto"
    SIGNAL = "signal"
    OFF = "off"


@dataclass(frozen=True)
class RollbackAction:
    """One configured action: its kind, its targets (templates) and its scope."""

    name: str
    type: ActionType
    params: tuple[tuple[str, str], ...]
    secret: str | None = field(default=None, repr=False)
    environments: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    dry_run: bool = False

    def param(self, key: str, default: str = "") -> str:
        """A parameter's template text."""
        return dict(self.params).get(key, default)

    def applies_to(self, service: str, environment: str) -> bool:
        """True when the action's scope covers the deployment."""
        return (not self.environments or environment in self.environments) and (
            not self.services or service in self.services
        )


@dataclass(frozen=True)
class RollbackSpec:
    """The ``rollback:`` section."""

    actions: tuple[RollbackAction, ...] = ()
    kubeconfig: str | None = None
    kube_context: str | None = None
