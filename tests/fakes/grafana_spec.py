"""Grafana's HTTP API as the fakes know it: every path of the spec, and the request bodies the monitor sends.

Grafana publishes its HTTP API as a Swagger 2.0 document (``public/api-merged.json``; the fakes follow the
11.4.0 release, see ``docs/integrations.md``). The repository keeps only what the tests need, in
``grafana_bodies.schema.json`` beside this module: a JSON Schema (draft 4) whose ``definitions`` are exactly
the body schemas of the operations :class:`fakes.grafana.GrafanaFake` implements and the definitions they
reference, copied unchanged; ``x-paths`` lists every method and path template of the spec with its
``operationId`` (so the fake can tell an endpoint Grafana lacks from one the fake lacks) and, for the
implemented ones, the body parameter; ``x-spec`` records the document it came from.

:func:`extract_bodies` makes that file from the published document; ``extract_grafana_schema.py`` runs it,
and ``tests/grafana/test_grafana_schema.py`` checks the file against the published document when one is
found (:func:`published_spec_path`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import threading
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

Obj = dict[str, Any]

BODIES_SCHEMA: Final = Path(__file__).resolve().with_name("grafana_bodies.schema.json")
# Where the published reference documents live when they are not beside the repository.
REFERENCE_DIR_ENV: Final = "MONITOR_REFERENCE_DIR"
SPEC_FILE_NAME: Final = "grafana-openapi.json"
GRAFANA_RELEASE: Final = "11.4.0"
SPEC_ORIGIN: Final = (
    "grafana/grafana release-11.4.0 public/api-merged.json, as generated into "
    "jjaychen1e/grafana-openapi-client@6a03fd2 packages/typescript-axios/specs/openapi.json "
    "(jq-formatted, definitions.SecretURL.title removed)"
)
_JSON_SCHEMA_DRAFT4: Final = "http://json-schema.org/draft-04/schema#"
_DEFINITION_REF: Final = "#/definitions/"


def published_spec_candidates() -> list[Path]:
    """Where the published spec may be: ``$MONITOR_REFERENCE_DIR``, then ``../shared/reference/`` beside the
    repository."""
    repository = Path(__file__).resolve().parents[2]
    candidates = [repository.parent / "shared" / "reference" / SPEC_FILE_NAME]
    directory = os.environ.get(REFERENCE_DIR_ENV)
    if directory:
        candidates.insert(0, Path(directory) / SPEC_FILE_NAME)
    return candidates


def published_spec_path() -> Path | None:
    """The first of :func:`published_spec_candidates` that exists, None when none does."""
    return next((path for path in published_spec_candidates() if path.is_file()), None)


def extract_bodies(spec_text: str, implemented: Collection[tuple[str, str]]) -> Obj:
    """The content of ``grafana_bodies.schema.json`` made from the published spec's text.

    ``implemented`` holds the (method, path template) pairs the fake serves; every one must be an operation
    of the spec (ValueError otherwise), and the bodies of exactly those are kept, with the definitions they
    reference (transitively).
    """
    document = json.loads(spec_text)
    paths: Obj = {}
    bodies: dict[str, Obj] = {}
    found: set[tuple[str, str]] = set()
    for template, item in sorted(document["paths"].items()):
        shared = item.get("parameters", [])
        for method, operation in sorted(item.items()):
            if method == "parameters" or not isinstance(operation, dict):
                continue
            entry: Obj = {"operationId": str(operation.get("operationId", ""))}
            key = (method.upper(), template)
            parameters = [*shared, *operation.get("parameters", [])]
            body = next((p for p in parameters if p.get("in") == "body"), None)
            if key in implemented:
                found.add(key)
                if body is not None:
                    entry["body"] = {"schema": body.get("schema", {}), "required": bool(body.get("required"))}
                    bodies[f"{method.upper()} {template}"] = entry["body"]["schema"]
            paths.setdefault(template, {})[method] = entry
    missing = sorted(f"{m} {t}" for m, t in set(implemented) - found)
    if missing:
        raise ValueError(f"operations the fake implements are not in the spec: {missing}")
    all_definitions: Obj = document.get("definitions", {})
    names = _referenced_definitions(bodies.values(), all_definitions)
    info = document.get("info", {})
    return {
        "$schema": _JSON_SCHEMA_DRAFT4,
        "title": "Grafana HTTP API request bodies the monitor sends",
        "description": (
            "A subset of Grafana's published OpenAPI document: the body schemas of the operations the "
            "tests' Grafana fake implements (anyOf, definitions), every path and method of the spec "
            "(x-paths), and the document's provenance (x-spec). Generated by "
            "tests/fakes/extract_grafana_schema.py; do not edit (docs/integrations.md)."
        ),
        "x-spec": {
            "swagger": str(document.get("swagger", "")),
            "title": str(info.get("title", "")),
            "version": str(info.get("version", "")),
            "basePath": str(document.get("basePath", "")),
            "grafanaRelease": GRAFANA_RELEASE,
            "origin": SPEC_ORIGIN,
            "sha256": hashlib.sha256(spec_text.encode()).hexdigest(),
            "pathCount": len(paths),
        },
        "anyOf": _unique(bodies.values()),
        "x-paths": paths,
        "definitions": {name: all_definitions[name] for name in sorted(names)},
    }


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFINITION_REF):
            yield ref.removeprefix(_DEFINITION_REF)
        for child in node.values():
            yield from _refs(child)
    elif isinstance(node, list):
        for child in node:
            yield from _refs(child)


def _unique(schemas: Iterable[Any]) -> list[Any]:
    by_text = {json.dumps(schema, sort_keys=True): schema for schema in schemas}
    return [by_text[text] for text in sorted(by_text)]


def _direct_refs(schemas: Iterable[Any]) -> set[str]:
    return {name for schema in schemas for name in _refs(schema)}


def _referenced_definitions(schemas: Iterable[Any], definitions: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = sorted(_direct_refs(schemas))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        if name not in definitions:
            raise ValueError(f"the spec references #/definitions/{name}, which it does not define")
        seen.add(name)
        pending.extend(_refs(definitions[name]))
    return seen


# --------------------------------------------------------------------------------------------------
# The index and the body validators
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecOperation:
    """One operation of the spec: method, path template (without basePath) and body parameter."""

    method: str
    template: str
    operation_id: str
    body_schema: Mapping[str, Any] | None
    body_required: bool

    @property
    def body_name(self) -> str:
        """The body's definition name (``SaveDashboardCommand``), or a description of an inline schema."""
        if self.body_schema is None:
            return ""
        ref = self.body_schema.get("$ref")
        return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else f"the {self.operation_id} body schema"


