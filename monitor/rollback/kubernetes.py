"""Rollback actions on the Kubernetes API: Argo Rollouts abort, Deployment undo.

Auth comes from the pod's service account when the daemon runs in a cluster, else from a
kubeconfig (``rollback.kubeconfig`` or the default ``~/.kube/config``), through
kubernetes_asyncio. Errors that retrying cannot fix (the object does not exist, RBAC forbids
the verb) are reported as such, with the fix; 409, 429 and 5xx are retried by the outbox.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from monitor.retry import retryable_status
from monitor.rollback.base import ActionError, ActionResult, Target
from monitor.rollback.configured import RollbackAction, RollbackSpec

REVISION = "deployment.kubernetes.io/revision"
MERGE_PATCH = "application/merge-patch+json"
# A conflict is another writer's resourceVersion winning: the next attempt reads the new one.
_CONFLICT = frozenset({409})


class Kube:
    """A lazily created Kubernetes API client."""

    def __init__(self, spec: RollbackSpec) -> None:
        self._spec = spec
        self._client: client.ApiClient | None = None

    async def api(self) -> client.ApiClient:
        """The API client: in-cluster when running in a pod and no kubeconfig is set."""
        if self._client is None:
            configuration = client.Configuration()
            try:
                if self._spec.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                else:
                    await config.load_kube_config(
                        config_file=self._spec.kubeconfig,
                        context=self._spec.kube_context,
                        client_configuration=configuration,
                    )
            except (config.ConfigException, OSError) as exc:
                raise ActionError(
                    f"no Kubernetes credentials ({exc}); run in a pod with a service account or set "
                    "rollback.kubeconfig",
                    retryable=False,
                ) from None
            self._client = client.ApiClient(configuration)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _failure(exc: ApiException, what: str) -> ActionError:
    status = int(exc.status or 0)
    reason = str(exc.reason or "")
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        reason = json.loads(exc.body or b"{}").get("message", reason)
    fixes = {
        401: "the service account token or kubeconfig credentials were rejected",
        403: "the monitor's service account lacks this verb: enable the action in the chart's values "
        "so its RBAC rules are rendered",
        404: "check the action's namespace and name templates",
    }
    fix = fixes.get(status, "")
    message = f"{what}: HTTP {status} {reason}" + (f" ({fix})" if fix else "")
    retryable = status == 0 or retryable_status(status, _CONFLICT)
    return ActionError(message, retryable=retryable, status=status or None)


async def _argo_rollouts_abort(
    kube: Kube, action: RollbackAction, target: Target, dry_run: bool
) -> ActionResult:
    """Merge-patch ``status.abort=true`` on the Rollout: the status subresource, else the resource."""
    namespace = target.render(action.param("namespace"), f"{action.name}.namespace")
    name = target.render(action.param("rollout"), f"{action.name}.rollout")
    what = f"Rollout {namespace}/{name}"
    api: Any = client.CustomObjectsApi(await kube.api())  # typed stubs lack the _content_type option
    args = ("argoproj.io", "v1alpha1", namespace, "rollouts", name)
    try:
        rollout: dict[str, Any] = await api.get_namespaced_custom_object(*args)
    except ApiException as exc:
        raise _failure(exc, f"read {what}") from None
    if (rollout.get("status") or {}).get("abort") is True:
        return ActionResult(f"{what} is already aborted", changed=False)
    if dry_run:
        return ActionResult(f"would merge-patch status.abort=true on {what}", changed=False)
    body = {"status": {"abort": True}}
    try:
        await api.patch_namespaced_custom_object_status(*args, body, _content_type=MERGE_PATCH)
        where = "status subresource"
    except ApiException as exc:
        if exc.status != 404:
            raise _failure(exc, f"abort {what}") from None
        try:  # a CRD without the status subresource: the abort goes on the resource itself
            await api.patch_namespaced_custom_object(*args, body, _content_type=MERGE_PATCH)
        except ApiException as inner:
            raise _failure(inner, f"abort {what}") from None
        where = "resource (no status subresource)"
    return ActionResult(f"aborted {what} (status.abort=true on the {where})")


def _merge_patch(current: Any, target: Any) -> Any:
    """The RFC 7386 merge patch turning ``current`` into ``target`` (absent keys become null)."""
    if not isinstance(current, dict) or not isinstance(target, dict):
        return target
    patch: dict[str, Any] = {key: None for key in current if key not in target}
    for key, value in target.items():
        if key not in current or current[key] != value:
            patch[key] = _merge_patch(current.get(key), value)
    return patch


def _template(replica_set: dict[str, Any]) -> dict[str, Any]:
    template = dict(replica_set["spec"]["template"])
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != "pod-template-hash"}
    template["metadata"] = {**metadata, "labels": labels}
    return template


async def _deployment_undo(kube: Kube, action: RollbackAction, target: Target, dry_run: bool) -> ActionResult:
    """What ``kubectl rollout undo`` does: put the previous revision's pod template back.

    Guarded against undoing twice: when the running template does not carry the failed version
    (label ``version_label``, default ``app.kubernetes.io/version``), there is nothing to undo.
    """
    namespace = target.render(action.param("namespace"), f"{action.name}.namespace")
    name = target.render(action.param("deployment"), f"{action.name}.deployment")
    version_label = action.param("version_label", "app.kubernetes.io/version")
    what = f"Deployment {namespace}/{name}"
    api: Any = client.AppsV1Api(await kube.api())
    sanitize = (await kube.api()).sanitize_for_serialization
    try:
        deployment = sanitize(await api.read_namespaced_deployment(name, namespace))
        selector = (deployment["spec"].get("selector") or {}).get("matchLabels") or {}
        listed = await api.list_namespaced_replica_set(
            namespace, label_selector=",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        )
    except ApiException as exc:
        raise _failure(exc, f"read {what}") from None
    uid = deployment["metadata"]["uid"]
    owned = [
        rs for rs in (sanitize(item) for item in listed.items)
        if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
        and REVISION in (rs["metadata"].get("annotations") or {})
    ]  # fmt: skip
    current_revision = int((deployment["metadata"].get("annotations") or {}).get(REVISION, "0"))
    running = deployment["spec"]["template"]
    running_version = ((running.get("metadata") or {}).get("labels") or {}).get(version_label)
    if running_version is not None and running_version != target.version:
        return ActionResult(
            f"{what} runs {running_version}, not {target.version}: nothing to undo", changed=False
        )
    earlier = sorted(
        (rs for rs in owned if int(rs["metadata"]["annotations"][REVISION]) < current_revision),
        key=lambda rs: int(rs["metadata"]["annotations"][REVISION]),
    )
    if not earlier:
        raise ActionError(
            f"{what} has no revision before {current_revision} to roll back to", retryable=False
        )
    previous = earlier[-1]
    revision = previous["metadata"]["annotations"][REVISION]
    if dry_run:
        return ActionResult(
            f"would roll {what} back from revision {current_revision} to {revision}", changed=False
        )
    patch = {"spec": {"template": _merge_patch(running, _template(previous))}}
    try:
        await api.patch_namespaced_deployment(name, namespace, patch, _content_type=MERGE_PATCH)
    except ApiException as exc:
        raise _failure(exc, f"roll back {what}") from None
    return ActionResult(f"rolled {what} back from revision {current_revision} to revision {revision}")


_UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)


def _unreachable(exc: BaseException) -> ActionError:
    return ActionError(f"Kubernetes API unreachable ({type(exc).__name__}: {exc})", retryable=True)


async def argo_rollouts_abort(
    kube: Kube, action: RollbackAction, target: Target, dry_run: bool
) -> ActionResult:
    """Merge-patch ``status.abort=true`` on the Rollout: the status subresource, else the resource."""
    try:
        return await _argo_rollouts_abort(kube, action, target, dry_run)
    except _UNREACHABLE as exc:
        raise _unreachable(exc) from None


async def deployment_undo(kube: Kube, action: RollbackAction, target: Target, dry_run: bool) -> ActionResult:
    """What ``kubectl rollout undo`` does (see :func:`_deployment_undo`)."""
    try:
        return await _deployment_undo(kube, action, target, dry_run)
    except _UNREACHABLE as exc:
        raise _unreachable(exc) from None
