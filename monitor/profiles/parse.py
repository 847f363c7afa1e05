"""Profile YAML as a pydantic model (:class:`ProfileFile`), validated into a :class:`Profile`.

The model checks each field (types, bounds, choices, unknown fields); :func:`parse_profile` then checks
what spans fields: the queries a comparison needs and their placeholders, the names of log and trace
checks (from the check registry, :mod:`monitor.profiles.kinds`), ``from_spans`` against the comparison,
unique check names.
"""

from __future__ import annotations

from string import Template
from typing import Annotated, Literal, Self

from pydantic import Field, WithJsonSchema, model_validator

from monitor.models import CheckPurpose, ComparisonKind, Direction, Signal
from monitor.profiles.kinds import known_check_names
from monitor.profiles.model import (
    CheckSpec,
    DecisionPolicy,
    FromSpans,
    LabelNames,
    NewItems,
    Profile,
    TrafficPolicy,
)
from monitor.settings.base import Fix, Lax, Section, invalid, validate
from monitor.stats.multiple import CRITICAL_SHARE, EARLY_RELEVANCE, FINAL_SHARE
from monitor.yamlfile import YamlDocument

_NAME = r"^[a-z][a-z0-9_]*$"
_QUERY_FIELDS = {
    ComparisonKind.COUNTS: ("events", "exposure"),
    ComparisonKind.DISTRIBUTION: ("buckets",),
    ComparisonKind.SAMPLES: ("series",),
}
_QUERY = "a PromQL template with $selector and $window"


class CheckSection(Section):
    """One check of a profile; which query fields it needs depends on ``comparison``."""

    name: Annotated[str, Field(pattern=_NAME), Fix("use lower_snake_case, e.g. http_error_ratio")]
    comparison: Annotated[ComparisonKind, Lax]
    # Probe checks come from the config's probes, never from a profile: the schema (what editors
    # accept) leaves the value out, and the parser refuses it with the fix.
    signal: Annotated[
        Signal,
        Lax,
        WithJsonSchema(
            {
                "enum": [s.value for s in Signal if s is not Signal.PROBE],
                "description": "the telemetry it reads",
            }
        ),
    ] = Signal.METRICS
    purpose: Annotated[CheckPurpose, Lax] = CheckPurpose.REGRESSION
    description: str | None = None
    events: str | None = Field(None, description=f"counts: the events, {_QUERY}")
    exposure: str | None = Field(None, description=f"counts: what the events are a share of, {_QUERY}")
    buckets: str | None = Field(None, description=f"distribution: histogram buckets by le, {_QUERY}")
    series: str | None = Field(None, description=f"samples: one value per series, {_QUERY}")
    direction: Annotated[Direction, Lax] = Direction.INCREASE
    critical: bool = False
    weight: float | None = Field(None, ge=0.0, le=100.0, description="default 1 (0 for a traffic check)")
    allowed_effect: float = Field(0.0, ge=0.0, le=100.0, description="the relative increase tolerated")
    negligible_value: float = Field(0.0, ge=0.0, le=1e18, description="never fail at or below this value")
    min_data: float = Field(1.0, ge=0.0, le=1e12)
    optional: bool = False
    quantiles: Annotated[
        list[Annotated[float, Field(gt=0, lt=1)]],
        Field(min_length=1),
        Fix("list quantiles strictly between 0 and 1, e.g. [0.5, 0.9, 0.99]"),
    ] = Field(default_factory=lambda: [0.5, 0.9, 0.99])
    unit: str | None = None
    allowed_decrease: float | None = Field(None, ge=0.0, le=0.999, description="the relative fall tolerated")
    new_items: Annotated[NewItems, Lax] = NewItems.REGRESS
    from_spans: Annotated[FromSpans, Lax] | None = None

    @classmethod
    def missing_fix(cls, name: str) -> str:
        if name == "comparison":
            return f"add 'comparison: <one of {', '.join(ComparisonKind)}>'"
        return super().missing_fix(name)


