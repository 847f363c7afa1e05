"""Helm rollback to the previous revision, with helm-python-sdk (Helm v4's Go SDK; no helm binary).

The SDK is synchronous (ctypes over the native library), so the rollback runs in a worker
thread. Guarded against rolling back twice: when the release's newest revision is itself a
rollback (description ``Rollback to N``), there is nothing left to undo.
"""

from __future__ import annotations

import asyncio
from typing import Any

import helm_python as helm

from monitor.rollback.base import ActionError, ActionResult, Target
from monitor.rollback.spec import RollbackAction, RollbackSpec


def _field(release: dict[str, Any], key: str) -> Any:
    info = release.get("info") if isinstance(release.get("info"), dict) else {}
    return release.get(key, info.get(key) if info else None)


def _rollback(spec: RollbackSpec, namespace: str, release: str, dry_run: bool) -> ActionResult:
    what = f"Helm release {namespace}/{release}"
    try:
        with helm.Config(
            kubeconfig_path=spec.kubeconfig, kube_context=spec.kube_context, namespace=namespace
        ) as cfg:
            history = sorted(cfg.history(release), key=lambda r: int(_field(r, "revision") or 0))
            if not history:
                raise ActionError(f"{what} has no revisions", retryable=False)
            latest = history[-1]
            revision = int(_field(latest, "revision"))
            description = str(_field(latest, "description") or "")
            if description.startswith("Rollback to"):
                return ActionResult(
                    f"{what} revision {revision} is already a rollback ({description})", False
                )
            if revision < 2:
                raise ActionError(
                    f"{what} has no revision before {revision} to roll back to", retryable=False
                )
            if dry_run:
                return ActionResult(
                    f"would roll {what} back from revision {revision} to {revision - 1}", False
                )
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
    spec: RollbackSpec, action: RollbackAction, target: Target, dry_run: bool
) -> ActionResult:
    """Roll the action's release back to the revision before its newest."""
    namespace = target.render(action.param("namespace"), f"{action.name}.namespace")
    release = target.render(action.param("release"), f"{action.name}.release")
    return await asyncio.to_thread(_rollback, spec, namespace, release, dry_run)
