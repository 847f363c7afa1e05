"""The rollback channel: the actions a final fail triggers, run from the outbox, results in the audit trail.

Which actions a fail triggers is the plan's (:mod:`monitor.rollback.plan`); how each runs is
:mod:`monitor.rollback.run`'s. Before acting, the channel checks that no newer deployment of the
service in the environment exists: a superseded deployment is never rolled back (that would
undo the newer one). A dry run records what the action would do. A success resolves the
deployment's page. Failures that may pass (timeouts, 5xx, 409, 429) are retried by the outbox;
the others (unknown rollout, no RBAC permission, missing Helm release, a flag service's 4xx) are
abandoned with the reason.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from monitor.channels.base import DELIVERED, Attempt, Event, Final, Outcome, Setup
from monitor.channels.registry import register
from monitor.errors import NotFoundError
from monitor.rollback.base import ActionError, ActionResult, Target
from monitor.rollback.configured import ActionType, RollbackAction
from monitor.rollback.plan import KIND, rollback_items
from monitor.store import Delivery, OutboxItem, Store

if TYPE_CHECKING:
    from monitor.rollback.kubernetes import Kube
    from monitor.rollback.run import Resume

log = logging.getLogger(__name__)
EVENT = "rollback"
STARTED_FROM = "started_from"  # the audit-trail field of the position a rollback starts from
# What the audit trail tells people before a non-idempotent rollback acts, followed by the position.
_STARTS = {ActionType.HELM: "rolling back from revision ", ActionType.ARGOCD: "rolling back from history "}


class RollbackChannel:
    """The outbox channel of ``rollback:<action>`` items."""

    kind = KIND

    def __init__(self, setup: Setup, kube: Kube | None = None) -> None:
        self._setup = setup
        self._spec = setup.settings.rollback
        self._metrics = setup.metrics
        self._actions = {action.name: action for action in self._spec.actions}
        self._kube = kube
        if self._metrics is not None:
            self._metrics.expect_rollback_actions(self._spec.actions)

    def items(self, event: Event) -> list[OutboxItem]:
        if not isinstance(event, Final) or event.verdict != "fail":
            return []
        env = self._setup.environments.get(event.deployment.spec.environment)
        return [] if env is None else rollback_items(self._spec, env.rollback, event.deployment)

    async def send(self, session: aiohttp.ClientSession, item: Delivery) -> Attempt:
        store = self._setup.store
        if store is None:  # a Notifier's channel: it builds items, the outbox worker's sends them
            return Attempt(Outcome.FAILED, "rollback actions are run by the outbox worker")
        target = Target.from_json(item.payload_json)
        action = self._actions.get(target.action)
        if action is None:
            return Attempt(Outcome.FAILED, f"rollback action {target.action!r} is no longer configured")
        label = f"{action.name} ({action.type})"
        newer = await self._newer(store, target)
        if newer is not None:
            await self._record(store, target, action, "skipped", f"{label}: not run: {newer}")
            return DELIVERED
        try:
            result = await self._run(store, session, action, target, item.idempotency_key)
        except Exception as exc:  # an action's bug must not stop the outbox
            if not isinstance(exc, ActionError):
                log.exception(
                    "rollback %s of deployment %s: unexpected error", action.name, target.deployment_id
                )
                exc = ActionError(f"unexpected {type(exc).__name__}: {exc}", retryable=True)
            if not exc.retryable or item.attempts == 1:
                retry = "; retrying" if exc.retryable else "; not retried: fix the cause, then act by hand"
                await self._record(store, target, action, "failed", f"{label} failed: {exc}{retry}")
            elif self._metrics is not None:
                self._metrics.rollbacks.labels(
                    target.service, target.environment, action.name, "failed"
                ).inc()
            return Attempt(Outcome.FAILED if exc.retryable else Outcome.ABANDONED, str(exc))
        if action.dry_run:
            await self._record(store, target, action, "dry_run", f"{label} dry run: {result.detail}")
            return DELIVERED
        await self._record(store, target, action, "done", f"{label}: {result.detail}")
        if result.changed:
            await self._resolve_page(store, target, action)
        return DELIVERED

    async def _newer(self, store: Store, target: Target) -> str | None:
        """Why the deployment no longer stands (a newer one of its service), or None."""
        newest = await store.list_deployments(service=target.service, environment=target.environment, limit=1)
        if newest and newest[0].id != target.deployment_id:
            return f"deployment superseded by {newest[0].id} ({newest[0].spec.version})"
        return None

    async def _run(
        self, store: Store, session: aiohttp.ClientSession, action: RollbackAction, target: Target, key: str
    ) -> ActionResult:
        # Loaded here: the Kubernetes and Helm clients are heavy and only a sending channel needs them.
        from monitor.rollback.kubernetes import Kube
        from monitor.rollback.run import run_action

        if self._kube is None:
            self._kube = Kube(self._spec)

        async def resume() -> Resume:
            return await self._resume(store, action, target)

        return await run_action(session, self._kube, self._spec, action, target, key, resume)

    async def _resume(self, store: Store, action: RollbackAction, target: Target) -> Resume:
        """Where an earlier attempt started (a field of the audit trail), and how to record a start.

        The start is recorded before acting, so a retry after an unacknowledged success does
        not roll back once more.
        """
        from monitor.rollback.run import Resume

        started = [
            position
            for e in await store.events(target.deployment_id)
            if e.kind == EVENT
            and e.data.get("action") == action.name
            and isinstance(position := e.data.get(STARTED_FROM), int)
        ]

        async def mark(position: int) -> None:
            message = f"{action.name} ({action.type}): {_STARTS[action.type]}{position}"
            data = {"action": action.name, STARTED_FROM: position}
            await store.add_event(target.deployment_id, EVENT, "monitor", message, data)

        return Resume(max(started, default=None), mark)

    async def _record(
        self, store: Store, target: Target, action: RollbackAction, outcome: str, message: str
    ) -> None:
        log.log(logging.ERROR if outcome == "failed" else logging.INFO, "deployment %s: %s",
                target.deployment_id, message)  # fmt: skip
        if self._metrics is not None:
            self._metrics.rollbacks.labels(target.service, target.environment, action.name, outcome).inc()
        await store.add_event(target.deployment_id, EVENT, "monitor", message[:2000])

    async def _resolve_page(self, store: Store, target: Target, action: RollbackAction) -> None:
        # Imported here: the notifier builds every channel, this one included.
        from monitor.channels.notify import Notifier

        try:
            deployment = await store.get(target.deployment_id)
        except NotFoundError:
            return
        reason = f"rolled back by {action.name} ({action.type})"
        notifier = Notifier(self._setup.settings, self._setup.environments)
        items = notifier.resolutions([deployment], f"rollback-{action.name}", datetime.now(UTC), reason)
        await store.enqueue(deployment.id, items)

    async def close(self) -> None:
        """Release the Kubernetes client."""
        if self._kube is not None:
            await self._kube.close()


def _build(setup: Setup) -> RollbackChannel | None:
    return RollbackChannel(setup) if setup.settings.rollback.actions else None


register(KIND, _build)
