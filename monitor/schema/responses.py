"""The API's response documents as models: the source of their OpenAPI components.

The documents are built by :mod:`monitor.api.documents` (a deployment), the routes of
:mod:`monitor.api.app` (a list, the audit trail), :class:`monitor.api.problems.Problem` (an error)
and :mod:`monitor.api.integrations` (a Flagger hook's answer). These models mirror them field for
field, as :class:`~monitor.schema.verdict.VerdictDocument` mirrors the verdict, so that the schemas
are generated, and the tests validate documents the API serves against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from monitor.models import DeploymentStatus, Strategy
from monitor.schema.verdict import VerdictDocument


def _absent_when_unset(schema: dict[str, Any]) -> None:
    """A member left out, never null: its schema has no default (a null would not be a string)."""
    del schema["default"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Links(_Closed):
    """Where to read the deployment, its verdict, and cancel it."""

    self_: str = Field(alias="self")
    verdict: str
    cancel: str


class Probe(_Closed):
    """A smoke probe of the deployment (its full definition is the config's, or the registration's)."""

    name: str = Field(min_length=1)
    method: str = Field(min_length=1)
    url: str = Field(min_length=1, description="the URL template, with {service}, {version}, {environment}")


class Deployment(_Closed):
    """A registered deployment: what the registration said (with its environment's defaults
    filled in), and how far its analysis is."""

    id: str = Field(min_length=1)
    service: str = Field(min_length=1)
    environment: str = Field(min_length=1)
    version: str = Field(min_length=1)
    baseline_version: str = Field(min_length=1)
    strategy: Strategy
    baseline: Literal["previous", "day", "week", "auto"] = Field(
        description="before/after strategies: which window the old version is judged over (auto: the "
        "profile's calibration, else previous; the verdict's baseline.choice says which)"
    )
    started_at: datetime
    profile: str = Field(min_length=1)
    warmup_s: float = Field(ge=0)
    interval_s: float = Field(gt=0)
    min_duration_s: float = Field(ge=0)
    max_duration_s: float = Field(gt=0)
    labels: dict[str, str]
    probes: list[Probe] = Field(description="the smoke probes run against it; empty: none")
    preview_url: str | None = Field(
        description="bluegreen: where the new version is probed before the switch; null: no preview"
    )
    status: DeploymentStatus
    status_reason: str = Field(
        description="why the status is what it is, or what a look waits on; may be empty"
    )
    looks_done: int = Field(ge=0)
    next_look_at: datetime | None = Field(description="null once the analysis is final")
    created_at: datetime
    updated_at: datetime
    links: Links


class DeploymentList(_Closed):
    """Deployments, newest first."""

    deployments: list[Deployment]


class Event(_Closed):
    """One entry of a deployment's audit trail."""

    at: datetime
    kind: str = Field(description="registered, cancelled, interim, verdict, rollback or delivery_failed")
    actor: str
    message: str


class Events(_Closed):
    """A deployment's audit trail, oldest first."""

    deployment_id: str = Field(min_length=1)
    events: list[Event]


class Problem(_Closed):
    """An RFC 9457 problem: what went wrong and what to do."""

    type: str = Field(description="about:blank: the status and title say it all")
    title: str = Field(min_length=1)
    status: int = Field(ge=400, le=599)
    detail: str = Field(min_length=1, description="what went wrong and what to do, for a person")
    instance: str = Field(description="the request's path")
    field: str | SkipJsonSchema[None] = Field(
        None,
        description="the field, parameter or header at fault (dotted: metadata.service)",
        json_schema_extra=_absent_when_unset,
    )


class FlaggerCanary(_Closed):
    """The Canary the hook's payload named, echoed (null when the payload left it out)."""

    name: str | None
    namespace: str | None
    phase: str | None


class FlaggerVerdict(VerdictDocument):
    """A Flagger hook's answer: the verdict, the hook asked, and the Canary Flagger named."""

    model_config = ConfigDict(title="FlaggerVerdict")

    hook: str = Field(description="the hook the answer is for")
    flagger: FlaggerCanary
