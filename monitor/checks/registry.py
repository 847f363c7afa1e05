"""The implementation of a check's kind, loaded on first use from its registration.

Kinds are registered, with the names a profile may use, in :mod:`monitor.profiles.kinds`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, cast

from monitor.checks.kind import CheckKind
from monitor.profiles.kinds import Registration, registration_of
from monitor.profiles.model import CheckSpec

_LOADED: dict[Registration, CheckKind[Any]] = {}


def load(registration: Registration) -> CheckKind[Any]:
    """The object implementing ``registration`` (imported on first use)."""
    kind = _LOADED.get(registration)
    if kind is None:
        module, _, attribute = registration.target.partition(":")
        kind = _LOADED[registration] = cast("CheckKind[Any]", getattr(import_module(module), attribute))
    return kind


def kind_for(spec: CheckSpec) -> CheckKind[Any]:
    """The kind that fetches and judges ``spec``; ``LookupError`` when none is registered."""
    return load(registration_of(spec))
