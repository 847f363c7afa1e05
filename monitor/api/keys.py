"""Typed keys of what the application holds: the store, the metrics source, the environments, the
current verdicts."""

from __future__ import annotations

from aiohttp import web

from monitor.api.verdicts import VerdictCache
from monitor.channels.notify import Notifier
from monitor.environments import Environments
from monitor.own_metrics import MonitorMetrics
from monitor.profiles.catalog import ProfileCatalog
from monitor.sources.base import MetricsSource
from monitor.store import Store

STORE = web.AppKey("store", Store)
SOURCE = web.AppKey("source", MetricsSource)
ENVIRONMENTS = web.AppKey("environments", Environments)
PROFILES = web.AppKey("profiles", ProfileCatalog)
METRICS = web.AppKey("metrics", MonitorMetrics)
VERDICTS = web.AppKey("verdicts", VerdictCache)
NOTIFIER = web.AppKey("notifier", Notifier)
TRACE_URL = web.AppKey("trace_url", str)  # "" when exemplar traces are not linked
