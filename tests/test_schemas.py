"""Published schemas: generated from the models, in step with them, and true of real documents."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitor.api.documents import deployment_verdict_document
from monitor.models import (
    CheckResult,
    Classification,
    ComparisonKind,
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    Signal,
    Strategy,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.profiles import BUILTIN_PROFILES
from monitor.report import verdict_document
from monitor.schema import OPENAPI, drift, load
from monitor.schema.__main__ import main

ROOT = Path(__file__).parents[1]
AT = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = Window(AT, datetime(2026, 1, 1, 0, 20, tzinfo=UTC))


def _valid(document: Any, schema: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).is_valid(
        document
    )


def test_the_published_files_are_what_the_models_give(capsys: pytest.CaptureFixture[str]) -> None:
    assert drift() == [], "run python -m monitor.schema"
    assert main(["--check"]) == 0 and capsys.readouterr().err == ""


def test_check_reports_a_file_that_drifted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.schema as schema

    stale = tmp_path / "config.schema.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(schema, "GENERATED", {stale: schema.config_schema})
    assert schema.drift() == [stale]
    monkeypatch.setattr("monitor.schema.__main__.drift", schema.drift)
    assert main(["--check"]) == 1


def test_the_example_config_and_the_builtin_profiles_validate() -> None:
    config = yaml.safe_load((ROOT / "examples" / "config" / "monitor.yaml").read_text(encoding="utf-8"))
    assert _valid(config, load("config.schema.json"))
    profile_schema = load("profile.schema.json")
    for name in BUILTIN_PROFILES:
        text = (ROOT / "monitor" / "profiles" / f"{name}.yaml").read_text(encoding="utf-8")
        assert _valid(yaml.safe_load(text), profile_schema), name


@pytest.mark.parametrize(
    ("document", "schema"),
    [
        ({"environments": {"production": {"interval_s": 5}}}, "config.schema.json"),
        ({"rollback": {"actions": [{"name": "x", "type": "helm", "namespace": "a"}]}}, "config.schema.json"),
        ({"prometheus": {"timeout_s": "10s"}}, "config.schema.json"),
        ({"tokens": [{"name": "ci", "scopes": ["root"], "token_env": "T"}]}, "config.schema.json"),
        ({"name": "p", "labels": {"service": "s", "version": "v"}, "checks": []}, "profile.schema.json"),
        (
            {"name": "p", "labels": {}, "checks": [{"name": "e", "comparison": "histogram"}]},
            "profile.schema.json",
        ),
    ],
)
def test_editors_flag_what_the_monitor_refuses(document: dict[str, Any], schema: str) -> None:
    assert not _valid(document, load(schema))


def _verdict() -> Verdict:
    check = CheckResult(
        name="http_error_ratio",
        signal=Signal.METRICS,
        comparison=ComparisonKind.COUNTS,
        classification=Classification.HIGH,
        critical=True,
        weight=2.0,
        message="errors only in the canary",
        baseline_value=0.0,
        baseline_n=90_000,
        canary_value=0.004,
        canary_n=10_000,
        effect=math.inf,
        interval=(3.2, math.inf),
        p_value=1e-12,
        unit="ratio",
    )
    return Verdict(
        service="checkout",
        environment="production",
        canary=VersionWindow("v2", WINDOW),
        baseline=VersionWindow("v1", WINDOW),
        status=VerdictStatus.FAIL,
        score=0.0,
        summary="fail after 3m: http_error_ratio regressed",
        checks=(check,),
        decided_at=WINDOW.end,
    )


def test_verdict_documents_of_the_cli_and_the_api_validate() -> None:
    schema = load("verdict.schema.json")
    document = json.loads(json.dumps(verdict_document(_verdict())))
    assert _valid(document, schema)
    spec = DeploymentSpec(
        "checkout", "production", "v2", "v1", Strategy.CANARY, AT, "otel-http", 0, 60, 600, 1800
    )
    pending = Deployment("d-1", spec, DeploymentStatus.PENDING, "", AT, AT, looks_done=0, next_look_at=AT)
    assert _valid(json.loads(json.dumps(deployment_verdict_document(pending, None))), schema)
    broken = {**document, "verdict": "maybe"}
    assert not _valid(broken, schema)


def test_the_openapi_request_body_is_the_models() -> None:
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    body = spec["components"]["schemas"]["DeploymentRequest"]
    assert body["additionalProperties"] is False
    assert (
        body["properties"]["interval_s"]["minimum"] == 10 and body["properties"]["labels"]["type"] == "object"
    )
    assert spec["components"]["schemas"]["Strategy"]["enum"] == ["canary", "bluegreen", "rolling"]
    assert "anyOf" not in json.dumps(body) and "$defs" not in json.dumps(spec)  # OpenAPI 3.0's dialect
