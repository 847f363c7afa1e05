"""A fake Loki query API for tests.

No Loki can run on this machine, so this fake follows the documented contract of
``GET /loki/api/v1/query_range`` (Loki's ``docs/sources/reference/loki-http-api.md`` and
``pkg/loghttp/params.go``):

* ``start``/``end``: a value with ``.`` is float seconds, an integer of at most 10 digits is seconds,
  a longer one nanoseconds; ``start`` inclusive, ``end`` exclusive;
* ``limit`` defaults to 100 and ``direction`` to ``backward`` (newest first);
* the answer is ``{"status": "success", "data": {"resultType": "streams", "result": [{"stream": {labels},
  "values": [["<ns as string>", "<line>"], ...]}]}}``, one stream per label set;
* errors are ``text/plain`` bodies: 400 ``parse error : ...`` for a query it cannot parse.

Only the selector the monitor sends by default is understood: ``{service_name="S"} | service_version="V"``
(``service.version`` is structured metadata in Loki, not an index label). Lines are added with
:meth:`LokiFake.add_line`; :meth:`LokiFake.fail_next` scripts failures (e.g. 503).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web

from .server import PlainTextFake

QUERY_RANGE = "/loki/api/v1/query_range"
_SELECTOR = re.compile(r'\{service_name="((?:[^"\\]|\\.)*)"\} \| service_version="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class LogLine:
    """One stored line of a service's version."""

    service: str
    version: str
    at_ns: int
    line: str
    level: str = "info"


def parse_time_ns(raw: str) -> int:
    """Loki's rule for ``start``/``end``: float seconds, <= 10-digit seconds, else nanoseconds."""
    if "." in raw:
        return int(float(raw) * 1e9)
    return int(raw) * 10**9 if len(raw.lstrip("-")) <= 10 else int(raw)


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class LokiFake(PlainTextFake):
    """Loki's query API on ``127.0.0.1`` and a free port, served from a background thread."""

    _server_name = "loki-fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host=host, port=port)
        self._lines: list[LogLine] = []

    def add_line(self, line: LogLine) -> None:
        with self._lock:
            self._lines.append(line)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, query, failure = self._admit(request)
        if failure is not None:
            return failure
        with self._lock:
            lines = list(self._lines)
        if request.method != "GET" or path != QUERY_RANGE:
            return web.Response(status=404, text="404 page not found\n")
        params = {key: values[-1] for key, values in query.items()}
        selector = _SELECTOR.fullmatch(params.get("query", ""))
        if selector is None:
            return web.Response(status=400, text=f"parse error : syntax error in {params.get('query', '')}")
        service, version = _unquote(selector[1]), _unquote(selector[2])
        start = parse_time_ns(params["start"]) if "start" in params else 0
        end = parse_time_ns(params["end"]) if "end" in params else 2**63 - 1
        forward = params.get("direction", "backward") == "forward"
        chosen = sorted(
            (line for line in lines if (line.service, line.version) == (service, version)
             and start <= line.at_ns < end),
            key=lambda line: line.at_ns, reverse=not forward,
        )[: int(params.get("limit", "100"))]  # fmt: skip
        streams: dict[str, list[list[str]]] = {}
        for line in chosen:
            streams.setdefault(line.level, []).append([str(line.at_ns), line.line])
        result = [
            {"stream": {"service_name": service, "level": level}, "values": values}
            for level, values in streams.items()
        ]
        body = {"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}}
        return web.Response(text=json.dumps(body), content_type="application/json")
