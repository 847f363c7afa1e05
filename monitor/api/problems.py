"""RFC 9457 problem details: every API error says what went wrong and what to do."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An API error to answer with ``application/problem+json``."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.field = status, title, detail, field

    def response(self, instance: str) -> web.Response:
        """The problem+json response for the request path ``instance``."""
        body: dict[str, object] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.field is not None:
            body["field"] = self.field
        return web.Response(status=self.status, text=json.dumps(body), content_type=PROBLEM_JSON)


def invalid(field: str, detail: str) -> Problem:
    """A 400 naming the offending field."""
    return Problem(400, "Invalid request", f"{field}: {detail}", field)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn :class:`Problem` and unexpected errors into problem+json responses."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return Problem(exc.status, exc.reason, exc.text or exc.reason).response(request.path)
