"""Endpoints for progressive-delivery controllers: Argo Rollouts' web metric and Flagger's webhooks.

Argo Rollouts (``provider.web``) counts a non-2xx answer as a measurement *Error*, not a failure,
so the verdict endpoint answers 200 whenever the request itself is valid and puts the decision
in the stable ``verdict`` field for ``successCondition: result.verdict == "pass"`` and
``failureCondition: result.verdict == "fail"``. Flagger treats any status above 202 as a failed
hook, and its hooks ask different questions:

* ``rollout``, ``pre-rollout``, ``confirm-rollout``, ``confirm-traffic-increase`` (is the canary
  still healthy?): 200 while the analysis runs or passes, 412 on ``fail`` or ``inconclusive``;
* ``confirm-promotion`` (may it be promoted?): 200 only on a final ``pass``; Flagger holds the
  promotion and asks again while it answers 412;
* ``rollback`` (roll back now?): 200 only on ``fail``, which makes Flagger abort the canary.

Argo's web metric may also *register* the deployment it asks about: with ``baseline_version``
(and optionally ``strategy``, ``profile``) a call finding no deployment of that version replacing
that baseline registers one, answering 201 with its verdict (``running``); the later calls find it
and answer 200. Otherwise an AnalysisRun started before anyone registered would get 404s, which Argo
counts as measurement Errors until ``consecutiveErrorLimit`` aborts the Rollout. Because such a GET
writes, it needs the ``deploy`` scope (:func:`monitor.api.auth.required_scope`).

Flagger cannot send headers: its hooks may carry the API token as ``metadata.token`` (a token
with the ``read`` scope is enough; see :mod:`monitor.api.auth`).
"""

from __future__ import annotations

import json

from aiohttp import web

from monitor.api.auth import ACTOR
from monitor.api.bodies import read_json
from monitor.api.keys import NOTIFIER, STORE, VERDICTS
from monitor.api.problems import Problem
from monitor.api.queries import ArgoQuery
from monitor.api.registration import note_left_out_probes, registrable_spec, request_digest
from monitor.api.requests import FlaggerPayload
from monitor.api.validation import validated
from monitor.models import Deployment
from monitor.store import Store

FLAGGER_HOOKS = (
    "rollout", "confirm-promotion", "pre-rollout", "confirm-rollout", "confirm-traffic-increase", "rollback"
)  # fmt: skip
_BLOCKING = ("fail", "inconclusive")


def _flagger_status(hook: str, verdict: str) -> int:
    """200 (Flagger: success) or 412 (failure) for ``hook`` given the current ``verdict``."""
    if hook == "confirm-promotion":
        return 200 if verdict == "pass" else 412
    if hook == "rollback":
        return 200 if verdict == "fail" else 412
    return 412 if verdict in _BLOCKING else 200


async def _newest(store: Store, service: str, environment: str | None, version: str | None) -> Deployment:
    found = await store.list_deployments(service=service, environment=environment, version=version, limit=1)
    if not found:
        wanted = ", ".join(
            f"{k}={v}"
            for k, v in (("service", service), ("environment", environment), ("version", version))
            if v
        )
        raise Problem(404, "Not found", f"no deployment registered for {wanted}; register it first")
    return found[0]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


async def _registered(request: web.Request, query: ArgoQuery) -> tuple[Deployment, bool]:
    """The newest deployment of the query's version when it replaces ``baseline_version``, else one
    registered now (started now); and whether it is new.

    Keyed by version and baseline: a later rollout of the same pair reads the earlier analysis (a
    retried Rollout does not pass a version its first run failed), and a deployment registered
    anew by ``POST /api/v1/deployments`` is the newest, so it answers. Concurrent first calls
    register one deployment (an idempotency key of what they saw).
    """
    store = request.app[STORE]
    assert query.service is not None and query.baseline_version is not None  # ArgoQuery checks
    found = await store.list_deployments(
        service=query.service, environment=query.environment, version=query.version, limit=1
    )
    if found and found[0].spec.baseline_version == query.baseline_version:
        return found[0], False
    fields = ("service", "environment", "version", "baseline_version", "strategy", "profile")
    body = {name: value for name in fields if (value := getattr(query, name)) is not None}
    spec = registrable_spec(request.app, body)
    # Two first calls at once (a retried measurement, two analysis runs) register one deployment:
    # they saw the same newest deployment, which with the pair is the key (hashed to fit the
    # column); a call after another registration sees another newest and registers anew.
    newest = found[0].id if found else None
    seen = [query.service, spec.environment, query.version, query.baseline_version, newest]
    key = "argo-rollouts:" + request_digest(seen)
    actor = request.get(ACTOR, "anonymous")
    deployment, created = await store.register(
        spec, actor=actor, idempotency_key=key, request_digest=key, notify=request.app[NOTIFIER].registered
    )
    await note_left_out_probes(request.app, body, deployment, created=created, actor=actor)
    return deployment, created


async def argo_verdict(request: web.Request) -> web.Response:
    """``GET /api/v1/integrations/argo-rollouts/verdict``: by ``deployment_id``, or the newest by
    ``service`` (with ``environment`` and ``version``); with ``baseline_version`` it registers the
    deployment first when none matches (201)."""
    store, verdicts = request.app[STORE], request.app[VERDICTS]
    query = validated(ArgoQuery, dict(request.query))
    if query.deployment_id is not None:
        # By id, the last known verdict answers while the database is away: a 503 would count
        # as a measurement error, and enough of those abort the rollout.
        entry, headers = await verdicts.read(query.deployment_id)
        return web.Response(body=entry.body, content_type="application/json", headers=headers)
    assert query.service is not None  # ArgoQuery requires one of the two
    created = False
    if query.baseline_version is None:
        deployment = await _newest(store, query.service, query.environment, query.version)
    else:
        deployment, created = await _registered(request, query)
    entry, headers = await verdicts.read(deployment.id)
    if created:
        headers = {**headers, "Location": f"/api/v1/deployments/{deployment.id}"}
    return web.Response(
        status=201 if created else 200, body=entry.body, content_type="application/json", headers=headers
    )


async def flagger_hook(request: web.Request) -> web.Response:
    """``POST /api/v1/integrations/flagger/{hook}`` with Flagger's payload; metadata names the service."""
    hook = request.match_info["hook"]
    if hook not in FLAGGER_HOOKS:
        raise Problem(
            404, "Not found", f"unknown Flagger hook {hook!r}; use one of {', '.join(FLAGGER_HOOKS)}"
        )
    payload = validated(FlaggerPayload, await read_json(request))
    metadata = payload.metadata
    deployment = await _newest(request.app[STORE], metadata.service, metadata.environment, metadata.version)
    entry, headers = await request.app[VERDICTS].read(deployment.id)
    document = entry.document()
    status = _flagger_status(hook, document["verdict"])
    flagger = {"name": payload.name, "namespace": payload.namespace, "phase": payload.phase}
    return _json({"hook": hook, **document, "flagger": flagger}, status, headers)
