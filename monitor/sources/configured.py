"""The configured telemetry backends as values: each one's URL and credentials.

Kept apart from their config-file models (:mod:`monitor.sources.spec`) so that a command run
without a config file does not import the validation models (bench/analyze_latency.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.sources.credentials import NO_CREDENTIALS, Credentials

SOURCE_NAMES = ("prometheus", "loki", "tempo", "jaeger")
URL_VARIABLES = {name: f"MONITOR_{name.upper()}_URL" for name in SOURCE_NAMES}


@dataclass(frozen=True)
class SourceSpec:
    """One backend as configured: its URL (None: given by a flag or variable, or unused) and credentials."""

    url: str | None = None
    credentials: Credentials = NO_CREDENTIALS


@dataclass(frozen=True)
class Sources:
    """The configured telemetry backends."""

    prometheus: SourceSpec = SourceSpec()
    loki: SourceSpec = SourceSpec()
    tempo: SourceSpec = SourceSpec()
    jaeger: SourceSpec = SourceSpec()
