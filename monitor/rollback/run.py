"""Running one rollback action by its type: the HTTP actions, the Kubernetes ones, Helm.

Rollbacks to "the previous revision" (Helm, Argo CD) are not idempotent: a retry after a success
that was never acknowledged would roll back once more. Their caller passes a :class:`Resume`:
where an earlier attempt started, and how to record a start before acting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from monitor.rollback import http
from monitor.rollback.base import ActionResult, Target
from monitor.rollback.configured import ActionType, RollbackAction, RollbackSpec
from monitor.rollback.helm import helm_rollback
from monitor.rollback.kubernetes import Kube, argo_rollouts_abort, deployment_undo


@dataclass(frozen=True)
class Resume:
    """The position (revision, history id) an earlier attempt started from, and how to record one."""

    started: int | None
    mark: Callable[[int], Coroutine[Any, Any, None]]


async def run_action(
    session: aiohttp.ClientSession,
    kube: Kube,
    spec: RollbackSpec,
    action: RollbackAction,
    target: Target,
    idempotency_key: str,
    resume: Callable[[], Awaitable[Resume]],
) -> ActionResult:
    """Run ``action`` against ``target`` (``resume`` is read only by the non-idempotent actions)."""
    dry = action.dry_run
    match action.type:
        case ActionType.WEBHOOK:
            return await http.webhook(session, action, target, idempotency_key, dry)
        case ActionType.FEATURE_FLAG:
            return await http.feature_flag(session, action, target, dry)
        case ActionType.ARGO_ROLLOUTS:
            return await argo_rollouts_abort(kube, action, target, dry)
        case ActionType.KUBERNETES_DEPLOYMENT:
            return await deployment_undo(kube, action, target, dry)
        case ActionType.HELM:
            at = await resume()
            return await helm_rollback(spec, action, target, dry, started=at.started, mark=at.mark)
        case ActionType.ARGOCD:
            at = await resume()
            return await http.argocd(session, action, target, dry, started=at.started, mark=at.mark)
