"""What every rollback action shares: the deployment it acts on, templates, results and errors."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from string import Template

from monitor.errors import MonitorError
from monitor.models import Deployment


class ActionError(MonitorError):
    """An action failed; ``retryable`` when trying again may succeed (timeouts, 5xx, conflicts).

    ``status`` is the HTTP status the acted-on API answered, when one did.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class Target:
    """The failed deployment an action undoes, as stored in its outbox item."""

    deployment_id: str
    service: str
    environment: str
    version: str
    baseline_version: str
    labels: dict[str, str]
    action: str

    @classmethod
    def of(cls, deployment: Deployment, action: str) -> Target:
        spec = deployment.spec
        return cls(deployment.id, spec.service, spec.environment, spec.version, spec.baseline_version,
                   dict(spec.labels), action)  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Target:
        return cls(**json.loads(text))

    def render(self, template: str, where: str, extra: dict[str, str] | None = None) -> str:
        """``template`` with ``$service``, ``$version``, ``${label_<key>}``... substituted."""
        values = {
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "baseline_version": self.baseline_version,
            "deployment_id": self.deployment_id,
            **{f"label_{re.sub(r'[^A-Za-z0-9_]', '_', k)}": v for k, v in self.labels.items()},
            **(extra or {}),
        }
        try:
            return Template(template).substitute(values)
        except KeyError as exc:
            raise ActionError(
                f"{where} {template!r} names ${exc.args[0]}, which deployment {self.deployment_id} does not "
                f"have; register it with that label or change the template",
                retryable=False,
            ) from None
        except ValueError as exc:
            raise ActionError(
                f"{where} {template!r} is not a valid template ({exc})", retryable=False
            ) from None


@dataclass(frozen=True)
class ActionResult:
    """What an action did (or, in a dry run, would do)."""

    detail: str
    changed: bool = True  # False: nothing to undo (already rolled back)
