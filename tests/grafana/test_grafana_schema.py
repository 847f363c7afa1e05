"""The Grafana request-body schema the fake validates against (``tests/fakes/grafana_bodies.schema.json``).

The repository keeps only the part of Grafana's published OpenAPI spec that the tests need. These tests check
the extraction on a small document, that the vendored file is a well-formed JSON Schema covering every
route of the fake, and - when the published spec is found beside the repository or in
``$MONITOR_REFERENCE_DIR`` - that the vendored file is still exactly what the spec gives.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.grafana import DOCUMENTED_ROUTES
from fakes.grafana_spec import (
    BODIES_SCHEMA,
    GRAFANA_RELEASE,
    GrafanaSpec,
    extract_bodies,
    load_spec,
    published_spec_candidates,
    published_spec_path,
)
from jsonschema import Draft4Validator

SMALL_SPEC: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Small API.", "version": "1.2.3"},
    "basePath": "/api",
    "paths": {
        "/things": {
            "post": {
                "operationId": "createThing",
                "parameters": [
                    {
                        "in": "body",
                        "name": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Thing"},
                    }
                ],
            },
            "get": {"operationId": "listThings"},
        },
        "/other": {
            "put": {
                "operationId": "putOther",
                "parameters": [{"in": "body", "name": "body", "schema": {"$ref": "#/definitions/Other"}}],
            }
        },
    },
    "definitions": {
        "Thing": {
            "type": "object",
            "required": ["part"],
            "properties": {"part": {"$ref": "#/definitions/Part"}},
        },
        "Part": {"type": "object", "properties": {"name": {"type": "string"}}},
        "Other": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
}


def _vendored() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(BODIES_SCHEMA.read_text(encoding="utf-8"))
    return document


def test_extraction_keeps_the_implemented_bodies_and_what_they_reference() -> None:
    subset = extract_bodies(json.dumps(SMALL_SPEC), {("POST", "/things"), ("GET", "/things")})
    assert sorted(subset["definitions"]) == ["Part", "Thing"]  # Other's only user is not implemented
    assert subset["anyOf"] == [{"$ref": "#/definitions/Thing"}]
    assert subset["x-paths"] == {
        "/other": {"put": {"operationId": "putOther"}},
        "/things": {
            "get": {"operationId": "listThings"},
            "post": {
                "operationId": "createThing",
                "body": {"schema": {"$ref": "#/definitions/Thing"}, "required": True},
            },
        },
    }
    assert subset["x-spec"]["title"] == "Small API." and subset["x-spec"]["version"] == "1.2.3"


def test_extracted_subset_validates_like_the_full_spec() -> None:
    spec = GrafanaSpec(extract_bodies(json.dumps(SMALL_SPEC), {("POST", "/things")}))
    operation, template, _ = spec.match("POST", "/api/things")
    assert operation is not None and template == "/things" and operation.body_required
    assert spec.validate_body(operation, {"part": {"name": "x"}}) == []
    assert spec.validate_body(operation, {"part": {"name": 7}}) == ["$.part.name: 7 is not of type 'string'"]
    other, _, _ = spec.match("PUT", "/api/other")
    assert other is not None and other.body_schema is None  # known to the spec, body not kept


def test_extraction_refuses_a_route_the_spec_lacks() -> None:
    with pytest.raises(ValueError, match=r"POST /gone"):
        extract_bodies(json.dumps(SMALL_SPEC), {("POST", "/things"), ("POST", "/gone")})


def test_vendored_schema_is_a_json_schema_of_every_body_the_fake_accepts() -> None:
    document = _vendored()
    Draft4Validator.check_schema(document)
    assert document["x-spec"]["grafanaRelease"] == GRAFANA_RELEASE
    spec = load_spec()
    with_body = {key for key, op in spec.operations.items() if op.body_schema is not None}
    assert with_body <= DOCUMENTED_ROUTES
    assert {op.body_name for key, op in spec.operations.items() if key in with_body} == {
        ref["$ref"].rsplit("/", 1)[-1] for ref in document["anyOf"]
    }
    # The file itself validates any body the fake accepts (the anyOf of all bodies), and only objects.
    validator = Draft4Validator(document)
    assert validator.is_valid({"title": "Deploy health", "uid": "deploy-health"})
    assert not validator.is_valid(["a body is an object"])


def test_vendored_schema_matches_the_published_spec() -> None:
    path = published_spec_path()
    if path is None:
        looked = ", ".join(str(p) for p in published_spec_candidates())
        pytest.skip(f"Grafana's published OpenAPI spec is not present (looked at {looked})")
    expected = extract_bodies(path.read_text(encoding="utf-8"), DOCUMENTED_ROUTES)
    assert _vendored() == expected, (
        f"{BODIES_SCHEMA.name} is stale against {path}: run tests/fakes/extract_grafana_schema.py"
    )
