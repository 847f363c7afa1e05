"""A registration request made a deployment: the spec, its profile's checks and the request digest,
shared by ``POST /api/v1/deployments`` and Argo Rollouts' web metric that registers on first call
(and the profile check by the backtest route)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from aiohttp import web

from monitor.api.keys import ENVIRONMENTS, NOTIFIER, PROFILES, STORE
from monitor.api.problems import invalid
from monitor.api.registration_probes import ProbeOffer
from monitor.api.requests import deployment_spec
from monitor.errors import ConfigError
from monitor.models import Deployment, DeploymentSpec
from monitor.probes.scope import applying_probes
from monitor.profiles import Profile

# The audit trail's entry for configured probes a new deployment did not get.
PROBES_LEFT_OUT = "probes_left_out"


def request_digest(body: object) -> str:
    """The request as sent, canonically: what makes a retry with the same key the same request
    (its probes and preview address included: another probe list is another request)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def offered_profile(app: web.Application, name: str) -> Profile:
    """The profile ``name`` when the daemon offers it and it loads; a 400 naming ``profile`` otherwise."""
    profiles = app[PROFILES]
    allowed = profiles.available
    if name not in allowed:
        # Never a path from a caller: the daemon would read any file it can.
        raise invalid(
            "profile",
            f"{name!r} is not available; use one of {', '.join(sorted(allowed))} "
            "(other profiles are added under environments: in the daemon's config)",
        )
    try:
        return profiles.get(name)
    except ConfigError as exc:
        raise invalid("profile", str(exc)) from None


def registrable_spec(app: web.Application, body: object) -> DeploymentSpec:
    """The deployment ``body`` asks for, started now, with a profile the daemon offers and can load
    and the probes its config allows; a 400 naming the field otherwise."""
    settings = app[NOTIFIER].settings
    offer = ProbeOffer(settings.probes, settings.probe_hosts)
    spec = deployment_spec(body, datetime.now(UTC), app[ENVIRONMENTS], offer)
    offered_profile(app, spec.profile)
    return spec


async def note_left_out_probes(
    app: web.Application, body: object, deployment: Deployment, *, created: bool, actor: str
) -> None:
    """Say in a new deployment's audit trail which configured probes it did not get, and why.

    A registration that names no probes gets the configured ones in its scope, minus those whose
    URL names a host their ``hosts`` do not list for this service (each attempt would be refused,
    failing a good deploy): they are left out rather than refusing every registration of the
    service, and an SRE reading the trail must see that, not only the daemon's log.
    """
    if not created or (isinstance(body, dict) and body.get("probes") is not None):
        return
    spec = deployment.spec
    _, reasons = applying_probes(
        app[NOTIFIER].settings.probes, service=spec.service, environment=spec.environment,
        versions=(spec.version, spec.baseline_version),
    )  # fmt: skip
    if reasons:
        await app[STORE].add_event(
            deployment.id, PROBES_LEFT_OUT, actor, "; ".join(reasons)[:2000], {"reasons": list(reasons)}
        )
