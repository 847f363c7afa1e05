"""A registration's before/after baseline: from the body, else its environment's config, and refused when
a seasonal window would reach past the switch; the deployment document shows it. No daemon needed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.api.documents import deployment_document
from monitor.api.problems import Problem
from monitor.api.requests import deployment_spec
from monitor.cli import build_parser
from monitor.commands.gate import _registration
from monitor.config import load_settings
from monitor.environments import Environments
from monitor.errors import ConfigError
from monitor.models import BaselineChoice, Deployment, DeploymentStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = {
    "service": "checkout",
    "environment": "staging",
    "version": "v2",
    "baseline_version": "v1",
    "strategy": "rolling",
}


def _environments(tmp_path: Path, yaml: str) -> Environments:
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml)
    return Environments(load_settings(path, environ={}).environments)


def test_the_built_in_environments_keep_the_window_before_the_deploy() -> None:
    spec = deployment_spec(BODY, NOW, Environments())
    assert spec.baseline is BaselineChoice.PREVIOUS


def test_the_body_chooses_else_the_environment_does(tmp_path: Path) -> None:
    environments = _environments(tmp_path, "environments:\n  staging: {baseline: auto}\n")
    assert deployment_spec(BODY, NOW, environments).baseline is BaselineChoice.AUTO
    chosen = deployment_spec({**BODY, "baseline": "week"}, NOW, environments)
    assert chosen.baseline is BaselineChoice.WEEK
    # Other environments keep their own default.
    assert deployment_spec({**BODY, "environment": "testing"}, NOW, environments).baseline is (
        BaselineChoice.PREVIOUS
    )


def test_an_unknown_baseline_is_refused_with_the_choices() -> None:
    with pytest.raises(Problem) as caught:
        deployment_spec({**BODY, "baseline": "yesterday"}, NOW, Environments())
    assert caught.value.field == "baseline"
    assert "previous, day, week, auto" in caught.value.detail


def test_a_day_baseline_that_would_reach_past_the_switch_is_refused() -> None:
    body = {**BODY, "baseline": "day", "warmup_s": 3600, "max_duration_s": 86400}
    with pytest.raises(Problem) as caught:
        deployment_spec(body, NOW, Environments())
    assert caught.value.status == 400 and caught.value.field == "baseline"
    assert "within 24 h" in caught.value.detail and "max_duration_s" in caught.value.detail
    # The week baseline fits, and so does a canary (judged beside its baseline, whatever it says).
    assert deployment_spec({**body, "baseline": "week"}, NOW, Environments()).baseline is BaselineChoice.WEEK
    deployment_spec({**body, "strategy": "canary"}, NOW, Environments())


def test_the_deployment_document_shows_the_choice() -> None:
    spec = deployment_spec({**BODY, "baseline": "day"}, NOW, Environments())
    document = deployment_document(Deployment("d-1", spec, DeploymentStatus.PENDING, "", NOW, NOW))
    assert document["baseline"] == "day"


def test_a_bad_baseline_in_the_config_names_the_line_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _environments(tmp_path, "environments:\n  production:\n    baseline: yesterday\n")
    message = str(caught.value)
    assert "environments.production.baseline" in message and "previous, day, week or auto" in message
    assert re.search(r"monitor\.yaml:3: ", message), message


def test_gate_sends_the_baseline_only_when_given() -> None:
    flags = ["gate", "--service", "checkout", "--environment", "staging", "--version", "v2"]
    flags += ["--baseline-version", "v1", "--strategy", "rolling"]
    parser = build_parser()
    assert _registration(parser.parse_args([*flags, "--baseline", "day"]))["baseline"] == "day"
    assert "baseline" not in _registration(parser.parse_args(flags))  # the environment's default
