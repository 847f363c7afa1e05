"""Request bodies as pydantic models, validated into value objects; a 400 names the field at fault.

:class:`RegistrationBody` declares the registration body (its JSON Schema is the OpenAPI
document's ``DeploymentRequest``); :func:`deployment_spec` validates a body with it and fills what
the body leaves out from the environment's defaults. :class:`CancelBody` is a cancel's optional
body, :class:`FlaggerPayload` what Flagger's webhooks send. Every error becomes one
:class:`~monitor.api.problems.Problem` through :func:`monitor.api.validation.validated`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema

from monitor.api.bodies import text_problem
from monitor.api.problems import Problem, invalid
from monitor.api.registration_probes import (
    ProbeOffer,
    checked_preview,
    inline_probe_schema,
    registration_probes,
)
from monitor.api.validation import Body, one_of, refuse, validated
from monitor.engine.request import seasonal_problem
from monitor.environments import Environments
from monitor.errors import InputError
from monitor.models import BaselineChoice, DeploymentSpec, Strategy, Window
from monitor.timeparse import parse_time

MAX_DURATION_S = 7 * 86400.0
MAX_START_OFFSET = timedelta(days=365)  # a deployment that started longer ago (or later) is a mistake
MAX_LABELS = 20
# Smoke probes a registration may list: each is a series of attempts for the daemon to make and
# store, and a few judge a deployment (5,000 would be millions of attempts).
MAX_PROBES = 20
MAX_LABEL_KEY, MAX_LABEL_VALUE = 100, 200
MAX_REASON = 500  # characters of a cancel's reason kept

# Labels are PromQL matchers; prefixed keys ("rollback/feature-flag") are metadata only.
_MATCHER_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METADATA_KEY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


def _text(max_len: int) -> BeforeValidator:
    def check(value: object) -> object:
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            shown = repr(value)[:80]
            raise refuse(f"must be a non-empty string of at most {max_len} characters, got {shown}")
        if (problem := text_problem(value)) is not None or value != value.strip():
            raise refuse(f"{problem or 'has leading or trailing whitespace'}; send plain text")
        return value

    return BeforeValidator(check)


def _number_of_seconds(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise refuse(f"must be a number of seconds, got {value!r}")
    return float(value)


def _start(value: object, info: ValidationInfo) -> datetime:
    now: datetime = (info.context or {})["now"]
    try:
        started_at = parse_time(str(value), "started_at")
    except (InputError, OverflowError, ValueError) as exc:
        raise refuse(str(exc)) from None
    if abs(started_at - now) > MAX_START_OFFSET:
        raise refuse(f"must lie within {MAX_START_OFFSET.days} days of now; omit it to mean now")
    return started_at.astimezone(UTC)


def _unknown_environment(name: str, environments: Environments) -> str:
    return f"unknown {name!r}; configured: {', '.join(environments.names)}"


def _known_environment(value: str, info: ValidationInfo) -> str:
    # Checked in field order, before the fields after it, as the registration always did.
    environments: Environments | None = (info.context or {}).get("environments")
    if environments is not None and environments.get(value) is None:
        raise refuse(_unknown_environment(value, environments))
    return value


def _labels(value: object) -> object:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise refuse('must be an object of string label values, e.g. {"region": "eu-1"}')
    if len(value) > MAX_LABELS:
        raise refuse(f"at most {MAX_LABELS} labels, got {len(value)}")
    for key, text in value.items():
        if len(key) > MAX_LABEL_KEY or len(text) > MAX_LABEL_VALUE:
            raise refuse(
                f"keys of at most {MAX_LABEL_KEY} and values of at most {MAX_LABEL_VALUE} characters",
                key[:MAX_LABEL_KEY],
            )
        if (problem := text_problem(text)) is not None:
            raise refuse(f"{problem}; send plain text", key)
        if not (_MATCHER_KEY.fullmatch(key) or _METADATA_KEY.fullmatch(key)):
            raise refuse(
                "is neither a Prometheus label name (a query matcher, e.g. region) nor a prefixed "
                "key (metadata for rollback actions, e.g. rollback/feature-flag)",
                key,
            )
    return value


def _probe_list(value: object) -> object:
    # Counted before any item is read: a huge list costs nothing more than its refusal.
    if isinstance(value, list) and len(value) > MAX_PROBES:
        raise refuse(
            f"at most {MAX_PROBES} probes, got {len(value)}; send fewer (a few smoke probes judge a "
            "deployment), or leave probes out to run the configured ones"
        )
    return value


def _probes_schema(schema: dict[str, Any]) -> None:
    inline_probe_schema(schema, MAX_PROBES)


Text = Annotated[str, Field(min_length=1, max_length=200), _text(200)]
Seconds = Annotated[float, BeforeValidator(_number_of_seconds)]


# Fixed bounds; max_duration_s lies in [interval_s, MAX_DURATION_S] and min_duration_s in
# [0, max_duration_s], both once the environment's defaults are known (deployment_spec).
_RANGES_S = {"warmup_s": (0.0, MAX_DURATION_S), "interval_s": (10.0, 3600.0)}
# The bounds sit inside the validator, where the schema shows them as minimum and maximum.
WarmupS = Annotated[
    float,
    Field(ge=_RANGES_S["warmup_s"][0], le=_RANGES_S["warmup_s"][1]),
    BeforeValidator(_number_of_seconds),
]
IntervalS = Annotated[
    float,
    Field(ge=_RANGES_S["interval_s"][0], le=_RANGES_S["interval_s"][1]),
    BeforeValidator(_number_of_seconds),
]


class RegistrationBody(Body):
    """POST /api/v1/deployments: a deployment to analyse; what it leaves out, its environment gives."""

    model_config = ConfigDict(title="DeploymentRequest")

    service: Text
    environment: Annotated[
        str, Field(min_length=1, max_length=100), _text(100), AfterValidator(_known_environment)
    ] = Field(description="production, staging, testing, development, or one configured under environments:")
    version: Text
    baseline_version: Text = Field(description="must differ from version")
    strategy: Annotated[Strategy, one_of(Strategy)] = Strategy.CANARY
    baseline: Annotated[BaselineChoice, one_of(BaselineChoice)] | None = Field(
        None,
        description="bluegreen and rolling: the old version's window just before the deploy (previous), "
        "the same window a day or a week earlier (day, week; baseline_version must be what served then), "
        "or auto (the profile's calibration, else previous); default the environment's",
    )
    started_at: Annotated[datetime, BeforeValidator(_start), WithJsonSchema({"type": "string"})] | None = (
        Field(None, description="RFC 3339 or Unix seconds, within 365 days of now; default now")
    )
    profile: Text | None = Field(
        None,
        description="otel-http, prometheus-http, or a profile an environment names in the daemon's "
        "config; never a path",
    )
    warmup_s: WarmupS | None = None
    interval_s: IntervalS | None = None
    min_duration_s: Seconds | None = Field(
        None, description="at most max_duration_s", json_schema_extra={"minimum": 0}
    )
    max_duration_s: Seconds | None = Field(
        None, description="at least interval_s", json_schema_extra={"maximum": MAX_DURATION_S}
    )
    labels: Annotated[dict[str, str], BeforeValidator(_labels)] = Field(
        default_factory=dict,
        description="Prometheus label names add query matchers; prefixed keys (rollback/feature-flag) "
        f"are metadata for rollback actions; at most {MAX_LABELS}",
    )
    probes: Annotated[list[Any], BeforeValidator(_probe_list)] | None = Field(
        None, json_schema_extra=_probes_schema
    )
    preview_url: Annotated[str, Field(min_length=1, max_length=2000), _text(2000)] | None = Field(
        None,
        description="bluegreen: where the new version answers before the switch; its probes go there "
        "and the verdict judges it before traffic moves",
    )

    @classmethod
    def range_problem(cls, field: str, value: Any) -> Problem | None:
        """The bounds of a duration, in seconds, as the refusal of an out-of-range default says them."""
        if field not in _RANGES_S:
            return None
        low, high = _RANGES_S[field]
        return invalid(field, f"must be between {low:g} and {high:g} seconds, got {value:g}")


class CancelBody(Body):
    """POST /api/v1/deployments/{id}/cancel: an optional body saying why."""

    model_config = ConfigDict(title="CancelRequest")

    reason: str | None = Field(
        None,
        description=f"why, for the audit trail and the verdict; the first {MAX_REASON} characters are kept",
    )


_SET_METADATA = "set the webhook's metadata: {service: ..., environment: ...}"


class FlaggerMetadata(Body):
    """A Flagger webhook's ``metadata``: which registered deployment it asks about. Other keys
    (a load tester's ``cmd``) are let through: one canary's webhooks often share them."""

    model_config = ConfigDict(extra="allow")

    service: str = Field(description="the service the deployment was registered with")
    environment: str | None = Field(None, description="narrows to this environment")
    version: str | None = Field(None, description="narrows to this canary version")
    token: str | None = Field(
        None, description="an API token with the read scope, for Flagger cannot send headers"
    )


class FlaggerPayload(Body):
    """What Flagger POSTs to a webhook (``CanaryWebhookPayload``); the newest deployment of
    ``metadata.service`` answers. Fields a later Flagger adds are let through."""

    model_config = ConfigDict(extra="allow")
    required_hints: ClassVar[Mapping[str, str]] = {
        "metadata": _SET_METADATA,
        "metadata.service": _SET_METADATA,
    }

    name: str | None = Field(None, description="the Canary's name")
    namespace: str | None = Field(None, description="the Canary's namespace")
    phase: str | None = Field(None, description="the Canary's phase (Progressing, Promoting…)")
    checksum: str | None = Field(None, description="a hash of the Canary's tracked configuration")
    metadata: FlaggerMetadata


def _between(field: str, value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise invalid(field, f"must be between {low:g} and {high:g} seconds, got {value:g}")
    return value


def deployment_spec(
    body: object, now: datetime, environments: Environments, offer: ProbeOffer | None = None
) -> DeploymentSpec:
    """A :class:`DeploymentSpec` from a registration body; :class:`Problem` (400) when invalid.

    Values the body leaves out come from the environment's defaults; its probes from ``offer``, the
    config's (:mod:`monitor.api.registration_probes`).
    """
    raw = validated(RegistrationBody, body, {"now": now, "environments": environments})
    defaults = environments.get(raw.environment)
    if defaults is None:  # refused by the model already; here for the type
        raise invalid("environment", _unknown_environment(raw.environment, environments))
    if raw.version == raw.baseline_version:
        raise invalid("baseline_version", "must differ from version")
    interval_s = defaults.interval_s if raw.interval_s is None else raw.interval_s
    max_duration_s = _between(
        "max_duration_s",
        defaults.max_duration_s if raw.max_duration_s is None else raw.max_duration_s,
        interval_s,
        MAX_DURATION_S,
    )
    min_duration_s = _between(
        "min_duration_s",
        min(defaults.min_duration_s, max_duration_s) if raw.min_duration_s is None else raw.min_duration_s,
        0.0,
        max_duration_s,
    )
    started_at = (now if raw.started_at is None else raw.started_at).astimezone(UTC)
    warmup_s = defaults.warmup_s if raw.warmup_s is None else raw.warmup_s
    baseline = defaults.baseline if raw.baseline is None else raw.baseline
    if raw.strategy is not Strategy.CANARY:
        # A seasonal baseline named outright must fit before the switch (auto falls back instead).
        start = started_at + timedelta(seconds=warmup_s)
        analysed = Window(start, start + timedelta(seconds=max_duration_s))
        if (problem := seasonal_problem(baseline, analysed, started_at)) is not None:
            raise invalid("baseline", f"{problem} (warmup_s plus max_duration_s)")
    offer = offer or ProbeOffer()
    probes = registration_probes(
        raw.probes, offer, service=raw.service, environment=raw.environment,
        versions=(raw.version, raw.baseline_version),
    )  # fmt: skip
    return DeploymentSpec(
        service=raw.service,
        environment=raw.environment,
        version=raw.version,
        baseline_version=raw.baseline_version,
        strategy=raw.strategy,
        started_at=started_at,
        profile=defaults.profile if raw.profile is None else raw.profile,
        warmup_s=warmup_s,
        interval_s=interval_s,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        labels=tuple(sorted(raw.labels.items())),
        baseline=baseline,
        probes=probes,
        preview_url=checked_preview(raw.preview_url, raw.strategy, probes, offer),
    )
