"""Running rollback actions from the outbox, with their results in the deployment's audit trail.

Before acting, the channel checks that no newer deployment of the service in the environment
exists: a superseded deployment is never rolled back (that would undo the newer one). A dry
run records what the action would do. A success resolves the deployment's page. Failures that
may pass (timeouts, 5xx, 409, 429) are retried by the outbox; the others (unknown rollout, no
RBAC permission, missing Helm release, a flag service's 4xx) are abandoned with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import aiohttp

from monitor.actions.channels import DELIVERED, Attempt, Outcome
from monitor.actions.notify import Notifier
from monitor.errors import NotFoundError
from monitor.own_metrics import EngineMetrics
from monitor.rollback import http
from monitor.rollback.base import ActionError, ActionResult, Target
from monitor.rollback.helm import helm_rollback
from monitor.rollback.kubernetes import Kube, argo_rollouts_abort, deployment_undo
from monitor.rollback.spec import ActionType, RollbackAction, RollbackSpec
from monitor.store import Delivery, Store

log = logging.getLogger(__name__)
EVENT = "rollback"


class RollbackChannel:
    """The outbox channel of ``rollback:<action>`` items."""

    def __init__(
        self,
        store: Store,
        spec: RollbackSpec,
        notifier: Notifier,
        metrics: EngineMetrics | None = None,
        kube: Kube | None = None,
    ) -> None:
        self._store, self._spec, self._notifier, self._metrics = store, spec, notifier, metrics
        self._actions = {action.name: action for action in spec.actions}
        self._kube = kube or Kube(spec)
        if metrics is not None:
            metrics.expect_rollback_actions(spec.actions)

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        target = Target.from_json(item.payload_json)
        action = self._actions.get(target.action)
        if action is None:
            return Attempt(Outcome.FAILED, f"rollback action {target.action!r} is no longer configured")
        label = f"{action.name} ({action.type})"
        newer = await self._newer(target)
        if newer is not None:
            await self._record(target, action, "skipped", f"{label}: not run: {newer}")
            return DELIVERED
        try:
            result = await self._run(session, action, target, item.idempotency_key)
        except Exception as exc:  # an action's bug must not stop the outbox
            if not isinstance(exc, ActionError):
                log.exception(
                    "rollback %s of deployment %s: unexpected error", action.name, target.deployment_id
                )
                exc = ActionError(f"unexpected {type(exc).__name__}: {exc}", retryable=True)
            if not exc.retryable or item.attempts == 1:
                retry = "; retrying" if exc.retryable else "; not retried: fix the cause, then act by hand"
                await self._record(target, action, "failed", f"{label} failed: {exc}{retry}")
            elif self._metrics is not None:
                self._metrics.rollbacks.labels(
                    target.service, target.environment, action.name, "failed"
                ).inc()
            return Attempt(Outcome.FAILED if exc.retryable else Outcome.ABANDONED, str(exc))
        if action.dry_run:
            await self._record(target, action, "dry_run", f"{label} dry run: {result.detail}")
            return DELIVERED
        await self._record(target, action, "done", f"{label}: {result.detail}")
        if result.changed:
            await self._resolve_page(target, action)
        return DELIVERED

    async def _newer(self, target: Target) -> str | None:
        """Why the deployment no longer stands (a newer one of its service), or None."""
        newest = await self._store.list_deployments(
            service=target.service, environment=target.environment, limit=1
        )
        if newest and newest[0].id != target.deployment_id:
            return f"deployment superseded by {newest[0].id} ({newest[0].spec.version})"
        return None

    async def _run(
        self, session: aiohttp.ClientSession, action: RollbackAction, target: Target, key: str
    ) -> ActionResult:
        dry = action.dry_run
        match action.type:
            case ActionType.WEBHOOK:
                return await http.webhook(session, action, target, key, dry)
            case ActionType.FEATURE_FLAG:
                return await http.feature_flag(session, action, target, dry)
            case ActionType.ARGO_ROLLOUTS:
                return await argo_rollouts_abort(self._kube, action, target, dry)
            case ActionType.KUBERNETES_DEPLOYMENT:
                return await deployment_undo(self._kube, action, target, dry)
            case ActionType.HELM:
                started, mark = await self._marker(action, target, "rolling back from revision ")
                return await helm_rollback(self._spec, action, target, dry, started=started, mark=mark)
            case ActionType.ARGOCD:
                started, mark = await self._marker(action, target, "rolling back from history ")
                return await http.argocd(session, action, target, dry, started=started, mark=mark)

    async def _marker(
        self, action: RollbackAction, target: Target, text: str
    ) -> tuple[int | None, Callable[[int], Coroutine[Any, Any, None]]]:
        """Where an earlier attempt started (from the audit trail), and how to record a start.

        Rollbacks to "the previous revision" are not idempotent: a retry after a success that
        was never acknowledged would roll back once more. The start is recorded before acting.
        """
        prefix = f"{action.name} ({action.type}): {text}"
        started = [
            int(e.message.removeprefix(prefix))
            for e in await self._store.events(target.deployment_id)
            if e.kind == EVENT and e.message.startswith(prefix)
        ]

        async def mark(position: int) -> None:
            await self._store.add_event(target.deployment_id, EVENT, "monitor", f"{prefix}{position}")

        return max(started, default=None), mark

    async def _record(self, target: Target, action: RollbackAction, outcome: str, message: str) -> None:
        log.log(logging.ERROR if outcome == "failed" else logging.INFO, "deployment %s: %s",
                target.deployment_id, message)  # fmt: skip
        if self._metrics is not None:
            self._metrics.rollbacks.labels(target.service, target.environment, action.name, outcome).inc()
        await self._store.add_event(target.deployment_id, EVENT, "monitor", message[:2000])

    async def _resolve_page(self, target: Target, action: RollbackAction) -> None:
        try:
            deployment = await self._store.get(target.deployment_id)
        except NotFoundError:
            return
        reason = f"rolled back by {action.name} ({action.type})"
        items = self._notifier.resolutions([deployment], f"rollback-{action.name}", datetime.now(UTC), reason)
        await self._store.enqueue(deployment.id, items)

    async def close(self) -> None:
        """Release the Kubernetes client."""
        await self._kube.close()
