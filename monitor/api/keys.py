"""Typed keys of what the application holds: the store, the metrics source, the environments."""

from __future__ import annotations

from aiohttp import web

from monitor.environments import Environments
from monitor.sources.base import MetricsSource
from monitor.store import Store
from monitor.telemetry import MonitorMetrics

STORE = web.AppKey("store", Store)
SOURCE = web.AppKey("source", MetricsSource)
ENVIRONMENTS = web.AppKey("environments", Environments)
METRICS = web.AppKey("metrics", MonitorMetrics)
