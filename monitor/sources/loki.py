"""Loki as a pull source of log lines (``GET /loki/api/v1/query_range``, stream results).

The query selects one version of the service; by default
``{service_name="$service"} | service_version="$version"``, which finds the version as an index
label or as structured metadata (how Loki stores OTLP's ``service.version``). Lines are read
forward in pages up to ``max_lines`` per version and window (a sample beyond that; the judges then
compare proportions of the lines read). A metric query (matrix result, e.g. counts by level) is
accepted too: each series then stands for its count of lines. The level comes from the stream's ``level``,
``detected_level`` or ``severity_text`` label, else from a level word near the start of the line.
"""

from __future__ import annotations

import re
from dataclasses import replace
from string import Template
from typing import Any

import aiohttp

from monitor.errors import QueryError
from monitor.logs.counts import Level
from monitor.models import Window
from monitor.sources.credentials import NO_CREDENTIALS, Credentials, Endpoint
from monitor.sources.httpjson import get_json, session_for

DEFAULT_SELECTOR = '{service_name="$service"} | service_version="$version"'
_IDENTITY = ("service_name", "service_version")
_LEVEL_LABELS = ("level", "detected_level", "severity_text", "severity")
_LEVEL_WORD = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|FATAL|CRITICAL|PANIC)\b", re.I)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _level(labels: dict[str, str], line: str) -> Level:
    for key in _LEVEL_LABELS:
        if key in labels:
            return Level.parse(labels[key])
    found = _LEVEL_WORD.search(line[:80])
    return Level.parse(found.group(1)) if found else Level.INFO


def _from_matrix(result: list[dict[str, Any]], max_lines: int, start_ns: int) -> list[tuple[int, str, Level]]:
    """A metric query's series (e.g. ``sum by (level) (count_over_time(...[1m]))``) as lines.

    Each series stands for its count of lines, all with one text made of its labels: the log
    checks then compare the series (per level, say) instead of templates. Counts beyond
    ``max_lines`` are scaled down alike, which keeps their proportions.
    """
    series = []
    for item in result:
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        values = item.get("values", [])
        count = sum(float(v[1]) for v in values)
        at_ns = int(float(values[0][0]) * 1e9) if values else start_ns
        text = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in _IDENTITY) or "lines"
        series.append((at_ns, text, _level(labels, text), count))
    total = sum(count for *_, count in series)
    scale = min(1.0, max_lines / total) if total else 1.0
    return [(at_ns, text, level) for at_ns, text, level, count in series for _ in range(round(count * scale))]


class LokiSource:
    """Reads one version's log lines from Loki."""

    def __init__(
        self, url: str, *, selector: str = DEFAULT_SELECTOR, max_lines: int = 20_000, page: int = 5_000,
        tenant: str | None = None, timeout_s: float = 30.0, credentials: Credentials = NO_CREDENTIALS,
    ) -> None:  # fmt: skip
        if tenant:
            credentials = replace(credentials, headers=(*credentials.headers, ("X-Scope-OrgID", tenant)))
        self._endpoint = Endpoint.parse(url, credentials, "the Loki URL")
        self.url = self._endpoint.display  # secrets masked: fit for messages
        self._selector, self._max_lines, self._page = Template(selector), max_lines, page
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def query(self, service: str, version: str) -> str:
        """The LogQL selecting ``version`` of ``service``."""
        return self._selector.substitute(service=_quoted(service), version=_quoted(version))

    async def lines(self, service: str, version: str, window: Window) -> list[tuple[int, str, Level]]:
        """``(unix ns, line, level)`` of the version in the window, oldest first."""
        query = self.query(service, version)
        start_ns = int(window.start.timestamp() * 1e9)
        end_ns = int(window.end.timestamp() * 1e9)
        found: list[tuple[int, str, Level]] = []
        async with session_for(self._endpoint, self._timeout) as session:
            while len(found) < self._max_lines and start_ns < end_ns:
                params = {
                    "query": query, "start": str(start_ns), "end": str(end_ns), "direction": "forward",
                    "limit": str(min(self._page, self._max_lines - len(found))),
                }  # fmt: skip
                document = await get_json(
                    session, self._endpoint, "/loki/api/v1/query_range", params, f"Loki {query}"
                )
                data = document.get("data", {}) if isinstance(document, dict) else {}
                if data.get("resultType") == "matrix":
                    return _from_matrix(data.get("result", []), self._max_lines, start_ns)
                if data.get("resultType") != "streams":
                    raise QueryError(
                        f"Loki answered {data.get('resultType')!r} to {query}; use a log query (streams) "
                        "or a metric query with count_over_time (matrix)",
                        url=self.url,
                    )
                page = sorted(
                    (int(value[0]), str(value[1]), _level(stream.get("stream", {}), str(value[1])))
                    for stream in data.get("result", [])
                    for value in stream.get("values", [])
                )
                found += page
                if len(page) < int(params["limit"]):
                    break
                start_ns = page[-1][0] + 1
        return found[: self._max_lines]