class DecisionSection(Section):
    """``decision:``: how check results become a verdict, and how the false-alarm budget is spent."""

    pass_score: float = Field(95.0, ge=0.0, le=100.0)
    marginal_score: float = Field(75.0, ge=0.0, le=100.0)
    early_pass: bool = True
    min_duration_s: float = Field(600.0, ge=0.0, le=7 * 86400.0)
    period_s: float = Field(300.0, ge=0.0, le=86400.0, description="canary mode: per-period traffic split")
    final_share: float = Field(FINAL_SHARE, ge=0.05, le=1.0)
    critical_share: float = Field(CRITICAL_SHARE, ge=0.0, le=1.0)
    early_relevance: float = Field(EARLY_RELEVANCE, ge=0.5, le=0.999)

    @model_validator(mode="after")
    def _ordered_scores(self) -> Self:
        if self.marginal_score > self.pass_score:
            raise invalid("above pass_score", "make marginal_score <= pass_score", field="marginal_score")
        return self


class TrafficSection(Section):
    """``traffic:``: what share of traffic the canary should get, and how far off makes a run suspect."""

    expected_canary_share: float | None = Field(None, ge=1e-6, le=1.0)
    tolerance_factor: float = Field(2.0, ge=1.0, le=1000.0)


class ProfileFile(Section):
    """An analysis profile (see :mod:`monitor.profiles`)."""

    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    labels: Annotated[
        dict[str, Annotated[str, Field(min_length=1)]],
        Fix("write e.g. 'service: service_name' (a mapping of keys to label names)"),
    ]
    alpha: float = Field(0.01, ge=1e-9, le=0.2, description="the run's false-alarm budget")
    decision: DecisionSection | None = None
    traffic: TrafficSection | None = None
    baseline: Literal["previous", "day", "week"] | None = Field(
        None,
        description="before/after mode: the baseline a calibration (monitor backtest) found to alarm "
        "least; used where an environment or registration asks for baseline auto",
    )
    checks: Annotated[list[CheckSection], Field(min_length=1), Fix("list at least one check under 'checks'")]

    @classmethod
    def missing_fix(cls, name: str) -> str:
        # Only for a missing name: a name of the wrong type gets its type's fix.
        return "add 'name: <profile name>' at the top" if name == "name" else super().missing_fix(name)


def _check_template(doc: YamlDocument, path: str, template: str, labels: LabelNames) -> None:
    allowed = {"selector", "window", *labels.placeholders()}
    # The names string.Template itself finds, ${braced} ones included, and not the literal $$.
    for match in Template.pattern.finditer(template):
        placeholder = match.group("named") or match.group("braced")
        if placeholder is not None and placeholder not in allowed:
            raise doc.error(
                path,
                f"unknown placeholder ${placeholder}",
                f"use one of: {', '.join('$' + a for a in sorted(allowed))} (define labels under 'labels')",
            )
    try:
        Template(template).substitute({name: "x" for name in allowed})
    except ValueError as exc:
        raise doc.error(
            path, f"invalid placeholder syntax ({exc})", 'write $$ for a literal $ (e.g. =~"5..$$")'
        ) from None
    if "$selector" not in template:
        raise doc.error(
            path,
            "the query has no $selector",
            "select the version with {$selector} inside the metric's braces",
        )


