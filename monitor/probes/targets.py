"""Where a deployment's probe is sent: the new version's address and, when it has its own, the old one's.

The new version (role ``canary``) is at the probe's URL rendered with its version, or, for a
blue/green deployment with a preview address, at that URL moved onto the preview's origin (scheme,
host and port; the path and query stay). The old version (role ``baseline``) is probed only when it
answers at another address than the new one: then both are probed alike and their latencies compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from monitor.models import DeploymentSpec, ProbeSpec

CANARY = "canary"
BASELINE = "baseline"
ROLES = (CANARY, BASELINE)


@dataclass(frozen=True)
class ProbeTargets:
    """The URLs one probe requests for one deployment, by role (``baseline`` may be absent)."""

    canary: str
    baseline: str | None = None

    def by_role(self) -> dict[str, str]:
        """``{role: url}`` of the roles probed."""
        return {CANARY: self.canary} | ({BASELINE: self.baseline} if self.baseline else {})


def on_origin(url: str, origin: str) -> str:
    """``url`` with the scheme, host and port of ``origin`` (a preview address such as
    ``https://checkout-preview.example.com:8443``); path, query and fragment stay."""
    target, base = urlsplit(url), urlsplit(origin)
    return urlunsplit((base.scheme, base.netloc, target.path, target.query, target.fragment))


def probe_targets(
    spec: ProbeSpec,
    *,
    service: str,
    environment: str | None,
    version: str,
    baseline_version: str,
    preview_url: str | None = None,
) -> ProbeTargets:
    """The addresses of both versions for ``spec``, as this module's docstring says."""
    env = environment or ""
    canary = spec.render(service, version, env)
    baseline = spec.render(service, baseline_version, env)
    if preview_url:
        canary = on_origin(canary, preview_url)
    return ProbeTargets(canary, baseline if baseline != canary else None)


def deployment_targets(probe: ProbeSpec, spec: DeploymentSpec) -> ProbeTargets:
    """:func:`probe_targets` of a registered deployment."""
    return probe_targets(
        probe, service=spec.service, environment=spec.environment, version=spec.version,
        baseline_version=spec.baseline_version, preview_url=spec.preview_url,
    )  # fmt: skip
