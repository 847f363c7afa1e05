"""What every config model shares, and the one translation of pydantic's errors into a ConfigError.

Models are strict and closed: a YAML ``yes`` is not a string, ``"5"`` is not a number, and a field
the model does not declare is an error listing the ones it does. A validation error becomes a
:class:`~monitor.errors.ConfigError` naming ``file:line``, the field path (``checks[0].weight``), the
problem and the fix, like every hand-written check before it: the fix comes from the error's kind and
the field's own declaration (its bounds, its choices, a :class:`Fix` attached to it), or from the
validator that raised :func:`invalid`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, TypeVar

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from monitor.errors import ConfigError
from monitor.redact import redact_url
from monitor.yamlfile import YamlDocument

_M = TypeVar("_M", bound=BaseModel)
# An enum field takes the enum's value as YAML writes it (strict mode would want the enum object).
Lax = Field(strict=False)


@dataclass(frozen=True)
class Fix:
    """Field metadata: what to write instead, shown with any error of that field."""

    text: str


class Section(BaseModel):
    """A mapping of the config file or a profile: closed, strict, immutable."""

    # Built on first use: a command that reads no config file pays nothing for the config's models.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    @classmethod
    def unknown_field_fix(cls) -> str:
        """The fix shown for a field this model does not declare."""
        return f"use one of: {', '.join(sorted(cls.model_fields))}"

    @classmethod
    def missing_fix(cls, name: str) -> str:
        """The fix shown when the required field ``name`` is absent (a :class:`Fix` on it wins)."""
        return f"add '{name}: ...'"


def invalid(problem: str, fix: str, field: str | None = None) -> PydanticCustomError:
    """The error a validator raises: ``field '<path>': <problem>; <fix>``.

    ``field`` names a part of the validated value (a model validator's field, a mapping's key),
    appended to the path pydantic reports.
    """
    return PydanticCustomError("config", "{problem}; {fix}", {"problem": problem, "fix": fix, "field": field})


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")):
        # A webhook's or a rollback hook's URL may hold a token: shown masked, as every URL is.
        raise invalid(f"invalid {redact_url(value)!r}", "use an http:// or https:// URL")
    return value


def _integral(value: object) -> object:
    # YAML writes 3.0 for some generators; a whole number is what was meant (2.5 stays refused).
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A count: a whole number, written 3 or 3.0.
WholeNumber = Annotated[int, BeforeValidator(_integral)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
# A base URL: paths are appended to it, so a trailing slash is dropped.
BaseUrl = Annotated[str, AfterValidator(_http_url), AfterValidator(lambda url: url.rstrip("/"))]


def shown(value: object) -> str:
    """``repr`` of an offending value, cut short: an error line stays one readable line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind_of(value: object) -> str:
    """What a value is, without its content: a mapping's or model's field may be given a secret."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return "a mapping" if isinstance(value, dict) else f"a {type(value).__name__}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Place:
    """Where a pydantic location points: the field path, and the declaration of the field there."""

    path: str
    owner: type[BaseModel] | None
    annotation: Any
    metadata: tuple[object, ...]


def _unwrap(annotation: Any) -> tuple[Any, tuple[object, ...]]:
    """The type inside ``Annotated`` and ``X | None``, with the metadata found on the way."""
    metadata: list[object] = []
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
            continue
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if _is_union(annotation) and len(members) == 1:
            annotation = members[0]
            continue
        return annotation, tuple(metadata)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _members_by_tag(annotation: Any) -> dict[object, Any]:
    """A tagged union's members by the value of their ``type`` literal."""
    members: dict[object, Any] = {}
    for member in typing.get_args(annotation):
        core, _ = _unwrap(member)
        if isinstance(core, type) and issubclass(core, BaseModel) and "type" in core.model_fields:
            members.update(dict.fromkeys(typing.get_args(core.model_fields["type"].annotation), member))
    return members


def _place(model: type[BaseModel], loc: Sequence[int | str]) -> _Place:
    """Walk ``loc`` through the model's declarations, skipping the steps pydantic adds (union tags)."""
    path, owner = "", None
    metadata: tuple[object, ...] = ()
    current: Any = model
    for item in loc:
        core, extra = _unwrap(current)
        metadata = (*metadata, *extra)
        if _is_union(core):
            members = _members_by_tag(core)
            if item in members:  # the step pydantic adds: the member the tag chose
                current = members[item]
                continue
            # The tag itself: one of the members' literals.
            path = f"{path}.{item}" if path else str(item)
            current = typing.Literal[tuple(members)]
            metadata = ()
            continue
        if item == "[key]":  # a mapping's key, not its value (which may be a model: test this first)
            continue
        if isinstance(core, type) and issubclass(core, BaseModel):
            owner = core
            field = core.model_fields.get(str(item))
            current, metadata = (field.annotation, tuple(field.metadata)) if field else (Any, ())
        else:
            # An item of a list or a mapping: a Fix declared on the collection still applies.
            args = typing.get_args(core)
            current = args[-1] if args else Any
            collection = typing.get_origin(core) in (list, tuple, dict)
            metadata = tuple(m for m in metadata if isinstance(m, Fix)) if collection else ()
        if isinstance(item, int) and _is_sequence(core):
            path = f"{path}[{item}]"
        else:
            path = f"{path}.{item}" if path else str(item)
    core, extra = _unwrap(current)
    return _Place(path, owner, core, (*metadata, *extra))


