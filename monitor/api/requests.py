"""Validation of request bodies into value objects, naming the field at fault."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.api.bodies import text_problem
from monitor.api.problems import invalid
from monitor.environments import Environments
from monitor.errors import InputError
from monitor.models import DeploymentSpec, Strategy
from monitor.timeparse import parse_time

_FIELDS = {
    "service", "environment", "version", "baseline_version", "strategy", "started_at", "profile",
    "warmup_s", "interval_s", "min_duration_s", "max_duration_s", "labels",
}  # fmt: skip
MAX_DURATION_S = 7 * 86400.0
MAX_START_OFFSET = timedelta(days=365)  # a deployment that started longer ago (or later) is a mistake
MAX_LABELS = 20
MAX_LABEL_KEY, MAX_LABEL_VALUE = 100, 200


# Labels are PromQL matchers; prefixed keys ("rollback/feature-flag") are metadata only.
_MATCHER_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METADATA_KEY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


def _text(body: dict[str, Any], field: str, default: str | None = None, max_len: int = 200) -> str:
    value = body.get(field, default)
    if value is None:
        raise invalid(field, "required; a non-empty string")
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        shown = repr(value)[:80]
        raise invalid(field, f"must be a non-empty string of at most {max_len} characters, got {shown}")
    if (problem := text_problem(value)) is not None or value != value.strip():
        raise invalid(field, f"{problem or 'has leading or trailing whitespace'}; send plain text")
    return value


def _seconds(body: dict[str, Any], field: str, default: float, low: float, high: float) -> float:
    value = body.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(field, f"must be a number of seconds, got {value!r}")
    if not low <= value <= high:
        raise invalid(field, f"must be between {low:g} and {high:g} seconds, got {value:g}")
    return float(value)


def deployment_spec(body: object, now: datetime, environments: Environments) -> DeploymentSpec:
    """A :class:`DeploymentSpec` from a registration body; :class:`Problem` (400) when invalid.

    Values the body leaves out come from the environment's defaults.
    """
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise invalid(
            unknown[0] or "body", f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_FIELDS))}"
        )
    environment = _text(body, "environment", max_len=100)
    defaults = environments.get(environment)
    if defaults is None:
        raise invalid("environment", f"unknown {environment!r}; configured: {', '.join(environments.names)}")
    version, baseline = _text(body, "version"), _text(body, "baseline_version")
    if version == baseline:
        raise invalid("baseline_version", "must differ from version")
    try:
        strategy = Strategy(body.get("strategy", Strategy.CANARY.value))
    except ValueError:
        raise invalid("strategy", f"must be one of {', '.join(s.value for s in Strategy)}") from None
    started_raw = body.get("started_at")
    try:
        started_at = now if started_raw is None else parse_time(str(started_raw), "started_at")
    except (InputError, OverflowError, ValueError) as exc:
        raise invalid("started_at", str(exc)) from None
    if abs(started_at - now) > MAX_START_OFFSET:
        raise invalid(
            "started_at", f"must lie within {MAX_START_OFFSET.days} days of now; omit it to mean now"
        )
    interval_s = _seconds(body, "interval_s", defaults.interval_s, 10.0, 3600.0)
    max_duration_s = _seconds(body, "max_duration_s", defaults.max_duration_s, interval_s, MAX_DURATION_S)
    labels = body.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise invalid("labels", 'must be an object of string label values, e.g. {"region": "eu-1"}')
    if len(labels) > MAX_LABELS:
        raise invalid("labels", f"at most {MAX_LABELS} labels, got {len(labels)}")
    for key, value in labels.items():
        if len(key) > MAX_LABEL_KEY or len(value) > MAX_LABEL_VALUE:
            raise invalid(
                f"labels.{key[:MAX_LABEL_KEY]}",
                f"keys of at most {MAX_LABEL_KEY} and values of at most {MAX_LABEL_VALUE} characters",
            )
        if (problem := text_problem(value)) is not None:
            raise invalid(f"labels.{key}", f"{problem}; send plain text")
        if not (_MATCHER_KEY.fullmatch(key) or _METADATA_KEY.fullmatch(key)):
            raise invalid(
                f"labels.{key}",
                "is neither a Prometheus label name (a query matcher, e.g. region) nor a prefixed "
                "key (metadata for rollback actions, e.g. rollback/feature-flag)",
            )
    return DeploymentSpec(
        service=_text(body, "service"),
        environment=environment,
        version=version,
        baseline_version=baseline,
        strategy=strategy,
        started_at=started_at.astimezone(UTC),
        profile=_text(body, "profile", defaults.profile),
        warmup_s=_seconds(body, "warmup_s", defaults.warmup_s, 0.0, MAX_DURATION_S),
        interval_s=interval_s,
        min_duration_s=_seconds(
            body, "min_duration_s", min(defaults.min_duration_s, max_duration_s), 0.0, max_duration_s
        ),
        max_duration_s=max_duration_s,
        labels=tuple(sorted(labels.items())),
    )
