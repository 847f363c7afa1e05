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

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from monitor.rollback.configured import ActionType, RollbackAction, RollbackSpec
from monitor.secretfile import read_secret
from monitor.settings.base import Fix, HttpUrl, Section
from monitor.yamlfile import YamlDocument

Template = Annotated[str, Field(min_length=1)]
Names = Annotated[list[str], Fix("list names, e.g. [production]")]


class _Action(Section):
    """What every action has: a name, a type, its scope, and dry_run."""

    # The secret's fields (``<prefix>_file``, ``<prefix>_env``) and whether it is required.
    secret_prefix: ClassVar[str] = ""
    secret_required: ClassVar[bool] = False
    _common: ClassVar[frozenset[str]] = frozenset({"name", "type", "environments", "services", "dry_run"})

    name: Annotated[
        str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$"), Fix("use lower-case letters, digits, - or _")
    ]
    environments: Names | None = Field(None, description="empty: every environment")
    services: Names | None = Field(None, description="empty: every service")
    dry_run: bool = Field(False, description="log what the action would do, do nothing")

    @classmethod
    def _kind(cls) -> str:
        return str(cls.model_fields["type"].default)

    @classmethod
    def unknown_field_fix(cls) -> str:
        return f"{cls._kind()} actions take: {', '.join(sorted(cls.model_fields))}"

    @classmethod
    def missing_fix(cls, name: str) -> str:
        return f"{cls._kind()} actions need {name}"

    def params(self) -> tuple[tuple[str, str], ...]:
        """The action's own text fields that are set: its targets, as templates."""
        secret_keys = {f"{self.secret_prefix}_file", f"{self.secret_prefix}_env"}
        return tuple(
            (key, value)
            for key, value in self
            if key not in self._common and key not in secret_keys and isinstance(value, str)
        )

    def wants_secret(self) -> bool:
        """Whether a secret is to be read: required, or named although optional."""
        keys = (f"{self.secret_prefix}_file", f"{self.secret_prefix}_env")
        return bool(self.secret_prefix) and (
            self.secret_required or any(getattr(self, k) is not None for k in keys)
        )


class WebhookAction(_Action):
    """Signal a pipeline: a signed POST (docs/rollback.md)."""

    secret_prefix, secret_required = "secret", True
    type: Literal["webhook"] = "webhook"
    url: HttpUrl
    secret_file: str | None = None
    secret_env: str | None = None


class ArgoRolloutsAction(_Action):
    """Abort an Argo Rollouts rollout."""

    type: Literal["argo-rollouts"] = "argo-rollouts"
    namespace: Template
    rollout: Template


class KubernetesDeploymentAction(_Action):
    """Roll a Deployment back to its previous revision."""

    type: Literal["kubernetes-deployment"] = "kubernetes-deployment"
    namespace: Template
    deployment: Template
    version_label: Template | None = None


class HelmAction(_Action):
    """Roll a Helm release back."""

    type: Literal["helm"] = "helm"
    namespace: Template
    release: Template


class ArgoCDAction(_Action):
    """Roll an Argo CD application back."""

    secret_prefix, secret_required = "token", True
    type: Literal["argocd"] = "argocd"
    url: HttpUrl
    application: Template
    app_namespace: Template | None = None
    token_file: str | None = None
    token_env: str | None = None


class FeatureFlagAction(_Action):
    """Turn a feature flag off through its service's HTTP API."""

    secret_prefix, secret_required = "token", False
    type: Literal["feature-flag"] = "feature-flag"
    url: HttpUrl
    method: Template | None = None
    body: Template | None = None
    flag_label: Template | None = None
    token_file: str | None = None
    token_env: str | None = None


Action = Annotated[
    WebhookAction
    | ArgoRolloutsAction
    | KubernetesDeploymentAction
    | HelmAction
    | ArgoCDAction
    | FeatureFlagAction,
    Field(discriminator="type"),
]


class RollbackSection(Section):
    """``rollback:``: the actions, and the cluster they act on."""

    actions: Annotated[list[Action], Fix("list actions with name and type")] | None = None
    kubeconfig: str | None = Field(None, description="relative to the config file; a pod uses its account")
    kube_context: str | None = None


def rollback_spec(doc: YamlDocument, path: Path, section: RollbackSection | None) -> RollbackSpec:
    """The validated ``rollback:`` section as a :class:`RollbackSpec`; secrets are read here."""
    if section is None:
        return RollbackSpec()
    actions: list[RollbackAction] = []
    for index, raw in enumerate(section.actions or ()):
        where = f"rollback.actions[{index}]"
        if raw.name in (a.name for a in actions):
            raise doc.error(f"{where}.name", f"duplicate name {raw.name!r}", "rename one")
        secret = None
        if raw.wants_secret():
            secret = read_secret(doc, where, raw.model_dump(), path, prefix=raw.secret_prefix)
        actions.append(
            RollbackAction(
                name=raw.name,
                type=ActionType(raw.type),
                params=raw.params(),
                secret=secret,
                environments=tuple(raw.environments or ()),
                services=tuple(raw.services or ()),
                dry_run=raw.dry_run,
            )
        )
    kubeconfig = section.kubeconfig
    if kubeconfig is not None:
        try:
            file = Path(kubeconfig).expanduser()
        except RuntimeError:  # ~user of no known user
            raise doc.error(
                "rollback.kubeconfig",
                f"cannot find the home directory in {kubeconfig!r}",
                "write the full path",
            ) from None
        kubeconfig = str(file if file.is_absolute() else path.parent / file)
    return RollbackSpec(tuple(actions), kubeconfig, section.kube_context)
