"""The sources a command reads, from its flags and the configured sources: URL, credentials, limits.

A flag's URL wins over the settings' (``MONITOR_<NAME>_URL``, then the config file); the
configured credentials go with whichever URL is used, so ``--prometheus-url`` may point at another
address of the same, authenticated, Prometheus.

The pulled log and trace backends are registered here by the name of their config section (which
is also their name in ``logs_from``/``traces_from``): a new backend is its module in
:mod:`monitor.sources` and one line in :data:`LOG_BACKENDS` or :data:`TRACE_BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from monitor.errors import ConfigError, InputError
from monitor.sources.base import LogBackend, TraceBackend
from monitor.sources.configured import Sources, SourceSpec
from monitor.sources.prometheus import PrometheusSource

if TYPE_CHECKING:
    from monitor.sources.jaeger import JaegerSource
    from monitor.sources.loki import LokiSource
    from monitor.sources.tempo import TempoSource

B = TypeVar("B", LogBackend, TraceBackend)


# The pulled backends' modules are imported when one is used: a metrics-only monitor analyze
# would otherwise spend 6 ms of its start on them (bench/analyze_latency.py).
def _loki(url: str, spec: SourceSpec, selector: str | None = None) -> LokiSource:
    from monitor.sources.loki import DEFAULT_SELECTOR, LokiSource

    return LokiSource(url, selector=selector or DEFAULT_SELECTOR, credentials=spec.credentials)


def _tempo(url: str, spec: SourceSpec) -> TempoSource:
    from monitor.sources.tempo import TempoSource

    return TempoSource(url, credentials=spec.credentials)


def _jaeger(url: str, spec: SourceSpec) -> JaegerSource:
    from monitor.sources.jaeger import JaegerSource

    return JaegerSource(url, credentials=spec.credentials)


LOG_BACKENDS: Mapping[str, Callable[[str, SourceSpec], LogBackend]] = {"loki": _loki}
TRACE_BACKENDS: Mapping[str, Callable[[str, SourceSpec], TraceBackend]] = {
    "tempo": _tempo,
    "jaeger": _jaeger,
}


class SourceSettings(Protocol):
    """What building a source reads of the settings: the source sections and Prometheus' limits."""

    @property
    def sources(self) -> Sources: ...
    @property
    def prometheus_timeout_s(self) -> float: ...
    @property
    def prometheus_max_attempts(self) -> int: ...


def prometheus_source(settings: SourceSettings, url: str | None = None) -> PrometheusSource:
    """The Prometheus at ``url`` (a flag) or the configured one; :class:`InputError` if there is none."""
    chosen = url or settings.sources.prometheus.url
    if not chosen:
        raise InputError(
            "no Prometheus URL; pass --prometheus-url, set MONITOR_PROMETHEUS_URL "
            "or prometheus.url in --config"
        )
    return PrometheusSource(
        chosen,
        credentials=settings.sources.prometheus.credentials,
        timeout_s=settings.prometheus_timeout_s,
        max_attempts=settings.prometheus_max_attempts,
    )


def loki_source(
    settings: SourceSettings, url: str | None = None, selector: str | None = None
) -> LokiSource | None:
    """The Loki at ``url`` (a flag) or the configured one; None when there is none."""
    chosen = url or settings.sources.loki.url
    if not chosen:
        return None
    return _loki(chosen, settings.sources.loki, selector)


def trace_source(
    settings: SourceSettings, tempo_url: str | None = None, jaeger_url: str | None = None
) -> TempoSource | JaegerSource | None:
    """Tempo or Jaeger, from the flags or else the settings; both is an error (traces have one home)."""
    if tempo_url and jaeger_url:
        raise InputError("pass --tempo-url or --jaeger-url, not both: traces come from one backend")
    if not (tempo_url or jaeger_url):
        tempo_url, jaeger_url = settings.sources.tempo.url, settings.sources.jaeger.url
        if tempo_url and jaeger_url:
            raise InputError(
                "both tempo.url and jaeger.url are set (in --config or MONITOR_TEMPO_URL and "
                "MONITOR_JAEGER_URL): traces come from one backend, keep one"
            )
    if tempo_url:
        return _tempo(tempo_url, settings.sources.tempo)
    if jaeger_url:
        return _jaeger(jaeger_url, settings.sources.jaeger)
    return None


def pulled_backend(
    registry: Mapping[str, Callable[[str, SourceSpec], B]], kind: str, sources: Sources, key: str
) -> B:
    """The backend ``kind`` of ``registry``, configured by its section of ``sources``.

    ``key`` names the setting that chose it (``logs_from``, ``traces_from``) in the errors.
    """
    if kind not in registry:
        raise ConfigError(f"{key}: unknown source {kind!r}; use one of: receiver, {', '.join(registry)}")
    spec: SourceSpec = getattr(sources, kind)
    if not spec.url:
        raise ConfigError(
            f"{key} is {kind} but no {kind} URL is set; set {kind}.url in --config or "
            f"MONITOR_{kind.upper()}_URL"
        )
    return registry[kind](spec.url, spec)
