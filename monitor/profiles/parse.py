"""Validation of profile YAML into :class:`~monitor.profiles.model.Profile`."""

from __future__ import annotations

import re
from enum import StrEnum
from string import Template
from typing import Any, TypeVar

from monitor.checks.registry import known_check_names
from monitor.models import CheckPurpose, ComparisonKind, Direction, Signal
from monitor.profiles.model import (
    CheckSpec,
    DecisionPolicy,
    FromSpans,
    LabelNames,
    NewItems,
    Profile,
    TrafficPolicy,
)
from monitor.stats.multiple import CRITICAL_SHARE, EARLY_RELEVANCE, FINAL_SHARE
from monitor.yamlfile import YamlDocument

_E = TypeVar("_E", bound=StrEnum)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_QUERY_FIELDS = {
    ComparisonKind.COUNTS: ("events", "exposure"),
    ComparisonKind.DISTRIBUTION: ("buckets",),
    ComparisonKind.SAMPLES: ("series",),
}
_CHECK_FIELDS = {
    "name", "comparison", "signal", "purpose", "description", "events", "exposure", "buckets",
    "series", "direction", "critical", "weight", "allowed_effect", "negligible_value", "min_data", "optional",
    "quantiles", "unit", "allowed_decrease", "new_items", "from_spans",
}  # fmt: skip
_TOP_FIELDS = {"name", "description", "labels", "alpha", "decision", "traffic", "checks"}


class _Reader:
    """Typed access to one mapping of the document, raising errors that point at the field."""

    def __init__(self, doc: YamlDocument, data: dict[str, Any], path: str, known: set[str]) -> None:
        self.doc, self.data, self.path = doc, data, path
        for key in data:
            if str(key) not in known:
                raise doc.error(
                    self._at(str(key)), "unknown field", f"use one of: {', '.join(sorted(known))}"
                )

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.doc.error(
                self._at(key),
                f"expected a number, got {value!r}",
                f"write a number in [{low}, {high}]",
            )
        if not low <= value <= high:
            raise self.doc.error(self._at(key), f"{value} is out of range", f"use a value in [{low}, {high}]")
        return float(value)

    def optional_number(self, key: str, low: float, high: float) -> float | None:
        return None if self.data.get(key) is None else self.number(key, 0.0, low, high)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.doc.error(
                self._at(key), f"expected true or false, got {value!r}", "write true or false"
            )
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.doc.error(self._at(key), f"expected a string, got {value!r}", "quote the value")
        return value

    def choice(self, key: str, enum: type[_E], default: _E | None) -> _E:
        value = self.data.get(key)
        if value is None:
            if default is None:
                options = ", ".join(e.value for e in enum)
                raise self.doc.error(self._at(key), "missing", f"add '{key}: <one of {options}>'")
            return default
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(e.value for e in enum)
            raise self.doc.error(
                self._at(key), f"{value!r} is not allowed", f"use one of: {options}"
            ) from None

    def mapping(self, key: str, known: set[str]) -> _Reader:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise self.doc.error(self._at(key), "expected a mapping", "indent its fields under it")
        return _Reader(self.doc, value, self._at(key), known)


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


def _parse_check(doc: YamlDocument, raw: Any, index: int, labels: LabelNames) -> CheckSpec:
    path = f"checks[{index}]"
    if not isinstance(raw, dict):
        raise doc.error(path, "expected a mapping", "write each check as 'name: ..., comparison: ...'")
    r = _Reader(doc, raw, path, _CHECK_FIELDS)
    name = r.text("name")
    if name is None or not _NAME.match(name):
        raise doc.error(
            f"{path}.name",
            f"invalid check name {name!r}",
            "use lower_snake_case, e.g. http_error_ratio",
        )
    comparison = r.choice("comparison", ComparisonKind, None)
    purpose = r.choice("purpose", CheckPurpose, CheckPurpose.REGRESSION)
    signal = r.choice("signal", Signal, Signal.METRICS)
    needed = ("exposure",) if purpose is CheckPurpose.TRAFFIC else _QUERY_FIELDS[comparison]
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
    queries: dict[str, str | None] = {}
    for key in ("events", "exposure", "buckets", "series"):
        template = r.text(key)
        if key in needed:
            if not template:
                raise doc.error(
                    f"{path}.{key}",
                    "missing",
                    f"a {comparison.value} check needs a '{key}' PromQL template",
                )
            _check_template(doc, f"{path}.{key}", template, labels)
        queries[key] = template
    quantiles = raw.get("quantiles", [0.5, 0.9, 0.99])
    if (
        not isinstance(quantiles, list)
        or not quantiles
        or not all(isinstance(q, int | float) and not isinstance(q, bool) and 0 < q < 1 for q in quantiles)
    ):
        raise doc.error(
            f"{path}.quantiles",
            f"invalid {quantiles!r}",
            "list quantiles strictly between 0 and 1, e.g. [0.5, 0.9, 0.99]",
        )
    return CheckSpec(
        name=name,
        comparison=comparison,
        signal=signal,
        purpose=purpose,
        description=r.text("description", "") or "",
        events=queries["events"],
        exposure=queries["exposure"],
        buckets=queries["buckets"],
        series=queries["series"],
        direction=r.choice("direction", Direction, Direction.INCREASE),
        critical=r.flag("critical", False),
        weight=r.number("weight", 0.0 if purpose is CheckPurpose.TRAFFIC else 1.0, 0.0, 100.0),
        allowed_effect=r.number("allowed_effect", 0.0, 0.0, 100.0),
        negligible_value=r.number("negligible_value", 0.0, 0.0, 1e18),
        min_data=r.number("min_data", 1.0, 0.0, 1e12),
        optional=r.flag("optional", False),
        quantiles=tuple(float(q) for q in quantiles),
        unit=r.text("unit", "") or "",
        allowed_decrease=(
            None if raw.get("allowed_decrease") is None else r.number("allowed_decrease", 0.0, 0.0, 0.999)
        ),
        new_items=r.choice("new_items", NewItems, NewItems.REGRESS),
        from_spans=_from_spans(doc, r, path, comparison, purpose, signal, queries),
    )


