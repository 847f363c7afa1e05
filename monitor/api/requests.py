"""Request bodies as pydantic models, validated into value objects; a 400 names the field at fault.

:class:`RegistrationBody` declares the registration body (its JSON Schema is the OpenAPI
document's ``DeploymentRequest``); :func:`deployment_spec` validates a body with it and fills what
the body leaves out from the environment's defaults. Every error becomes one
:class:`~monitor.api.problems.Problem` through :func:`problem_from` (the first, in field order).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from monitor.api.bodies import text_problem
from monitor.api.problems import Problem, invalid
from monitor.environments import Environments
from monitor.errors import InputError
from monitor.models import DeploymentSpec, Strategy
from monitor.timeparse import parse_time

MAX_DURATION_S = 7 * 86400.0
MAX_START_OFFSET = timedelta(days=365)  # a deployment that started longer ago (or later) is a mistake
MAX_LABELS = 20
MAX_LABEL_KEY, MAX_LABEL_VALUE = 100, 200

# Labels are PromQL matchers; prefixed keys ("rollback/feature-flag") are metadata only.
_MATCHER_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METADATA_KEY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


def _refuse(detail: str, field: str | None = None) -> PydanticCustomError:
    """A validator's error: ``detail`` for the field it validates (or ``field`` below it)."""
    return PydanticCustomError("request", "{detail}", {"detail": detail, "field": field})


def _text(max_len: int) -> BeforeValidator:
    def check(value: object) -> object:
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            shown = repr(value)[:80]
            raise _refuse(f"must be a non-empty string of at most {max_len} characters, got {shown}")
        if (problem := text_problem(value)) is not None or value != value.strip():
            raise _refuse(f"{problem or 'has leading or trailing whitespace'}; send plain text")
        return value

    return BeforeValidator(check)


def _number_of_seconds(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(f"must be a number of seconds, got {value!r}")
    return float(value)


def _start(value: object, info: ValidationInfo) -> datetime:
    now: datetime = (info.context or {})["now"]
    try:
        started_at = parse_time(str(value), "started_at")
    except (InputError, OverflowError, ValueError) as exc:
        raise _refuse(str(exc)) from None
    if abs(started_at - now) > MAX_START_OFFSET:
        raise _refuse(f"must lie within {MAX_START_OFFSET.days} days of now; omit it to mean now")
    return started_at.astimezone(UTC)


def _labels(value: object) -> object:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _refuse('must be an object of string label values, e.g. {"region": "eu-1"}')
    if len(value) > MAX_LABELS:
        raise _refuse(f"at most {MAX_LABELS} labels, got {len(value)}")
    for key, text in value.items():
        if len(key) > MAX_LABEL_KEY or len(text) > MAX_LABEL_VALUE:
            raise _refuse(
                f"keys of at most {MAX_LABEL_KEY} and values of at most {MAX_LABEL_VALUE} characters",
                key[:MAX_LABEL_KEY],
            )
        if (problem := text_problem(text)) is not None:
            raise _refuse(f"{problem}; send plain text", key)
        if not (_MATCHER_KEY.fullmatch(key) or _METADATA_KEY.fullmatch(key)):
            raise _refuse(
                "is neither a Prometheus label name (a query matcher, e.g. region) nor a prefixed "
                "key (metadata for rollback actions, e.g. rollback/feature-flag)",
                key,
            )
    return value


def _strategy(value: object) -> object:
    if value not in tuple(s.value for s in Strategy):  # a tuple: an unhashable value is refused too
        raise _refuse(f"must be one of {', '.join(s.value for s in Strategy)}")
    return Strategy(str(value))


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


class RegistrationBody(BaseModel):
    """POST /api/v1/deployments: a deployment to analyse; what it leaves out, its environment gives."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="DeploymentRequest")

    service: Text
    environment: Annotated[str, Field(min_length=1, max_length=100), _text(100)] = Field(
        description="production, staging, testing, development, or one configured under environments:"
    )
    version: Text
    baseline_version: Text = Field(description="must differ from version")
    strategy: Annotated[Strategy, BeforeValidator(_strategy)] = Strategy.CANARY
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


def problem_from(error: ErrorDetails, model: type[BaseModel]) -> Problem:
    """One pydantic error as a 400 naming the field (``labels.region``), with the same words as ever."""
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    kind, value = error["type"], error.get("input")
    if kind == "request":
        field = ".".join([*loc, ctx["field"]] if ctx.get("field") is not None else loc)
        return invalid(field or "body", str(ctx["detail"]))
    field = ".".join(loc)
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields))
        return invalid(field or "body", f"unknown field {loc[-1]!r}; allowed: {allowed}")
    if kind == "missing":
        return invalid(field, "required; a non-empty string")
    if kind in ("greater_than_equal", "less_than_equal") and loc[0] in _RANGES_S:
        low, high = _RANGES_S[loc[0]]
        return invalid(field, f"must be between {low:g} and {high:g} seconds, got {value:g}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return invalid("body", "must be a JSON object")
    return invalid(field or "body", f"invalid: {error['msg']}")


def _between(field: str, value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise invalid(field, f"must be between {low:g} and {high:g} seconds, got {value:g}")
    return value


def deployment_spec(body: object, now: datetime, environments: Environments) -> DeploymentSpec:
    """A :class:`DeploymentSpec` from a registration body; :class:`Problem` (400) when invalid.

    Values the body leaves out come from the environment's defaults.
    """
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    try:
        raw = RegistrationBody.model_validate(body, context={"now": now})
    except ValidationError as exc:
        raise problem_from(exc.errors(include_url=False)[0], RegistrationBody) from None
    defaults = environments.get(raw.environment)
    if defaults is None:
        raise invalid(
            "environment", f"unknown {raw.environment!r}; configured: {', '.join(environments.names)}"
        )
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
    return DeploymentSpec(
        service=raw.service,
        environment=raw.environment,
        version=raw.version,
        baseline_version=raw.baseline_version,
        strategy=raw.strategy,
        started_at=(now if raw.started_at is None else raw.started_at).astimezone(UTC),
        profile=defaults.profile if raw.profile is None else raw.profile,
        warmup_s=defaults.warmup_s if raw.warmup_s is None else raw.warmup_s,
        interval_s=interval_s,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        labels=tuple(sorted(raw.labels.items())),
    )