def _is_sequence(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (list, tuple)


def _bounds(metadata: tuple[object, ...]) -> str | None:
    low = next((str(m.ge) for m in metadata if isinstance(m, annotated_types.Ge)), None)
    low = low or next((f"({m.gt}" for m in metadata if isinstance(m, annotated_types.Gt)), None)
    high = next((str(m.le) for m in metadata if isinstance(m, annotated_types.Le)), None)
    high = high or next((f"{m.lt})" for m in metadata if isinstance(m, annotated_types.Lt)), None)
    if low is None and high is None:
        return None
    opening = "" if (low or "").startswith("(") else "["
    closing = "" if (high or "").endswith(")") else "]"
    return f"{opening}{low or '-inf'}, {high or 'inf'}{closing}"


def _choices(annotation: Any) -> str | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ", ".join(str(e.value) for e in annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return ", ".join(str(a) for a in typing.get_args(annotation))
    return None


def _problem_and_fix(error: ErrorDetails, place: _Place) -> tuple[str, str]:
    """The words for one error: what is wrong with the value, and what to write instead."""
    kind, value = error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    declared = next((m.text for m in reversed(place.metadata) if isinstance(m, Fix)), None)
    bounds = _bounds(place.metadata)
    if kind == "config":
        return str(ctx["problem"]), str(ctx["fix"])
    if kind == "extra_forbidden":
        return "unknown field", place.owner.unknown_field_fix() if place.owner and issubclass(
            place.owner, Section
        ) else "remove it"
    if kind == "invalid_key" or (kind == "string_type" and error["loc"][-1:] == ("[key]",)):
        return f"the key {shown(value)} is not a string", "quote it"
    if kind == "missing":
        name = place.path.rsplit(".", 1)[-1]
        owner = place.owner if place.owner and issubclass(place.owner, Section) else Section
        return "missing", declared or owner.missing_fix(name)
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{shown(value)} is out of range", declared or f"use a value in {bounds}"
    # A value of the wrong type is named by its type unless it is a number or a boolean: the field
    # may be one a secret was pasted into by mistake.
    got = (
        shown(value)
        if _is_number(value)
        else str(value).lower()
        if isinstance(value, bool)
        else _kind_of(value)
    )
    if kind in ("int_type", "int_from_float", "int_parsing") and place.annotation is int:
        return f"expected a whole number, got {got}", declared or (
            f"write a whole number in {bounds}" if bounds else "write a whole number"
        )
    if kind in ("float_type", "int_type", "int_from_float", "finite_number", "float_parsing", "int_parsing"):
        return f"expected a number, got {got}", declared or (
            f"write a number in {bounds}" if bounds else "write a number"
        )
    if kind == "bool_type":
        return f"expected true or false, got {got}", declared or "write true or false"
    if kind == "string_type":
        # YAML reads 2024 as a number: quoting it is the whole fix, whatever the field's own advice.
        if _is_number(value):
            return f"expected text, got {got}", f'quote it: "{value}"'
        return f"expected text, got {got}", declared or "quote the value"
    if kind in ("enum", "literal_error", "union_tag_invalid", "union_tag_not_found"):
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        choices = _choices(place.annotation) or expected or str(ctx.get("expected", ""))
        if kind.startswith("union_tag"):
            value = ctx.get("tag")
        choice = shown(value) if isinstance(value, str) or value is None else got
        problem = "missing" if kind == "union_tag_not_found" else f"{choice} is not allowed"
        return problem, declared or f"use one of: {choices}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        model = place.annotation
        fields = model.unknown_field_fix() if isinstance(model, type) and issubclass(model, Section) else None
        return f"expected a mapping, got {got}", declared or fields or "indent its fields under it"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {got}", declared or "write a YAML list, e.g. [a, b]"
    if kind in ("string_too_short", "too_short"):
        return "empty", declared or "write a non-empty value"
    if kind in ("string_too_long", "too_long"):
        return "too long", declared or f"keep it to {ctx.get('max_length')}"
    if kind == "string_pattern_mismatch":
        return f"invalid {shown(value)}", declared or f"match {ctx.get('pattern')}"
    return f"invalid {got} ({error['msg']})", declared or "see the documentation of the field"


def _loc(error: ErrorDetails) -> tuple[int | str, ...]:
    """The error's location, down to the field a validator or a union's tag names."""
    ctx = error.get("ctx") or {}
    field = ctx.get("field") if error["type"] == "config" else None
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        field = str(ctx.get("discriminator", "")).strip("'") or None
    return (*error["loc"], field) if field is not None else tuple(error["loc"])


def config_error(doc: YamlDocument, model: type[BaseModel], exc: ValidationError) -> ConfigError:
    """The first problem in document order, as a ConfigError naming line, field and fix."""
    errors = exc.errors(include_url=False)
    places = [_place(model, _loc(error)) for error in errors]
    first = min(range(len(errors)), key=lambda i: doc.line(places[i].path) or 1 << 30)
    problem, fix = _problem_and_fix(errors[first], places[first])
    more = len(errors) - 1
    if more:
        fix += f" (and {more} more problem{'s' if more > 1 else ''} after it)"
    return doc.error(places[first].path, problem, fix)


def validate(doc: YamlDocument, model: type[_M]) -> _M:
    """The document as ``model``; a :class:`ConfigError` naming line, field and fix when invalid."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise config_error(doc, model, exc) from None
