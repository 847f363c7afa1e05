"""Published schemas: generated from the models, in step with them, and true of real documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitor.api.documents import deployment_verdict_document
from monitor.api.integrations import FLAGGER_HOOKS
from monitor.models import Deployment, DeploymentSpec, DeploymentStatus, Strategy
from monitor.profiles import BUILTIN_PROFILES
from monitor.schema import OPENAPI, drift, load, openapi_components
from monitor.schema.__main__ import main

ROOT = Path(__file__).parents[1]
AT = datetime(2026, 1, 1, tzinfo=UTC)


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


def test_verdict_documents_of_the_api_validate() -> None:
    """The CLI's documents are validated against the schema in tests/test_report.py and test_analyze.py."""
    schema = load("verdict.schema.json")
    spec = DeploymentSpec(
        "checkout", "production", "v2", "v1", Strategy.CANARY, AT, "otel-http", 0, 60, 600, 1800
    )
    pending = Deployment("d-1", spec, DeploymentStatus.PENDING, "", AT, AT, looks_done=0, next_look_at=AT)
    document = json.loads(json.dumps(deployment_verdict_document(pending, None)))
    assert _valid(document, schema)
    assert not _valid({**document, "verdict": "maybe"}, schema)
    assert not _valid({**document, "score": 101}, schema)


def test_the_openapi_request_body_and_verdict_are_the_models() -> None:
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    body = spec["components"]["schemas"]["DeploymentRequest"]
    assert body["additionalProperties"] is False
    assert (
        body["properties"]["interval_s"]["minimum"] == 10 and body["properties"]["labels"]["type"] == "object"
    )
    assert spec["components"]["schemas"]["Strategy"]["enum"] == ["canary", "bluegreen", "rolling"]
    verdict = spec["components"]["schemas"]["Verdict"]  # the same model as verdict.schema.json
    assert set(verdict["required"]) == set(load("verdict.schema.json")["required"])
    assert verdict["properties"]["checks"]["items"] == {"$ref": "#/components/schemas/Check"}
    text = json.dumps(spec)
    assert "$defs" not in text and "prefixItems" not in text and '{"type": "null"}' not in text  # OpenAPI 3.0


def test_every_openapi_component_is_generated_from_a_model() -> None:
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    assert spec["components"]["schemas"] == openapi_components()
    schemas = spec["components"]["schemas"]
    assert schemas["Problem"]["properties"]["title"] == {"minLength": 1, "type": "string"}  # a property, kept
    assert (
        "field" not in schemas["Problem"]["required"]
        and "default" not in schemas["Problem"]["properties"]["field"]
    )
    assert schemas["Deployment"]["properties"]["status"] == {"$ref": "#/components/schemas/DeploymentStatus"}
    assert schemas["FlaggerPayload"]["required"] == ["metadata"]
    assert schemas["FlaggerPayload"]["additionalProperties"] is True  # fields a later Flagger adds
    assert set(schemas["FlaggerVerdict"]["required"]) == set(schemas["Verdict"]["required"]) | {
        "hook",
        "flagger",
    }
    hook = spec["paths"]["/api/v1/integrations/flagger/{hook}"]["post"]["parameters"][0]
    assert hook["schema"]["enum"] == list(FLAGGER_HOOKS)


def test_query_parameters_are_generated_from_the_query_models() -> None:
    paths = json.loads(OPENAPI.read_text(encoding="utf-8"))["paths"]
    listed = {p["name"]: p for p in paths["/api/v1/deployments"]["get"]["parameters"]}
    assert listed["status"]["schema"] == {"$ref": "#/components/schemas/DeploymentStatus"}  # never null
    verdict = paths["/api/v1/deployments/{id}/verdict"]["get"]["parameters"]
    assert verdict[0] == {"$ref": "#/components/parameters/id"}  # path parameters stay
    assert verdict[1]["name"] == "wait_s" and (
        verdict[1]["schema"]["minimum"],
        verdict[1]["schema"]["maximum"],
    ) == (0, 600)
    argo = paths["/api/v1/integrations/argo-rollouts/verdict"]["get"]["parameters"]
    assert [p["name"] for p in argo] == [
        "deployment_id",
        "service",
        "environment",
        "version",
        "baseline_version",
        "strategy",
        "profile",
    ]
    assert not any(p["required"] or "default" in p["schema"] for p in argo)


def test_check_reports_an_openapi_component_edited_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.schema as schema

    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    spec["components"]["schemas"]["Deployment"]["required"].remove("links")
    edited = tmp_path / "openapi.json"
    edited.write_text(json.dumps(spec, indent=2) + "\n")
    monkeypatch.setattr(schema, "OPENAPI", edited)
    monkeypatch.setattr(schema, "GENERATED", {edited: schema.openapi_document})
    assert schema.drift() == [edited]
    assert "links" in schema.openapi_document()["components"]["schemas"]["Deployment"]["required"]
