"""Which rollback actions a final ``fail`` triggers, by the environment's policy and each action's scope.

``auto`` runs every action in scope; ``signal`` only the webhooks (a pipeline decides);
``off`` none. One outbox item per action and deployment, keyed by both, so however many
replicas judge the deployment, each action is requested at most once.
"""

from __future__ import annotations

from monitor.models import Deployment
from monitor.rollback.base import Target
from monitor.rollback.configured import ActionType, RollbackPolicy, RollbackSpec
from monitor.store import OutboxItem

KIND = "rollback"


def rollback_items(spec: RollbackSpec, policy: RollbackPolicy, deployment: Deployment) -> list[OutboxItem]:
    """The outbox items of the actions that undo ``deployment`` (call only for a final fail)."""
    if policy is RollbackPolicy.OFF:
        return []
    service, environment = deployment.spec.service, deployment.spec.environment
    return [
        OutboxItem(
            f"{KIND}:{action.name}",
            f"{deployment.id}:{KIND}:{action.name}",
            Target.of(deployment, action.name).to_json(),
        )
        for action in spec.actions
        if action.applies_to(service, environment)
        and (policy is RollbackPolicy.AUTO or action.type is ActionType.WEBHOOK)
    ]
