"""A registration's smoke probes and blue/green preview address, checked against the daemon's config.

``probes`` absent: the configured probes that apply to the service and environment, less those
whose URL renders a host their ``hosts`` do not list (skipped with a warning: every attempt would
be refused); ``[]``: none; a list: configured probes by name and inline probe objects (the config's
probe fields, without ``headers``, a body never carrying secrets, nor ``services`` and
``environments``, which a probe of one deployment has no use for). An inline probe may request only
the hosts the config's ``probe_hosts`` allows, for every version's rendered URL and every redirect,
and its URL carries no user info (``user:password@``). ``preview_url`` (``strategy: bluegreen``
only) moves the new version's probes onto the preview's origin: it carries no user info, its host
must be one every probe may request already, or one ``probe_hosts`` allows, and it must be https
when a probe's URL is https or a probe carries header values. A configured probe named in the body
must apply to the service and environment, and its URL must name one of its hosts for every
version. Every refusal is a 400 naming the field (``probes[1].url``) and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from monitor.api.problems import Problem, invalid
from monitor.checks.probes import check_name, latency_check_name
from monitor.config.file import ProbeSection, probe_spec
from monitor.models import ProbeSpec, Strategy
from monitor.probes.hosts import host_allowed
from monitor.probes.scope import applying_probes, unlisted_host
from monitor.redact import redact_url

log = logging.getLogger(__name__)

_ADD_HOST = "add the host to probe_hosts: in the config"
# The config's probe fields an inline probe may not have, and the fix of each.
_NOT_INLINE = {
    "headers": "a registration cannot send header values (secrets); define the probe under probes: in "
    "the config with value_file, and send its name",
    **{
        field: "an inline probe is this deployment's alone, so it has no scope; leave it out (to scope a "
        "probe, define it under probes: in the config and send its name)"
        for field in ("services", "environments")
    },
}
_NO_USERINFO = (
    "user info (user:password@) would be stored and shown with the deployment; leave it out: "
    "credentials go in a configured probe's headers (value_file), and the body names that probe"
)


@dataclass(frozen=True)
class ProbeOffer:
    """What the daemon's config offers registrations: its probes (with their header values, which
    a registration names but never sees) and the hosts a registration's own probes may request."""

    probes: tuple[ProbeSpec, ...] = ()
    hosts: tuple[str, ...] = ()

    def names(self) -> str:
        """The configured probes' names, for a refusal's fix."""
        return ", ".join(p.name for p in self.probes) or "none are configured (probes: in the config)"


def inline_probe_schema(schema: dict[str, Any], max_items: int) -> None:
    """The JSON Schema of ``probes``, at most ``max_items`` of them (for ``json_schema_extra``,
    built only when a schema is)."""
    probe = ProbeSection.model_json_schema()
    probe.pop("$defs", None)
    for field in _NOT_INLINE:
        probe["properties"].pop(field, None)
    probe["title"] = "InlineProbe"
    probe["description"] = "a smoke probe of this deployment only: the config's probe fields but headers"
    _exclusive_as_flag(probe)
    schema.clear()
    schema.update(
        {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, probe]},
                    "maxItems": max_items,
                },
                {"type": "null"},
            ],
            "default": None,
            "description": f"configured probe names and inline probes, at most {max_items}; absent: "
            "the configured probes that apply to the service and environment; []: none",
        }
    )


def _exclusive_as_flag(node: object) -> None:
    """OpenAPI 3.0 (the API document's dialect) writes an exclusive bound as a flag on ``minimum``."""
    if isinstance(node, list):
        for item in node:
            _exclusive_as_flag(item)
    elif isinstance(node, dict):
        if isinstance(node.get("exclusiveMinimum"), int | float):
            node["minimum"], node["exclusiveMinimum"] = node["exclusiveMinimum"], True
        for value in node.values():
            _exclusive_as_flag(value)


def _section_problem(error: Any, where: str) -> Problem:
    """A pydantic error of an inline probe as a 400 naming its field."""
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    if error["type"] == "config":  # the model's own check: its words and fix
        field = ".".join([where, *loc, *([str(ctx["field"])] if ctx.get("field") else [])])
        return invalid(field, f"{ctx['problem']}; {ctx['fix']}")
    field = ".".join([where, *loc])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(n for n in ProbeSection.model_fields if n not in _NOT_INLINE))
        return invalid(field, f"unknown field {loc[-1]!r}; allowed: {allowed}")
    if error["type"] == "missing":
        return invalid(field, "required")
    return invalid(field, f"invalid: {error['msg']}")


def _has_userinfo(url: str) -> bool:
    """Whether ``url`` (a template or an address) names a user before its host (``u:secret@h``);
    never raises, so it is asked before the URL is parsed."""
    netloc = url.split("://", 1)[-1]
    for end in "/?#":
        netloc = netloc.split(end, 1)[0]
    return "@" in netloc


