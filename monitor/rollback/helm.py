"""Helm rollback to the previous revision, with helm-python-sdk (Helm v4's Go SDK; no helm binary).

The SDK is synchronous (ctypes over the native library), so the rollback runs in a worker
thread. Guarded against rolling back twice: before rolling back, the channel records the
revision it starts from in the deployment's audit trail (``mark``); a retry that finds the
release already past that revision (the earlier attempt succeeded, then its process died
before acknowledging) has nothing left to undo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import helm_python as helm

from monitor.rollback.base import ActionError, ActionResult, Target
from monitor.rollback.configured import RollbackAction, RollbackSpec


def _revision(release: dict[str, Any]) -> int:
    return int(release.get("revision") or 0)


def _rollback(
    spec: RollbackSpec,
    namespace: str,
    release: str,
    dry_run: bool,
    started: int | None,
    note: Callable[[int], None],
) -> ActionResult:
    what = f"Helm release {namespace}/{release}"
    try:
        with helm.Config(
            kubeconfig_path=spec.kubeconfig, kube_context=spec.kube_context, namespace=namespace
        ) as cfg:
            history = sorted(cfg.history(release), key=_revision)
            if not history:
                raise ActionError(f"{what} has no revisions", retryable=False)
            revision = _revision(history[-1])
            if started is not None and revision > started:
                return ActionResult(
                    f"{what} is at revision {revision}, past {started}: already rolled back", False
                )
            if revision < 2:
                raise ActionError(
                    f"{what} has no revision before {revision} to roll back to", retryable=False
                )
            if dry_run:
                return ActionResult(
                    f"would roll {what} back from revision {revision} to {revision - 1}", False
                )
            note(revision)
            cfg.rollback(release, version=revision - 1)
            return ActionResult(
                f"rolled {what} back to revision {revision - 1} (new revision {revision + 1})"
            )
    except helm.HelmNotFoundError as exc:
        raise ActionError(
            f"{what} not found ({exc}); check the action's namespace and release", retryable=False
        ) from None
    except helm.HelmError as exc:
        text = str(exc)
        forbidden = "forbidden" in text.lower() or "unauthorized" in text.lower()
        hint = " (the service account lacks a verb: see the chart's rbac.helm rules)" if forbidden else ""
        raise ActionError(f"rollback of {what} failed: {text}{hint}", retryable=not forbidden) from None


async def helm_rollback(
    spec: RollbackSpec,
    action: RollbackAction,
    target: Target,
    dry_run: bool,
    *,
    started: int | None = None,
    mark: Callable[[int], Coroutine[Any, Any, None]] | None = None,
) -> ActionResult:
    """Roll the action's release back to the revision before its newest.

    ``started`` is the revision an earlier attempt recorded before rolling back; ``mark`` records
    it (awaited from the worker thread before the rollback is sent).
    """
    namespace = target.render(action.param("namespace"), f"{action.name}.namespace")
    release = target.render(action.param("release"), f"{action.name}.release")
    loop = asyncio.get_running_loop()

    def note(revision: int) -> None:
        if mark is not None:
            asyncio.run_coroutine_threadsafe(mark(revision), loop).result(timeout=30)

    return await asyncio.to_thread(_rollback, spec, namespace, release, dry_run, started, note)
