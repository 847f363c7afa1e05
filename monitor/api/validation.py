"""The one translation of a request's pydantic validation error into a 400 naming the field.

Every request body (and query) model derives from :class:`Body`; :func:`validated` validates a
parsed document with one and raises the first error (an unknown field, else in field order) as a
:class:`~monitor.api.problems.Problem` whose ``field`` is the dotted path (``metadata.service``).
Validators raise :func:`refuse` to put their own words in the detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from monitor.api.problems import Problem, invalid
from monitor.redact import is_secret_parameter

_REQUIRED = "required; a non-empty string"
_RANGE_ERRORS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}

Model = TypeVar("Model", bound="Body")


def refuse(detail: str, field: str | None = None) -> PydanticCustomError:
    """A validator's error: ``detail`` for the field it validates (or ``field`` below it)."""
    return PydanticCustomError("request", "{detail}", {"detail": detail, "field": field})


def one_of(enum: type[Enum]) -> BeforeValidator:
    """A validator taking one of ``enum``'s values, refusing anything else by listing them."""
    values = tuple(member.value for member in enum)  # a tuple: an unhashable value is refused too

    def check(value: object) -> Enum:
        if value not in values:
            raise refuse(f"must be one of {', '.join(map(str, values))}")
        return enum(value)

    return BeforeValidator(check)


class Body(BaseModel):
    """A request document: strict JSON types, no unknown fields (a typo is a 400, not ignored)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # What a missing field's problem says, by dotted field path; otherwise "required; ...".
    required_hints: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def range_problem(cls, field: str, value: Any) -> Problem | None:
        """A model's own words for a value outside a field's bounds, or None for pydantic's."""
        return None


def problem_from(error: ErrorDetails, model: type[Body]) -> Problem:
    """One pydantic error as a 400 naming the field (``labels.region``), with the same words as ever."""
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    kind, value = error["type"], error.get("input")
    if kind == "request":
        field = ".".join([*loc, ctx["field"]] if ctx.get("field") is not None else loc)
        return invalid(field or "body", str(ctx["detail"]))
    field = ".".join(loc) or "body"
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields))
        return invalid(field, f"unknown field {loc[-1]!r}; allowed: {allowed}")
    if kind == "missing":
        return invalid(field, model.required_hints.get(field, _REQUIRED))
    if kind in _RANGE_ERRORS and (problem := model.range_problem(field, value)) is not None:
        return problem
    if kind == "string_type":
        if is_secret_parameter(str(loc[-1])):  # Flagger's metadata.token: never echoed
            return invalid(field, f"must be a string, got {_JSON_TYPES.get(type(value), 'another type')}")
        return invalid(field, f"must be a string, got {repr(value)[:80]}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return invalid(field, "must be a JSON object")
    return invalid(field, f"invalid: {error['msg']}")


def validated(model: type[Model], document: object, context: dict[str, Any] | None = None) -> Model:
    """``document`` (parsed JSON) as ``model``; :class:`Problem` (400) naming the first field at fault."""
    if not isinstance(document, dict):
        raise invalid("body", "must be a JSON object")
    try:
        return model.model_validate(document, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # An unknown field first (the alphabetically first, as ever): a typo explains the other errors.
        unknown = sorted((e for e in errors if e["type"] == "extra_forbidden"), key=lambda e: str(e["loc"]))
        raise problem_from((unknown or errors)[0], model) from None
