"""The ``rollback:`` section: which actions undo a failed deployment, parsed into typed objects.

Example::

    environments:
      production: {rollback: auto}       # auto | signal | off (production and staging signal by default)
    rollback:
      kubeconfig: ~/.kube/config          # optional; a pod uses its service account
      actions:
        - {name: jenkins, type: webhook, url: https://jenkins.example.com/hook, secret_file: jenkins-hook}
        - {name: rollouts, type: argo-rollouts, namespace: shop, rollout: $service}
        - {name: undo, type: kubernetes-deployment, namespace: shop, deployment: $service}
        - {name: helm, type: helm, namespace: shop, release: $service}
        - {name: argocd, type: argocd, url: https://argocd.example.com, token_file: argocd-token,
           application: $service}
        - {name: flags, type: feature-flag, url: "https://flags.example.com/api/flags/$flag",
           method: PATCH, body: '{"enabled": false}', flag_label: feature_flag}

Every action may also set ``environments``, ``services`` (empty: all) and ``dry_run``. Text
fields are templates over the deployment: ``$service``, ``$environment``, ``$version``,
``$baseline_version``, ``$deployment_id``, ``$flag`` (feature flags) and ``${label_<key>}``
for each registration label (``-``, ``.`` and ``/`` in keys read as ``_``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from monitor.secretfile import read_secret
from monitor.yamlfile import YamlDocument


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


_FIELDS: dict[ActionType, dict[str, bool]] = {  # field -> required
    ActionType.WEBHOOK: {"url": True},
    ActionType.ARGO_ROLLOUTS: {"namespace": True, "rollout": True},
    ActionType.KUBERNETES_DEPLOYMENT: {"namespace": True, "deployment": True, "version_label": False},
    ActionType.HELM: {"namespace": True, "release": True},
    ActionType.ARGOCD: {"url": True, "application": True, "app_namespace": False},
    ActionType.FEATURE_FLAG: {"url": True, "method": False, "body": False, "flag_label": False},
}
_SECRETS: dict[ActionType, tuple[str, bool]] = {  # secret prefix, required
    ActionType.WEBHOOK: ("secret", True),
    ActionType.ARGOCD: ("token", True),
    ActionType.FEATURE_FLAG: ("token", False),
}
_COMMON = {"name", "type", "environments", "services", "dry_run"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


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


def _strings(doc: YamlDocument, where: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise doc.error(where, f"invalid {value!r}", "list names, e.g. [production]")
    return tuple(value)


def _action(doc: YamlDocument, where: str, raw: object, path: Path) -> RollbackAction:
    if not isinstance(raw, dict):
        raise doc.error(where, "expected a mapping", "write {name: ..., type: ..., ...}")
    kind_raw = raw.get("type")
    try:
        kind = ActionType(str(kind_raw))
    except ValueError:
        raise doc.error(
            f"{where}.type", f"unknown action type {kind_raw!r}", f"use one of: {', '.join(ActionType)}"
        ) from None
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise doc.error(f"{where}.name", f"invalid {name!r}", "use lower-case letters, digits, - or _")
    fields = _FIELDS[kind]
    prefix, secret_required = _SECRETS.get(kind, ("", False))
    secret_keys = {f"{prefix}_file", f"{prefix}_env"} if prefix else set()
    known = _COMMON | set(fields) | secret_keys
    for key in raw:
        if key not in known:
            raise doc.error(
                f"{where}.{key}", "unknown field", f"{kind} actions take: {', '.join(sorted(known))}"
            )
    params: list[tuple[str, str]] = []
    for key, required in fields.items():
        value = raw.get(key)
        if value is None:
            if required:
                raise doc.error(f"{where}.{key}", "missing", f"{kind} actions need {key}")
            continue
        if not isinstance(value, str) or not value:
            raise doc.error(f"{where}.{key}", f"invalid {value!r}", "write a non-empty string")
        if key == "url" and not value.startswith(("http://", "https://")):
            raise doc.error(f"{where}.url", f"invalid {value!r}", "use an http:// or https:// URL")
        params.append((key, value))
    secret = None
    if prefix and (secret_required or secret_keys & set(raw)):
        secret = read_secret(doc, where, raw, path, prefix=prefix)
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise doc.error(f"{where}.dry_run", f"invalid {dry_run!r}", "write true or false")
    return RollbackAction(
        name=name,
        type=kind,
        params=tuple(params),
        secret=secret,
        environments=_strings(doc, f"{where}.environments", raw.get("environments")),
        services=_strings(doc, f"{where}.services", raw.get("services")),
        dry_run=dry_run,
    )


def parse_rollback(doc: YamlDocument, path: Path) -> RollbackSpec:
    """The ``rollback:`` section (empty when absent)."""
    raw = doc.data.get("rollback")
    if raw is None:
        return RollbackSpec()
    if not isinstance(raw, dict):
        raise doc.error("rollback", "expected a mapping", "write actions: [...] under it")
    for key in raw:
        if key not in {"actions", "kubeconfig", "kube_context"}:
            raise doc.error(f"rollback.{key}", "unknown field", "use actions, kubeconfig or kube_context")
    actions_raw = raw.get("actions") or []
    if not isinstance(actions_raw, list):
        raise doc.error("rollback.actions", "expected a list", "list actions with name and type")
    actions = [_action(doc, f"rollback.actions[{i}]", item, path) for i, item in enumerate(actions_raw)]
    names = [a.name for a in actions]
    for index, action in enumerate(actions):
        if names.index(action.name) != index:
            raise doc.error(
                f"rollback.actions[{index}].name", f"duplicate name {action.name!r}", "rename one"
            )
    kubeconfig = raw.get("kubeconfig")
    if kubeconfig is not None:
        try:
            file = Path(str(kubeconfig)).expanduser()
        except RuntimeError:  # ~user of no known user
            raise doc.error(
                "rollback.kubeconfig",
                f"cannot find the home directory in {kubeconfig!r}",
                "write the full path",
            ) from None
        kubeconfig = str(file if file.is_absolute() else path.parent / file)
    context = raw.get("kube_context")
    return RollbackSpec(tuple(actions), kubeconfig, None if context is None else str(context))
