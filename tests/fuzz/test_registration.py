"""Fuzz: a deployment registration body, raw bytes to JSON to :class:`DeploymentSpec`.

Property: ``parse_json`` and ``deployment_spec`` give a spec within every documented bound, or
raise a 400 :class:`Problem` naming the field at fault; never another exception, never a hang.
Over HTTP, ``POST /api/v1/deployments`` answers below 500, and every 4xx is problem+json.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.profiles import fuzz_profile
from fuzz.strategies import JSON_VALUES, NUMBERS, TEXT, raw_bodies
from monitor.api.bodies import parse_json, text_problem
from monitor.api.problems import PROBLEM_JSON, Problem
from monitor.api.requests import MAX_DURATION_S, MAX_LABELS, MAX_START_OFFSET, deployment_spec
from monitor.environments import Environments
from monitor.models import DeploymentSpec, Strategy

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ENVIRONMENTS = Environments()

_OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
_ZONES = st.builds(timezone, _OFFSETS)
_NEAR = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 11, 1), timezones=_ZONES)
_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=30)
_SECONDS = st.floats(min_value=0, max_value=MAX_DURATION_S)
_LABEL_KEY = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True) | st.just("rollback/feature-flag")

# Values each field accepts, then values that are wrong for it (or for everything).
VALID: dict[str, st.SearchStrategy[Any]] = {
    "service": _WORDS,
    "environment": st.sampled_from(ENVIRONMENTS.names),
    "version": st.sampled_from(["v1", "v2", "v3"]) | _WORDS,
    "baseline_version": st.sampled_from(["v1", "v2", "v3"]) | _WORDS,
    "strategy": st.sampled_from([s.value for s in Strategy]),
    "started_at": _NEAR.map(datetime.isoformat) | _NEAR.map(lambda t: t.timestamp()) | st.none(),
    "profile": st.sampled_from(["otel-http", "prometheus-http"]),
    "warmup_s": _SECONDS,
    "interval_s": st.floats(min_value=10, max_value=3600) | st.integers(min_value=10, max_value=3600),
    "min_duration_s": st.floats(min_value=0, max_value=3600),
    "max_duration_s": st.floats(min_value=3600, max_value=MAX_DURATION_S),
    "labels": st.dictionaries(_LABEL_KEY, _WORDS, max_size=5),
}
_NAMES = st.sampled_from(["x" * 201, " v1", "v1\n"]) | TEXT | JSON_VALUES
_TIMES = st.one_of(
    st.datetimes(timezones=_ZONES).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # no time zone: refused
    st.floats().map(str),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-26T09:00:00z"]),
    st.sampled_from(["1e20", "-1e20", "inf", "nan"]),
    NUMBERS,
    JSON_VALUES,
)
_LABEL_KEYS = st.sampled_from(["a" * 101, "9x", "x/", "a/b/c", "Rollback/x"]) | TEXT
_LABELS = st.dictionaries(
    _LABEL_KEY | _LABEL_KEYS, st.sampled_from(["eu-1", "v" * 201]) | TEXT, min_size=1, max_size=MAX_LABELS + 3
)
_ANY_SECONDS = NUMBERS | st.floats(min_value=-1, max_value=2 * MAX_DURATION_S) | JSON_VALUES
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "service": _NAMES,
    "environment": st.just("prod") | _NAMES,
    "version": _NAMES,
    "baseline_version": _NAMES,
    "strategy": JSON_VALUES,
    "started_at": _TIMES,
    "profile": st.just("/etc/passwd") | _NAMES,
    "warmup_s": _ANY_SECONDS,
    "interval_s": _ANY_SECONDS,
    "min_duration_s": _ANY_SECONDS,
    "max_duration_s": _ANY_SECONDS,
    "labels": _LABELS | JSON_VALUES,
}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Registration bodies: valid fields with up to three of them wrong, missing or unknown."""
    body: dict[str, Any] = {key: draw(VALID[key]) for key in ("service", "environment", "version")}
    body["baseline_version"] = draw(VALID["baseline_version"])
    body.update(draw(st.fixed_dictionaries({}, optional=VALID)))
    for key in draw(st.lists(st.sampled_from(sorted(WRONG)), max_size=3, unique=True)):
        body[key] = draw(WRONG[key])
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=1)):
        del body[key]
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        body[draw(TEXT)] = draw(JSON_VALUES)
    return body


def _check_spec(spec: DeploymentSpec) -> None:
    """Every bound ``deployment_spec`` promises of the spec it returns."""
    event("a valid spec")
    for text in (spec.service, spec.environment, spec.version, spec.baseline_version, spec.profile):
        assert text and text == text.strip() and len(text) <= 200 and text_problem(text) is None
    assert spec.environment in ENVIRONMENTS.names and spec.version != spec.baseline_version
    assert spec.started_at.tzinfo == UTC and abs(spec.started_at - NOW) <= MAX_START_OFFSET
    assert 10.0 <= spec.interval_s <= 3600.0
    assert spec.interval_s <= spec.max_duration_s <= MAX_DURATION_S
    assert 0.0 <= spec.min_duration_s <= spec.max_duration_s
    assert 0.0 <= spec.warmup_s <= MAX_DURATION_S and math.isfinite(spec.warmup_s)
    assert len(spec.labels) <= MAX_LABELS
    assert all(text_problem(k) is None and text_problem(v) is None for k, v in spec.labels)


def _check_problem(problem: Problem) -> None:
    event("a 400")
    # The field may be "" when the offending key is itself empty ({"": 1}).
    assert problem.status == 400 and problem.field is not None, problem
    assert problem.detail.startswith(f"{problem.field}: ") or problem.field == "body", problem


def parse_registration(raw: bytes) -> None:
    """The property: a valid spec, or a 400 naming the field."""
    try:
        spec = deployment_spec(parse_json(raw), NOW, ENVIRONMENTS)
    except Problem as problem:
        _check_problem(problem)
    else:
        _check_spec(spec)


@fuzz_profile
@given(raw_bodies(bodies()))
@example(b'{"service": "checkout"')
@example(b"\xff\xfe\x00")
def test_raw_registration_body_is_a_spec_or_a_400(raw: bytes) -> None:
    parse_registration(raw)


@fuzz_profile
@given(bodies() | JSON_VALUES)
def test_registration_document_is_a_spec_or_a_400(body: Any) -> None:
    try:
        spec = deployment_spec(body, NOW, ENVIRONMENTS)
    except Problem as problem:
        _check_problem(problem)
    else:
        _check_spec(spec)


@fuzz_profile
@given(raw=raw_bodies(bodies()))
async def test_registration_over_http_answers_below_500(client: TestClient[Any, Any], raw: bytes) -> None:
    answer = await client.post("/api/v1/deployments", data=raw, headers={"Content-Type": "application/json"})
    text = await answer.text()
    event(f"HTTP {answer.status}")
    assert answer.status < 500, text
    if answer.status >= 400:
        assert answer.content_type == PROBLEM_JSON, text
    else:
        assert answer.status in (200, 201), text
