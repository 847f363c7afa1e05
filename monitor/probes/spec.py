"""A probe's definition: what to request, from which hosts, and what its answer must look like."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from urllib.parse import urlsplit

JsonScalar = str | int | float | bool | None

PLACEHOLDERS = frozenset({"service", "version", "environment"})


@dataclass(frozen=True)
class ProbeSpec:
    """One smoke probe. ``url`` may hold ``{service}``, ``{version}`` and ``{environment}``.

    ``headers`` hold secrets read from files: their values never appear in a repr, a result or a log.
    """

    name: str
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    expected_status: tuple[int, ...] = (200,)
    body_contains: str | None = None
    json_equals: tuple[tuple[str, JsonScalar], ...] = ()
    json_exists: tuple[str, ...] = ()
    max_latency_s: float | None = None
    timeout_s: float = 5.0
    interval_s: float = 10.0
    count: int = 3
    fail_after: int = 3  # consecutive failed attempts that fail the probe
    hosts: tuple[str, ...] = ()  # the hosts the rendered URL may name; empty: the template's own host
    redirect_hosts: tuple[str, ...] = ()  # other hosts a redirect may lead to

    def allowed_hosts(self) -> frozenset[str]:
        """The hosts this probe may request: ``hosts``, else the URL template's literal host."""
        if self.hosts:
            return frozenset(h.lower() for h in self.hosts)
        host = template_host(self.url)
        return frozenset({host.lower()}) if host and "{" not in host else frozenset()

    def render(self, service: str, version: str, environment: str) -> str:
        """The URL for one deployment."""
        return self.url.format(service=service, version=version, environment=environment)


def template_host(url: str) -> str:
    """The host part of a URL template (placeholders left as they are; no port, no user info)."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")]
    return re.sub(r":[0-9]*$", "", netloc)


def unknown_placeholders(url: str) -> list[str]:
    """The placeholders of ``url`` other than service, version and environment (``[]``: none)."""
    names = [name for _, name, _, _ in string.Formatter().parse(url) if name is not None]
    return sorted({n for n in names if n not in PLACEHOLDERS})


def url_host(url: str) -> str:
    """The lower-cased host of a rendered URL (empty when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def json_path(document: object, path: str) -> tuple[bool, object]:
    """``(found, value)`` at a dotted path such as ``status`` or ``items.0.id`` (digits index lists)."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current
