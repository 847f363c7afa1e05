"""Which configured probes a deployment gets: those whose scope (services, environments) takes it
and whose URL names one of their own hosts for each of its versions (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.models import ProbeSpec
from monitor.probes.spec import url_host


def unlisted_host(
    probe: ProbeSpec, versions: Sequence[str], env: str, service: str
) -> tuple[str, str] | None:
    """The first host (and the version naming it) of ``probe``'s URL rendered for ``versions``
    that its hosts do not list: the runner would refuse every attempt there."""
    for version in versions:
        host = url_host(probe.render(service, version, env))
        if host not in probe.allowed_hosts():
            return host, version
    return None


def applying_probes(
    probes: Sequence[ProbeSpec], *, service: str, environment: str, versions: Sequence[str]
) -> tuple[tuple[ProbeSpec, ...], tuple[str, ...]]:
    """The probes of ``probes`` that apply to a deployment (their ``services``, ``environments``)
    and whose URL names one of their hosts for every version; and why each probe in scope but
    left out for its host was, in words with the fix. Such a probe would end every attempt
    ``host_not_allowed`` and fail a good deploy; its host depends on the service, so the config
    cannot refuse it when it is read."""
    kept: list[ProbeSpec] = []
    skipped: list[str] = []
    for probe in probes:
        if not probe.applies_to(service, environment):
            continue
        if (unlisted := unlisted_host(probe, versions, environment, service)) is None:
            kept.append(probe)
            continue
        host, version = unlisted
        skipped.append(
            f"probe {probe.name!r} left out: its URL names host {host!r} for {service} version "
            f"{version}, which its hosts do not list; add the host to its hosts in the config, or "
            "narrow its services"
        )
    return tuple(kept), tuple(skipped)
