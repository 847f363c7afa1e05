"""Bearer-token authentication with scopes: ``read``, ``deploy`` (register, cancel), ``ingest``
(OTLP), ``admin``.

Presented tokens are compared in constant time against every configured token (through their
SHA-256 digests, so lengths leak nothing either). A request without a valid token gets 401 with
``WWW-Authenticate: Bearer``; a valid token lacking the route's scope gets 403. Tokens are never
logged: only their names appear, as the actor of what they did. Flagger's webhooks cannot send
headers, so its hooks (which only read verdicts, scope ``read``) may carry the token as
``metadata.token`` in the body instead.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from monitor.api.bodies import parse_json
from monitor.api.problems import Problem
from monitor.config import TokenSpec

ACTOR = web.RequestKey("actor", str)
_PUBLIC = frozenset({"/healthz", "/readyz", "/api/v1/openapi.json"})


@dataclass(frozen=True)
class _Known:
    name: str
    scopes: frozenset[str]
    digest: bytes


FLAGGER_PREFIX = "/api/v1/integrations/flagger/"
ARGO_VERDICT = "/api/v1/integrations/argo-rollouts/verdict"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def required_scope(request: web.Request) -> str | None:
    """The scope a route needs: none for health, ``ingest`` for OTLP, ``deploy`` for writes, ``read``
    otherwise."""
    if request.path in _PUBLIC:
        return None
    if request.path.startswith("/v1/"):
        return "ingest"
    if request.path.startswith(FLAGGER_PREFIX):
        return "read"  # Flagger's hooks are POSTs that only read a verdict
    if request.path == ARGO_VERDICT and "baseline_version" in request.query:
        return "deploy"  # Argo's web metric registers the deployment on its first call
    return "deploy" if request.method in ("POST", "PUT", "PATCH", "DELETE") else "read"


async def _flagger_token(request: web.Request) -> str:
    """The token a Flagger hook carries in ``metadata.token`` (Flagger cannot send headers)."""
    try:
        body = parse_json(await request.read())  # aiohttp keeps the body: the handler reads it again
    except Problem:
        return ""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    token = metadata.get("token") if isinstance(metadata, dict) else None
    return token.strip() if isinstance(token, str) else ""


def auth_middleware(tokens: Sequence[TokenSpec]) -> Middleware:
    """A middleware enforcing ``tokens``; ``admin`` implies every scope."""
    known = tuple(_Known(t.name, frozenset(t.scopes), _digest(t.secret)) for t in tokens)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        scope = required_scope(request)
        if scope is None:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not presented and request.path.startswith(FLAGGER_PREFIX) and request.method == "POST":
            presented = await _flagger_token(request)
        digest = _digest(presented)
        match = None
        for token in known:  # no early exit: every token is compared
            if hmac.compare_digest(digest, token.digest) and presented:
                match = token
        if match is None:
            problem = Problem(
                401, "Unauthorized", "send Authorization: Bearer <token> with a configured token"
            )
            response = problem.response(request.path)
            response.headers["WWW-Authenticate"] = 'Bearer realm="monitor"'
            return response
        if scope not in match.scopes and "admin" not in match.scopes:
            raise Problem(
                403, "Forbidden", f"token {match.name!r} lacks the {scope!r} scope for {request.method}"
            )
        request[ACTOR] = match.name
        return await handler(request)

    return middleware
