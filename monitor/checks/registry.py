"""Every check kind a profile may use, by key: adding a kind is its module and one line at the end.

A metric check's key is its comparison (``traffic`` for a traffic check); a log or trace check's
is its name. A kind is imported on first use from the ``module:attribute`` it was registered with
(as SQLAlchemy's dialect registry does), so that the profile parser can list the valid names
without importing the judges, which import the profile model.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, cast

from monitor.models import CheckPurpose, ComparisonKind, Signal

if TYPE_CHECKING:
    from monitor.checks.kind import CheckKind
    from monitor.profiles.model import CheckSpec

TRAFFIC = "traffic"


@dataclass(frozen=True)
class Registration:
    """One check kind: its key, its signal, the comparison it makes, and where it is defined."""

    key: str
    signal: Signal
    comparison: ComparisonKind
    target: str  # "package.module:ATTRIBUTE", an object implementing CheckKind

    def load(self) -> CheckKind[Any]:
        """The kind object (imported on first use)."""
        module, _, attribute = self.target.partition(":")
        return cast("CheckKind[Any]", getattr(import_module(module), attribute))


_REGISTERED: dict[tuple[Signal, str], Registration] = {}
_LOADED: dict[tuple[Signal, str], CheckKind[Any]] = {}


def register(key: str, signal: Signal, comparison: ComparisonKind, target: str) -> None:
    """Register a check kind; ``target`` names the object implementing it, ``module:attribute``."""
    if (signal, key) in _REGISTERED:
        raise ValueError(f"a {signal.value} check kind {key!r} is already registered")
    _REGISTERED[(signal, key)] = Registration(key, signal, comparison, target)


def key_of(spec: CheckSpec) -> tuple[Signal, str]:
    """The registry key of a check: its comparison for metrics, else its name."""
    if spec.signal is not Signal.METRICS:
        return spec.signal, spec.name
    return spec.signal, TRAFFIC if spec.purpose is CheckPurpose.TRAFFIC else spec.comparison.value


def kind_for(spec: CheckSpec) -> CheckKind[Any]:
    """The kind that fetches and judges ``spec``; ``LookupError`` when none is registered."""
    key = key_of(spec)
    if key not in _LOADED:
        registration = _REGISTERED.get(key)
        if registration is None:
            raise LookupError(f"no {key[0].value} check kind {key[1]!r} is registered")
        _LOADED[key] = registration.load()
    return _LOADED[key]


def known_check_names(signal: Signal) -> dict[str, ComparisonKind]:
    """The names a profile may give checks of ``signal`` (logs, traces), each with its comparison.

    Metric checks are named freely (their kind is their comparison): none are listed for them.
    """
    if signal is Signal.METRICS:
        return {}
    return {r.key: r.comparison for (s, _), r in _REGISTERED.items() if s is signal}


def registrations() -> tuple[Registration, ...]:
    """Every registered kind, in registration order."""
    return tuple(_REGISTERED.values())


register("counts", Signal.METRICS, ComparisonKind.COUNTS, "monitor.checks.counts:COUNTS")
register(
    "distribution", Signal.METRICS, ComparisonKind.DISTRIBUTION, "monitor.checks.distribution:DISTRIBUTION"
)
register("samples", Signal.METRICS, ComparisonKind.SAMPLES, "monitor.checks.samples:SAMPLES")
register(TRAFFIC, Signal.METRICS, ComparisonKind.COUNTS, "monitor.checks.traffic:TRAFFIC")
register("log_templates", Signal.LOGS, ComparisonKind.COUNTS, "monitor.checks.logs:TEMPLATES")
register("log_error_rate", Signal.LOGS, ComparisonKind.COUNTS, "monitor.checks.logs:ERROR_RATE")
register("trace_latency", Signal.TRACES, ComparisonKind.DISTRIBUTION, "monitor.checks.traces:LATENCY")
register("trace_errors", Signal.TRACES, ComparisonKind.COUNTS, "monitor.checks.traces:ERRORS")
register("trace_fanout", Signal.TRACES, ComparisonKind.COUNTS, "monitor.checks.traces:FANOUT")
register("trace_exceptions", Signal.TRACES, ComparisonKind.COUNTS, "monitor.checks.traces:EXCEPTIONS")
register("trace_operations", Signal.TRACES, ComparisonKind.COUNTS, "monitor.checks.traces:OPERATIONS")