def _configured(probe: ProbeSpec, where: str, versions: Sequence[str], env: str, service: str) -> ProbeSpec:
    """A configured probe named in the body, when it may probe this deployment: its scope (services,
    environments) includes it and its URL names one of its hosts for every version."""
    if not probe.applies_to(service, env):
        scope = "; ".join(
            f"{field}: {', '.join(values)}"
            for field, values in (("services", probe.services), ("environments", probe.environments))
            if values
        )
        raise invalid(
            where,
            f"the configured probe {probe.name!r} is not for service {service!r} in environment "
            f"{env!r} ({scope}); name another probe, or widen its scope in the config",
        )
    if (unlisted := unlisted_host(probe, versions, env, service)) is not None:
        host, version = unlisted
        raise invalid(
            where,
            f"the configured probe {probe.name!r} names host {host!r} for version {version}, which "
            "its hosts do not list; add it to the probe's hosts in the config, or name another probe",
        )
    return probe


def _inline(
    item: dict[str, Any], where: str, offer: ProbeOffer, versions: Sequence[str], env: str, service: str
) -> ProbeSpec:
    for field, fix in _NOT_INLINE.items():
        if field in item:
            raise invalid(f"{where}.{field}", fix)
    if isinstance(url := item.get("url"), str) and _has_userinfo(url):
        raise invalid(f"{where}.url", _NO_USERINFO)
    try:
        section = ProbeSection.model_validate(item)
    except ValidationError as exc:
        raise _section_problem(exc.errors(include_url=False)[0], where) from None
    probe = probe_spec(section)
    if (unlisted := unlisted_host(probe, versions, env, service)) is not None:
        host, version = unlisted
        raise invalid(
            f"{where}.hosts",
            f"the URL names host {host!r} for version {version}, which hosts does not list; add it",
        )
    # Every host the probe may ever request, its own and its redirects', within probe_hosts.
    for field, hosts in (("url", sorted(probe.allowed_hosts())), ("redirect_hosts", probe.redirect_hosts)):
        for host in hosts:
            if not host_allowed(host, offer.hosts):
                raise invalid(f"{where}.{field}", f"host {host!r} is not one probes may target; {_ADD_HOST}")
    return probe


def registration_probes(
    raw: list[Any] | None, offer: ProbeOffer, *, service: str, environment: str, versions: Sequence[str]
) -> tuple[ProbeSpec, ...]:
    """The probes a registration asks for (see the module); :class:`Problem` (400) when unfit."""
    if raw is None:
        probes, skipped = applying_probes(
            offer.probes, service=service, environment=environment, versions=versions
        )
        for reason in skipped:  # a 400 would refuse every registration of the service
            log.warning("registration of %s in %s: %s", service, environment, reason)
        return probes
    configured = {p.name: p for p in offer.probes}
    chosen: list[ProbeSpec] = []
    # Each check name made so far and its probe: a set, not a scan of the earlier probes.
    made: dict[str, ProbeSpec] = {}
    for index, item in enumerate(raw):
        where = f"probes[{index}]"
        if isinstance(item, str):
            if item not in configured:
                raise invalid(where, f"no configured probe {item!r}; configured: {offer.names()}")
            probe = _configured(configured[item], where, versions, environment, service)
        elif isinstance(item, dict):
            probe = _inline(item, where, offer, versions, environment, service)
        else:
            raise invalid(where, "must be a configured probe's name or a probe object")
        names = (check_name(probe), latency_check_name(probe))
        for name in names:
            if (same := made.get(name)) is not None:
                raise invalid(
                    where,
                    f"probes {probe.name!r} and {same.name!r} both make check {name}; rename one (names "
                    "must differ in more than - and _, and none may be another's name with _latency added)",
                )
        made |= dict.fromkeys(names, probe)
        chosen.append(probe)
    return tuple(chosen)


def checked_preview(
    preview_url: str | None, strategy: Strategy, probes: Sequence[ProbeSpec], offer: ProbeOffer
) -> str | None:
    """The preview address when it fits the deployment (see the module); :class:`Problem` otherwise."""
    if preview_url is None:
        return None
    if strategy is not Strategy.BLUEGREEN:
        raise invalid("preview_url", "only a bluegreen deployment has a preview; set strategy: bluegreen")
    try:
        parts = urlsplit(preview_url)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError:  # "http://[oops": the client's words, a 400 not a 500
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("preview_url", f"invalid {redact_url(preview_url)!r}; use an http:// or https:// URL")
    if "@" in parts.netloc:
        raise invalid("preview_url", _NO_USERINFO)
    if not probes:
        raise invalid(
            "preview_url",
            "a preview is judged by its probes, and there are none: name or send some in probes, or "
            "configure probes that apply to this service",
        )
    host = parts.hostname.lower()
    if not (all(host in p.allowed_hosts() for p in probes) or host_allowed(host, offer.hosts)):
        raise invalid("preview_url", f"host {host!r} is not one the probes may target; {_ADD_HOST}")
    if parts.scheme == "http":
        _plain_http_preview(probes)
    return preview_url


def _plain_http_preview(probes: Sequence[ProbeSpec]) -> None:
    """Refuse an http:// preview for probes that need https: one whose own URL is https (the green
    side would be judged over a channel the live one never uses), or one carrying header values
    (secrets, which a preview gets over https only)."""
    for probe in probes:
        if urlsplit(probe.url).scheme.lower() == "https":
            raise invalid(
                "preview_url",
                f"probe {probe.name!r} requests https but the preview is plain http; use the "
                "preview's https:// address",
            )
        if probe.headers:
            raise invalid(
                "preview_url",
                f"probe {probe.name!r} sends header values, which never go over plain http to a "
                "preview; use the preview's https:// address",
            )
