"""The sources a command reads, from its flags and the settings: URL, credentials and limits together.

A flag's URL wins over the settings' (``MONITOR_<NAME>_URL``, then the config file); the
configured credentials go with whichever URL is used, so ``--prometheus-url`` may point at another
address of the same, authenticated, Prometheus.
"""

from __future__ import annotations

from monitor.config import Settings
from monitor.errors import InputError
from monitor.sources.jaeger import JaegerSource
from monitor.sources.loki import DEFAULT_SELECTOR, LokiSource
from monitor.sources.prometheus import PrometheusSource
from monitor.sources.tempo import TempoSource


def prometheus_source(settings: Settings, url: str | None = None) -> PrometheusSource:
    """The Prometheus at ``url`` (a flag) or the configured one; :class:`InputError` if there is none."""
    chosen = url or settings.prometheus_url
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


def loki_source(settings: Settings, url: str | None = None, selector: str | None = None) -> LokiSource | None:
    """The Loki at ``url`` (a flag) or the configured one; None when there is none."""
    chosen = url or settings.sources.loki.url
    if not chosen:
        return None
    return LokiSource(
        chosen, selector=selector or DEFAULT_SELECTOR, credentials=settings.sources.loki.credentials
    )


def trace_source(
    settings: Settings, tempo_url: str | None = None, jaeger_url: str | None = None
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
        return TempoSource(tempo_url, credentials=settings.sources.tempo.credentials)
    if jaeger_url:
        return JaegerSource(jaeger_url, credentials=settings.sources.jaeger.credentials)
    return None
