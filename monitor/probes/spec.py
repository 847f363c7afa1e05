"""Helpers of a probe's definition (:class:`monitor.models.ProbeSpec`): URL hosts, placeholders, paths."""

from __future__ import annotations

from urllib.parse import urlsplit

from monitor.models import (
    PROBE_PLACEHOLDERS,
    JsonScalar,
    ProbeSpec,
    template_fields,
    template_host,
    template_problem,
)
from monitor.redact import redact_url

__all__ = [
    "PARSE_FIX",
    "JsonScalar",
    "ProbeSpec",
    "json_path",
    "parse_problem",
    "template_host",
    "template_problem",
    "unknown_placeholders",
    "url_host",
    "url_origin",
]


def unknown_placeholders(url: str) -> list[str]:
    """The placeholders of ``url`` other than exactly service, version and environment (``[]``:
    none), as written between the braces: a format spec or conversion makes one unknown
    (``version:>9``, ``version!r``). Never raises; :func:`template_problem` also names lone braces."""
    return sorted({name for name in template_fields(url) if name not in PROBE_PLACEHOLDERS})


def url_host(url: str) -> str:
    """The lower-cased host of a rendered URL (empty when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def url_origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of a rendered URL, lower-cased, the port made explicit
    (``http://x`` is ``http://x:80``): where a probe's header secrets may go is decided on it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


PARSE_FIX = "write scheme://host[:port]/path, the host in [] only when an IPv6 address"


def parse_problem(url: str) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``url``, a template rendered with stand-in values, cannot be parsed as
    a URL's origin (``http://[oops/``, a port that is no number); None when it can. The template
    itself must have passed :func:`template_problem`. The problem shows ``url`` redacted."""
    try:
        url_origin(ProbeSpec("probe", url).render("s", "v", "e"))
    except ValueError:
        return f"{redact_url(url)!r} cannot be parsed as a URL", PARSE_FIX
    return None


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
