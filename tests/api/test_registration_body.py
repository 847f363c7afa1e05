"""The registration body's validation order and its JSON nulls, without a daemon."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.api.problems import Problem
from monitor.api.requests import deployment_spec
from monitor.environments import Environments

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENVIRONMENTS = Environments()
BODY = {"service": "checkout", "environment": "production", "version": "v2", "baseline_version": "v1"}


def test_json_null_for_an_optional_field_means_its_default() -> None:
    nulls = dict.fromkeys(
        ("strategy", "started_at", "profile", "warmup_s", "interval_s", "min_duration_s", "max_duration_s")
    )
    nulls.pop("strategy")  # the strategy has a default but is not nullable: null is a 400
    with pytest.raises(Problem, match="must be one of"):
        deployment_spec({**BODY, "strategy": None}, NOW, ENVIRONMENTS)
    spec = deployment_spec({**BODY, **nulls}, NOW, ENVIRONMENTS)
    assert spec == deployment_spec(BODY, NOW, ENVIRONMENTS)
    assert spec.started_at == NOW and spec.profile == ENVIRONMENTS.get("production").profile  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        # An unknown field is named first, whatever else is wrong (the alphabetically first of several).
        ({**BODY, "warmup_s": -1, "zz": 1, "colour": "red"}, "colour", "unknown field 'colour'"),
        ({**BODY, "service": "", "colour": "red"}, "colour", "unknown field 'colour'"),
        # An unknown environment before the fields after it.
        ({**BODY, "environment": "moon", "warmup_s": -1}, "environment", "unknown 'moon'; configured: "),
        ({**BODY, "environment": "moon", "version": "v1"}, "environment", "unknown 'moon'"),
    ],
)
def test_an_unknown_field_then_an_unknown_environment_are_named_first(
    body: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(Problem) as caught:
        deployment_spec(body, NOW, ENVIRONMENTS)
    assert caught.value.status == 400 and caught.value.field == field and words in caught.value.detail
