"""The log kinds: template counts of both versions (:mod:`monitor.judges.logs`)."""

from __future__ import annotations

from monitor.checks.aggregated import AggregatedKind
from monitor.checks.kind import Aggregates
from monitor.judges.logs import errors_min_p, judge_log_errors, judge_log_templates, templates_min_p
from monitor.logs.counts import LogData


async def _logs(aggregates: Aggregates) -> LogData:
    return await aggregates.logs()


TEMPLATES = AggregatedKind(_logs, judge_log_templates, templates_min_p)
ERROR_RATE = AggregatedKind(_logs, judge_log_errors, errors_min_p)