class GrafanaSpec:
    """The spec's paths indexed by method and path template, with validators of the request bodies.

    Built from a document in the form of ``grafana_bodies.schema.json`` (what :func:`extract_bodies` makes
    of the published spec); use :func:`load_spec`, which loads and indexes the vendored file once per process.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.base_path: str = str(document["x-spec"]["basePath"]).rstrip("/")
        self.definitions: Obj = _patch_definitions(document.get("definitions", {}))
        self.operations: dict[tuple[str, str], SpecOperation] = {}
        self._templates: dict[int, list[tuple[tuple[int, ...], tuple[str, ...], str]]] = {}
        for template, item in document["x-paths"].items():
            for method, operation in item.items():
                body = operation.get("body")
                key = (method.upper(), template)
                self.operations[key] = SpecOperation(
                    method=method.upper(),
                    template=template,
                    operation_id=str(operation.get("operationId", "")),
                    body_schema=body["schema"] if body is not None else None,
                    body_required=bool(body is not None and body.get("required")),
                )
            segments = tuple(template.strip("/").split("/"))
            # Literal segments sort before parameters, position by position: the most specific template
            # wins (``/folders/id/{folder_id}`` before ``/folders/{folder_uid}/counts``).
            rank = tuple(1 if _is_parameter(s) else 0 for s in segments)
            self._templates.setdefault(len(segments), []).append((rank, segments, template))
        for candidates in self._templates.values():
            candidates.sort()
        self._validators: dict[tuple[str, str], Draft4Validator] = {}
        self._lock = threading.Lock()

    @property
    def paths(self) -> list[str]:
        """Every path template of the spec."""
        return sorted({template for _, template in self.operations})

    def match(self, method: str, path: str) -> tuple[SpecOperation | None, str | None, dict[str, str]]:
        """The operation for ``method`` on ``path`` (``/api/...``, percent-encoded as sent).

        Returns (operation, template, path parameters). Without an operation for the method, the template
        is the most specific one matching the path (None when no template matches).
        """
        method = method.upper()
        if not path.startswith(self.base_path + "/"):
            return None, None, {}
        segments = [urllib.parse.unquote(s) for s in path[len(self.base_path) :].strip("/").split("/")]
        fallback: tuple[str, dict[str, str]] | None = None
        for _, template_segments, template in self._templates.get(len(segments), []):
            params = _bind(template_segments, segments)
            if params is None:
                continue
            operation = self.operations.get((method, template))
            if operation is not None:
                return operation, template, params
            if fallback is None:
                fallback = (template, params)
        if fallback is None:
            return None, None, {}
        return None, fallback[0], fallback[1]

    def validate_body(self, operation: SpecOperation, body: Any) -> list[str]:
        """Problems of ``body`` against the operation's body schema, the most relevant first."""
        if operation.body_schema is None:
            return []
        validator = self._validator(operation)
        instance = _without_nulls(body)
        errors = list(validator.iter_errors(instance))
        if not errors:
            return []
        best = best_match(errors)
        ordered = [best, *sorted((e for e in errors if e is not best), key=_error_sort_key)]
        problems: list[str] = []
        for error in ordered:
            text = f"{_json_path(error.absolute_path)}: {_shorten(error.message)}"
            if text not in problems:
                problems.append(text)
        return problems

    def _validator(self, operation: SpecOperation) -> Draft4Validator:
        key = (operation.method, operation.template)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                assert operation.body_schema is not None
                schema = {**operation.body_schema, "definitions": self.definitions}
                # Go's encoding/json rejects a malformed time.Time, so "date-time" is checked (RFC 3339);
                # other formats ("int64", "duration", ...) are not checked by Grafana's decoder either.
                validator = Draft4Validator(schema, format_checker=FormatChecker(formats=("date-time",)))
                self._validators[key] = validator
            return validator


