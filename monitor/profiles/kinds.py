"""The check kinds a profile may name: adding a kind is its module and one line at the end.

A metric check's kind is its comparison (``traffic`` for a traffic check); a log or trace check's
is its name. Each registration names the object implementing the kind
(:class:`monitor.checks.kind.CheckKind`) by ``module:attribute``, imported on first use by
:func:`monitor.checks.registry.kind_for` (as SQLAlchemy's dialect registry does): the profile
parser lists valid names from here without importing the kinds, which import the judges, which
import the profile model.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.models import CheckPurpose, ComparisonKind, Signal
from monitor.profiles.model import CheckSpec

TRAFFIC = "traffic"
PROBE_RULE = "probe"
PROBE_LATENCY = "probe_latency"


@dataclass(frozen=True)
class Registration:
    """One check kind: its key, its signal, the comparison it makes, and where it is implemented."""

    key: str
    signal: Signal
    comparison: ComparisonKind
    target: str  # "package.module:ATTRIBUTE", an object implementing monitor.checks.kind.CheckKind


_REGISTERED: dict[tuple[Signal, str], Registration] = {}


def register(key: str, signal: Signal, comparison: ComparisonKind, target: str) -> None:
    """Register a check kind; ``target`` names the object implementing it, ``module:attribute``."""
    if (signal, key) in _REGISTERED:
        raise ValueError(f"a {signal.value} check kind {key!r} is already registered")
    _REGISTERED[(signal, key)] = Registration(key, signal, comparison, target)


def key_of(spec: CheckSpec) -> tuple[Signal, str]:
    """The registry key of a check: its explicit ``kind`` when set, its comparison for metrics and
    probes, else its name."""
    if spec.kind is not None:
        return spec.signal, spec.kind
    if spec.signal is Signal.PROBE:  # named after the probe; the comparison says rule or latency
        return spec.signal, PROBE_LATENCY if spec.comparison is ComparisonKind.SAMPLES else PROBE_RULE
    if spec.signal is not Signal.METRICS:
        return spec.signal, spec.name
    return spec.signal, TRAFFIC if spec.purpose is CheckPurpose.TRAFFIC else spec.comparison.value


def registration_of(spec: CheckSpec) -> Registration:
    """The registration of the kind that fetches and judges ``spec``; ``LookupError`` when none."""
    key = key_of(spec)
    registration = _REGISTERED.get(key)
    if registration is None:
        raise LookupError(f"no {key[0].value} check kind {key[1]!r} is registered")
    return registration


def known_check_names(signal: Signal) -> dict[str, ComparisonKind]:
    """The names a profile may give checks of ``signal`` (logs, traces), each with its comparison.

    Metric checks are named freely (their kind is their comparison), and probe checks come from
    the config's probes, never from a profile: none are listed for them.
    """
    if signal in (Signal.METRICS, Signal.PROBE):
        return {}
    return {r.key: r.comparison for (s, _), r in _REGISTERED.items() if s is signal}


def registrations() -> tuple[Registration, ...]:
    """Every registered kind, in registration order."""
    return tuple(_REGISTERED.values())


METRICS, LOGS, TRACES, PROBE = Signal.METRICS, Signal.LOGS, Signal.TRACES, Signal.PROBE
COUNTS, DISTRIBUTION, SAMPLES = ComparisonKind.COUNTS, ComparisonKind.DISTRIBUTION, ComparisonKind.SAMPLES

register("counts", METRICS, COUNTS, "monitor.checks.counts:COUNTS")
register("distribution", METRICS, DISTRIBUTION, "monitor.checks.distribution:DISTRIBUTION")
register("samples", METRICS, SAMPLES, "monitor.checks.samples:SAMPLES")
register(TRAFFIC, METRICS, COUNTS, "monitor.checks.traffic:TRAFFIC")
register("log_templates", LOGS, COUNTS, "monitor.checks.logs:TEMPLATES")
register("log_error_rate", LOGS, COUNTS, "monitor.checks.logs:ERROR_RATE")
register("trace_latency", TRACES, DISTRIBUTION, "monitor.checks.traces:LATENCY")
register("trace_errors", TRACES, COUNTS, "monitor.checks.traces:ERRORS")
register("trace_fanout", TRACES, COUNTS, "monitor.checks.traces:FANOUT")
register("trace_exceptions", TRACES, COUNTS, "monitor.checks.traces:EXCEPTIONS")
register("trace_operations", TRACES, COUNTS, "monitor.checks.traces:OPERATIONS")
register(PROBE_RULE, PROBE, COUNTS, "monitor.checks.probes:RULE")
register(PROBE_LATENCY, PROBE, SAMPLES, "monitor.checks.probes:LATENCY")
register("slo_burn", METRICS, COUNTS, "monitor.checks.slo:SLO_BURN")