def _parse_check(doc: YamlDocument, raw: CheckSection, index: int, labels: LabelNames) -> CheckSpec:
    path = f"checks[{index}]"
    name, comparison, purpose, signal = raw.name, raw.comparison, raw.purpose, raw.signal
    needed = ("exposure",) if purpose is CheckPurpose.TRAFFIC else _QUERY_FIELDS[comparison]
    if signal is Signal.PROBE:
        raise doc.error(
            f"{path}.signal",
            "probe checks are not defined in a profile",
            "define smoke probes in the config's probes: section or the deployment's registration "
            "(docs/configuration.md, Smoke probes); the verdict adds their checks",
        )
    if signal is not Signal.METRICS:
        # Logs and traces come from the OTLP receiver's aggregates: the judge is named, not queried.
        known = known_check_names(signal)
        if name not in known:
            raise doc.error(
                f"{path}.name", f"no {signal.value} check {name!r}", f"use one of {', '.join(sorted(known))}"
            )
        if comparison is not known[name]:
            raise doc.error(f"{path}.comparison", f"{name} is a {known[name].value} comparison",
                            f"set 'comparison: {known[name].value}'")  # fmt: skip
        needed = ()
    if purpose is CheckPurpose.TRAFFIC and comparison is not ComparisonKind.COUNTS:
        raise doc.error(
            f"{path}.purpose", "a traffic check compares request counts", "set 'comparison: counts'"
        )
    queries: dict[str, str | None] = {
        key: getattr(raw, key) for key in ("events", "exposure", "buckets", "series")
    }
    for key in needed:
        template = queries[key]
        if not template:
            raise doc.error(
                f"{path}.{key}", "missing", f"a {comparison.value} check needs a '{key}' PromQL template"
            )
        _check_template(doc, f"{path}.{key}", template, labels)
    return CheckSpec(
        name=name,
        comparison=comparison,
        signal=signal,
        purpose=purpose,
        description=raw.description or "",
        events=queries["events"],
        exposure=queries["exposure"],
        buckets=queries["buckets"],
        series=queries["series"],
        direction=raw.direction,
        critical=raw.critical,
        weight=(0.0 if purpose is CheckPurpose.TRAFFIC else 1.0) if raw.weight is None else raw.weight,
        allowed_effect=raw.allowed_effect,
        negligible_value=raw.negligible_value,
        min_data=raw.min_data,
        optional=raw.optional,
        quantiles=tuple(raw.quantiles),
        unit=raw.unit or "",
        allowed_decrease=raw.allowed_decrease,
        new_items=raw.new_items,
        from_spans=_from_spans(doc, raw, path, queries),
    )


def _from_spans(
    doc: YamlDocument, raw: CheckSection, path: str, queries: dict[str, str | None]
) -> FromSpans | None:
    """What the check reads from server spans without series; it must fit the comparison."""
    value, comparison, purpose, signal = raw.from_spans, raw.comparison, raw.purpose, raw.signal
    if value is None:
        return None
    fits = {
        FromSpans.LATENCY: comparison is ComparisonKind.DISTRIBUTION,
        FromSpans.ERRORS: comparison is ComparisonKind.COUNTS and queries.get("events") is not None,
        FromSpans.REQUESTS: comparison is ComparisonKind.COUNTS and purpose is CheckPurpose.TRAFFIC,
    }[value]
    if signal is not Signal.METRICS or not fits:
        raise doc.error(
            f"{path}.from_spans",
            f"{value.value} does not fit a {purpose.value} {comparison.value} check of {signal.value}",
            "use latency for a distribution, errors for counts with events, requests for a traffic check",
        )
    return value


def parse_profile(doc: YamlDocument) -> Profile:
    """Validate a profile document; raise :class:`~monitor.errors.ConfigError` naming the field."""
    raw = validate(doc, ProfileFile)
    names = dict(raw.labels)
    for key in ("service", "version"):
        if key not in names:
            raise doc.error("labels", f"no label for '{key}'", f"add '{key}: <label name>' under labels")
    labels = LabelNames(
        service=names.pop("service"), version=names.pop("version"), others=tuple(sorted(names.items()))
    )
    checks = tuple(_parse_check(doc, check, i, labels) for i, check in enumerate(raw.checks))
    seen: set[str] = set()
    for i, check in enumerate(checks):
        if check.name in seen:
            raise doc.error(
                f"checks[{i}].name",
                f"duplicate check name {check.name!r}",
                "give every check its own name",
            )
        seen.add(check.name)
    decision = raw.decision or DecisionSection.model_validate({})
    traffic = raw.traffic or TrafficSection.model_validate({})
    return Profile(
        name=raw.name,
        source=doc.source,
        description=raw.description or "",
        labels=labels,
        alpha=raw.alpha,
        checks=checks,
        decision=DecisionPolicy(**decision.model_dump()),
        traffic=TrafficPolicy(**traffic.model_dump()),
        baseline=raw.baseline,
    )