def load_spec() -> GrafanaSpec:
    """The indexed :data:`BODIES_SCHEMA`, loaded once per process."""
    return _load_spec(str(BODIES_SCHEMA))


@functools.lru_cache(maxsize=1)
def _load_spec(path: str) -> GrafanaSpec:
    return GrafanaSpec(json.loads(Path(path).read_text(encoding="utf-8")))


def _patch_definitions(definitions: Mapping[str, Any]) -> Obj:
    """The spec's definitions with the quirks that reject bodies Grafana accepts fixed, narrowly."""
    patched: Obj = copy.deepcopy(dict(definitions))
    # Quirk 1: go-swagger split "Enum: alertmanager, dingding, discord, ..." on commas without trimming,
    # so EmbeddedContactPoint.type lists " email", " slack", " webhook", ... with a leading space, while
    # Grafana expects (and its clients send) "webhook". Strip whitespace from string enum values.
    _strip_enum_values(patched)
    # Quirk 2: Route.matchers is documented as Matcher objects ({"Name", "Type", "Value"}), but the field
    # is Alertmanager's config.Matchers, whose JSON form is a list of matcher strings
    # (["severity=\"critical\""]); Grafana would reject the objects. Validate a list of strings.
    for name in ("Route", "RouteExport"):
        properties = patched.get(name, {}).get("properties", {})
        if "matchers" in properties:
            properties["matchers"] = {"type": "array", "items": {"type": "string"}}
    # Not patched: relativeTimeRange.from/to are "Duration: int64 nanoseconds" in the spec but seconds on
    # the wire (docs/integrations.md, Grafana); integers validate either way.
    return patched


def _strip_enum_values(node: Any) -> None:
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list):
            node["enum"] = [v.strip() if isinstance(v, str) else v for v in values]
        for child in node.values():
            _strip_enum_values(child)
    elif isinstance(node, list):
        for child in node:
            _strip_enum_values(child)


def _without_nulls(value: Any) -> Any:
    """``value`` with null object members dropped.

    Go's encoding/json treats ``null`` as "leave the zero value" for every field, so Grafana accepts
    ``{"panelId": null}`` (grafana-client's ``add_annotation`` sends that) although Swagger 2.0 cannot say
    "nullable". A null required member therefore reads as missing.
    """
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _bind(template_segments: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for expected, actual in zip(template_segments, segments, strict=True):
        if _is_parameter(expected):
            if not actual:
                return None
            params[expected[1:-1]] = actual
        elif expected != actual:
            return None
    return params


def _json_path(path: Iterable[Any]) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _error_sort_key(error: ValidationError) -> list[str]:
    return [str(p) for p in error.absolute_path]


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
