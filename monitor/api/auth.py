"""Bearer-token authentication with scopes: ``read``, ``deploy`` (register, cancel), ``ingest``
(OTLP), ``admin``.

Presented tokens are compared in constant time against every configured token (through their
SHA-256 digests, so lengths leak nothing either). A request without a valid token gets 401 with
``WWW-Authenticate: Bearer``; a valid token lacking the route's scope gets 403. Tokens are never
logged: only their names appear, as the actor of what they did. Flagger's webhooks cannot send
headers, so its hooks (which only read verdicts, scope ``read``) may carry the token as
``metadata.token`` in the body instead.

A browser cannot send a header either: when a report-link key is configured, a GET of one
deployment's report, verdict, events or document (or of the deployments index page) may carry a
signed, expiring link's ``exp`` and ``sig`` instead (:mod:`monitor.reportlinks`). Such a request's
actor is ``signed-link``; it reads only what the link names, never writes. A link that expired
or does not match gets 401 saying how to get a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from monitor.api.bodies import parse_json
from monitor.api.problems import Problem
from monitor.config import TokenSpec
from monitor.reportlinks import (
    EXPIRES_PARAMETER,
    INDEX_PATH,
    INDEX_SUBJECT,
    SIGNATURE_PARAMETER,
    LinkCheck,
    LinkKey,
    check_link,
)
from monitor.timeparse import format_time

ACTOR = web.RequestKey("actor", str)
# "?exp=..&sig=.." when the request came through a signed link, else "" (unset without
# authentication: read it with request.get(LINK_QUERY, "")). Links the report renders to the
# deployment's other documents append it, so they open in the same browser too.
LINK_QUERY = web.RequestKey("link_query", str)
SIGNED_LINK_ACTOR = "signed-link"
# The GET routes a signed link of a deployment opens: its report and the documents it links to.
SIGNED_ROUTES = frozenset(
    {
        "/api/v1/deployments/{id}",
        "/api/v1/deployments/{id}/verdict",
        "/api/v1/deployments/{id}/report",
        "/api/v1/deployments/{id}/events",
    }
)
_FRESH_LINK = "ask for a fresh link: monitor report-link"
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


def _link_subject(request: web.Request) -> str | None:
    """What a signed link must name to open this request: its deployment, the index, or None when
    no link opens it (a write, another route)."""
    if request.method not in ("GET", "HEAD"):
        return None
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else ""
    if route in SIGNED_ROUTES:
        return request.match_info["id"]
    return INDEX_SUBJECT if route == INDEX_PATH else None


def _unauthorized(request: web.Request, detail: str) -> web.Response:
    response = Problem(401, "Unauthorized", detail).response(request.path)
    response.headers["WWW-Authenticate"] = 'Bearer realm="monitor"'
    return response


def _signed_link(request: web.Request, links: LinkKey, now_s: float) -> web.Response | None:
    """None when the request's signed link opens it (actor and :data:`LINK_QUERY` set), else the
    answer saying why not."""
    subject = _link_subject(request)
    if subject is None:
        raise Problem(
            403,
            "Forbidden",
            f"a signed link opens only GET of one deployment's report, verdict, events and document, or of "
            f"{INDEX_PATH}; send Authorization: Bearer <token> for {request.method} {request.path}",
        )
    expires = request.query.get(EXPIRES_PARAMETER, "")
    presented = request.query.get(SIGNATURE_PARAMETER, "")
    check = check_link(links, subject, expires, presented, now_s)
    what = "the index link" if subject == INDEX_SUBJECT else f"the link of deployment {subject}"
    fresh = f"{_FRESH_LINK} {'--index' if subject == INDEX_SUBJECT else subject}"
    if check is LinkCheck.EXPIRED:
        expired_at = format_time(datetime.fromtimestamp(int(expires), UTC))
        return _unauthorized(request, f"{what} expired at {expired_at}; {fresh}")
    if check is LinkCheck.INVALID:
        return _unauthorized(
            request,
            f"{what} has a wrong signature (altered, made for another deployment, or signed with a "
            f"replaced key); {fresh}",
        )
    request[ACTOR] = SIGNED_LINK_ACTOR
    request[LINK_QUERY] = "?" + urlencode({EXPIRES_PARAMETER: expires, SIGNATURE_PARAMETER: presented})
    return None


def auth_middleware(
    tokens: Sequence[TokenSpec], links: LinkKey | None = None, clock: Callable[[], float] = time.time
) -> Middleware:
    """A middleware enforcing ``tokens``; ``admin`` implies every scope. With ``links``, a GET of a
    deployment's report and documents may present a signed link instead (see the module)."""
    known = tuple(_Known(t.name, frozenset(t.scopes), _digest(t.secret)) for t in tokens)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        scope = required_scope(request)
        request[LINK_QUERY] = ""
        if scope is None:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        # An empty signature is none: the dashboard's way back sends ?exp=&sig= when it has no link.
        signed = bool(request.query.get(SIGNATURE_PARAMETER)) and not header
        if signed and links is not None:
            refused = _signed_link(request, links, clock())
            return refused if refused is not None else await handler(request)
        presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not presented and request.path.startswith(FLAGGER_PREFIX) and request.method == "POST":
            presented = await _flagger_token(request)
        digest = _digest(presented)
        match = None
        for token in known:  # no early exit: every token is compared
            if hmac.compare_digest(digest, token.digest) and presented:
                match = token
        if match is None:
            detail = "send Authorization: Bearer <token> with a configured token"
            if signed:  # links is None: the monitor has no key to check the link with
                detail = f"this monitor signs no report links (no report_links key configured); {detail}"
            return _unauthorized(request, detail)
        if scope not in match.scopes and "admin" not in match.scopes:
            raise Problem(
                403, "Forbidden", f"token {match.name!r} lacks the {scope!r} scope for {request.method}"
            )
        request[ACTOR] = match.name
        return await handler(request)

    return middleware
