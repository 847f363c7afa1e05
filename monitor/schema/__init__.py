"""JSON Schemas generated from the models that validate or mirror each document.

``config.schema.json`` (the config file, :class:`monitor.config.file.ConfigFile`), ``profile.schema.json``
(profiles, :class:`monitor.profiles.parse.ProfileFile`), ``verdict.schema.json`` (the verdict
document, :class:`monitor.schema.verdict.VerdictDocument`), ``backtest.schema.json`` (``monitor
backtest``'s JSON, :class:`monitor.schema.backtest.BacktestDocument`), and every component schema of
the OpenAPI document (``monitor/api/openapi.json``): the request bodies' models and the response documents'
mirrors (:mod:`monitor.schema.responses`); and the operations' query parameters, from
:mod:`monitor.api.queries`. ``python -m monitor.schema`` writes them; ``--check`` lists the files
that differ from the models and exits 1 (``make lint``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://deploy-health-monitor.dev/schema"
HERE = Path(__file__).parent
OPENAPI = HERE.parent / "api" / "openapi.json"


def _document_schema(model: type[BaseModel], name: str, title: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return {"$schema": SCHEMA_DIALECT, "$id": f"{SCHEMA_BASE}/{name}", "title": title, **schema}


def config_schema() -> dict[str, Any]:
    """The config file (``monitor.yaml``)."""
    from monitor.config.file import ConfigFile

    return _document_schema(ConfigFile, "config.schema.json", "Deployment monitor config file")


def profile_schema() -> dict[str, Any]:
    """An analysis profile."""
    from monitor.profiles.parse import ProfileFile

    return _document_schema(ProfileFile, "profile.schema.json", "Deployment monitor analysis profile")


def verdict_schema() -> dict[str, Any]:
    """The verdict document of the CLI's ``--output json``, the API and webhooks."""
    from monitor.schema.verdict import VerdictDocument

    return _document_schema(VerdictDocument, "verdict.schema.json", "Deployment verdict")


def backtest_schema() -> dict[str, Any]:
    """The backtest document of ``monitor backtest --output json`` and the backtest API route."""
    from monitor.schema.backtest import BacktestDocument

    return _document_schema(BacktestDocument, "backtest.schema.json", "Deployment monitor backtest")


def _openapi_30(node: Any) -> Any:
    """A JSON Schema (2020-12) node in OpenAPI 3.0's dialect: ``nullable``, component references."""
    if isinstance(node, list):
        return [_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        # Property names are names, not keywords: a property called "title" stays.
        key: {name: _openapi_30(s) for name, s in value.items()}
        if key == "properties"
        else _openapi_30(value)
        for key, value in node.items()
        if key != "title"
    }
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del node["anyOf"]
        inner = rest[0] if len(rest) == 1 else {"anyOf": rest}
        if "$ref" in inner:  # 3.0 ignores a $ref's siblings: wrap it
            inner = {"allOf": [inner]}
        node = {**inner, **node, "nullable": True}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "prefixItems" in node:  # a fixed-length tuple: 3.0 knows only one item schema
        items = node.pop("prefixItems")
        node["items"] = items[0] if all(item == items[0] for item in items) else {"anyOf": items}
    if isinstance(node.get("$ref"), str):
        node["$ref"] = node["$ref"].replace("#/$defs/", "#/components/schemas/")
    return node


def _components() -> dict[str, type[BaseModel]]:
    """Every OpenAPI component schema, by name, and its model: the request bodies the API validates
    with, and the mirrors of the documents it answers with."""
    from monitor.api.requests import CancelBody, FlaggerPayload, RegistrationBody
    from monitor.schema import responses
    from monitor.schema.backtest import BacktestDocument
    from monitor.schema.verdict import VerdictDocument

    return {
        "DeploymentRequest": RegistrationBody,
        "CancelRequest": CancelBody,
        "FlaggerPayload": FlaggerPayload,
        "Deployment": responses.Deployment,
        "DeploymentList": responses.DeploymentList,
        "Events": responses.Events,
        "Verdict": VerdictDocument,
        "FlaggerVerdict": responses.FlaggerVerdict,
        "Problem": responses.Problem,
        "Backtest": BacktestDocument,
    }


def _queries() -> dict[tuple[str, str], type[BaseModel]]:
    """The operations that read query parameters, and the model that validates them."""
    from monitor.api.queries import QUERIES

    return dict(QUERIES)


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A query model's fields as OpenAPI parameters: absent, never null, when the model says None."""
    parameters = []
    for name, field in schema["properties"].items():
        field = _openapi_30(field)
        parameter = {"name": name, "in": "query", "required": name in schema.get("required", ())}
        if "description" in field:
            parameter["description"] = field.pop("description")
        if "default" in field and field["default"] is None:
            del field["default"]
        if field.pop("nullable", False) and list(field) == ["allOf"] and len(field["allOf"]) == 1:
            field = field["allOf"][0]  # the wrapper of a nullable reference
        parameters.append({**parameter, "schema": field})
    return parameters


def openapi_components() -> dict[str, Any]:
    """The component schemas, in OpenAPI 3.0's dialect; the models' nested definitions beside them
    (one name, one schema: two models may share a definition, never differ on it)."""
    components: dict[str, Any] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        converted = _openapi_30(schema)
        if components.setdefault(name, converted) != converted:
            raise ValueError(f"two models define the OpenAPI component {name!r} differently")

    for name, model in _components().items():
        schema = model.model_json_schema()
        for def_name, definition in schema.pop("$defs", {}).items():
            add(def_name, definition)
        add(name, schema)
    for query in _queries().values():
        for def_name, definition in query.model_json_schema().get("$defs", {}).items():
            add(def_name, definition)
    return dict(sorted(components.items()))


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, its component schemas and query parameters generated from the models."""
    from monitor.api.integrations import FLAGGER_HOOKS

    document: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    document["components"]["schemas"] = openapi_components()
    hook = document["paths"]["/api/v1/integrations/flagger/{hook}"]["post"]["parameters"][0]
    hook["schema"] = {"type": "string", "enum": list(FLAGGER_HOOKS)}
    for (path, method), query in _queries().items():
        operation = document["paths"][path][method]
        others = [p for p in operation.get("parameters", ()) if p.get("in") != "query"]
        operation["parameters"] = others + _query_parameters(query.model_json_schema())
    return document


def _dumps(document: dict[str, Any], indent: int | None = 2) -> str:
    return json.dumps(document, indent=indent, ensure_ascii=False) + "\n"


GENERATED: dict[Path, Callable[[], dict[str, Any]]] = {
    HERE / "config.schema.json": config_schema,
    HERE / "profile.schema.json": profile_schema,
    HERE / "verdict.schema.json": verdict_schema,
    HERE / "backtest.schema.json": backtest_schema,
    OPENAPI: openapi_document,
}


def render() -> dict[Path, str]:
    """Every generated file's text."""
    return {path: _dumps(build()) for path, build in GENERATED.items()}


def drift() -> list[Path]:
    """The generated files whose text differs from what the models give."""
    return [
        path
        for path, text in render().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def load(name: str) -> dict[str, Any]:
    """A published schema by file name (``verdict.schema.json``)."""
    loaded: dict[str, Any] = json.loads(resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))
    return loaded