def _from_spans(
    doc: YamlDocument,
    r: _Reader,
    path: str,
    comparison: ComparisonKind,
    purpose: CheckPurpose,
    signal: Signal,
    queries: dict[str, str | None],
) -> FromSpans | None:
    """What the check reads from server spans without series; it must fit the comparison."""
    if r.data.get("from_spans") is None:
        return None
    value = r.choice("from_spans", FromSpans, None)
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
    r = _Reader(doc, doc.data, "", _TOP_FIELDS)
    name = r.text("name")
    if not name:
        raise doc.error("name", "missing", "add 'name: <profile name>' at the top")
    labels_raw = doc.data.get("labels") or {}
    if not isinstance(labels_raw, dict) or not all(isinstance(v, str) and v for v in labels_raw.values()):
        raise doc.error(
            "labels",
            "expected a mapping of keys to label names",
            "write e.g. 'service: service_name'",
        )
    names = {str(k): str(v) for k, v in labels_raw.items()}
    for key in ("service", "version"):
        if key not in names:
            raise doc.error("labels", f"no label for '{key}'", f"add '{key}: <label name>' under labels")
    labels = LabelNames(
        service=names.pop("service"), version=names.pop("version"), others=tuple(sorted(names.items()))
    )
    decision = r.mapping(
        "decision",
        {"pass_score", "marginal_score", "early_pass", "min_duration_s", "period_s", "final_share",
         "critical_share", "early_relevance"},
    )  # fmt: skip
    traffic = r.mapping("traffic", {"expected_canary_share", "tolerance_factor"})
    raw_checks = doc.data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise doc.error("checks", "missing or empty", "list at least one check under 'checks'")
    checks = tuple(_parse_check(doc, raw, i, labels) for i, raw in enumerate(raw_checks))
    seen: set[str] = set()
    for i, check in enumerate(checks):
        if check.name in seen:
            raise doc.error(
                f"checks[{i}].name",
                f"duplicate check name {check.name!r}",
                "give every check its own name",
            )
        seen.add(check.name)
    pass_score = decision.number("pass_score", 95.0, 0.0, 100.0)
    marginal_score = decision.number("marginal_score", 75.0, 0.0, 100.0)
    if marginal_score > pass_score:
        raise doc.error("decision.marginal_score", "above pass_score", "make marginal_score <= pass_score")
    return Profile(
        name=name,
        source=doc.source,
        description=r.text("description", "") or "",
        labels=labels,
        alpha=r.number("alpha", 0.01, 1e-9, 0.2),
        checks=checks,
        decision=DecisionPolicy(
            pass_score=pass_score,
            marginal_score=marginal_score,
            early_pass=decision.flag("early_pass", True),
            min_duration_s=decision.number("min_duration_s", 600.0, 0.0, 7 * 86400.0),
            period_s=decision.number("period_s", 300.0, 0.0, 86400.0),
            final_share=decision.number("final_share", FINAL_SHARE, 0.05, 1.0),
            critical_share=decision.number("critical_share", CRITICAL_SHARE, 0.0, 1.0),
            early_relevance=decision.number("early_relevance", EARLY_RELEVANCE, 0.5, 0.999),
        ),
        traffic=TrafficPolicy(
            expected_canary_share=traffic.optional_number("expected_canary_share", 1e-6, 1.0),
            tolerance_factor=traffic.number("tolerance_factor", 2.0, 1.0, 1000.0),
        ),
    )
