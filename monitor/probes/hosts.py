"""Host rules of probes: which hosts a probe URL (or a blue/green preview) may name, and what a
probe URL must be.

Pure: names in, a yes or no out. A pattern is an exact host name (``checkout.example.com``) or
``*.suffix`` (``*.preview.example.com``), which matches any host strictly under ``suffix``, not
``suffix`` itself: a wildcard grants the sub-hosts someone delegated, never the parent domain.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from monitor.probes.spec import parse_problem, template_host, template_problem, unknown_placeholders
from monitor.redact import redact_url

__all__ = ["INLINE_PREFIX", "host_allowed", "host_pattern_problem", "inline_problem", "url_problem"]


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """Whether ``host`` matches one of ``patterns`` (case-insensitively); no patterns allow nothing."""
    name = host.lower().rstrip(".")
    if not name:
        return False
    for pattern in patterns:
        wanted = pattern.lower().rstrip(".")
        if wanted.startswith("*."):
            suffix = wanted[1:]  # ".example.com": the dot keeps "badexample.com" out
            if name.endswith(suffix) and len(name) > len(suffix):
                return True
        elif name == wanted:
            return True
    return False


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def host_pattern_problem(pattern: str) -> str | None:
    """What is wrong with ``pattern`` as a host rule (None: nothing): it must be a host name, an IP
    address, or ``*.`` and a domain of at least two labels (``*.com`` would allow the world)."""
    name = pattern.lower().rstrip(".")
    if name.startswith("*."):
        suffix = name[2:]
        if not _HOST.match(suffix):
            return f"{pattern!r} is not '*.' and a host name"
        if "." not in suffix:
            return f"{pattern!r} allows every host under a top-level name"
        return None
    if "*" in name:
        return f"{pattern!r} has a '*' that is not a leading '*.'"
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None if _HOST.match(name) else f"{pattern!r} is not a host name"
    return None


def url_problem(url: str, hosts: Sequence[str] = ()) -> tuple[str, str, str] | None:
    """What is wrong with a probe's URL template given its ``hosts`` (None: nothing), as ``(field,
    problem, fix)``: not http(s), an unknown placeholder, or a templated host with no hosts listed."""
    if not url.lower().startswith(("http://", "https://")):
        return "url", f"invalid {redact_url(url)!r}", "use an http:// or https:// URL"
    if unknown := unknown_placeholders(url):
        return "url", f"unknown placeholder {{{unknown[0]}}}", "use {service}, {version} or {environment}"
    if not hosts and "{" in template_host(url):
        return "hosts", "the URL's host is templated", "list the hosts it may name in hosts: [...]"
    return None


INLINE_PREFIX = "smoke-"  # a probe given as a URL alone is smoke-1, smoke-2, ... in the order given


def inline_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a probe given by its URL alone (``--probe URL``), whose only
    host is the URL's own, in words with the fix (None: nothing). The template is checked first,
    as the config's is, so a format spec or a lone brace reads the same wherever it is given; and
    its origin must parse (``http://[oops/x`` is a typo to fix, not three failed attempts)."""
    if (template := template_problem(url)) is not None:
        return "; ".join(template)
    if (problem := url_problem(url)) is None:
        unparsed = parse_problem(url)
        return None if unparsed is None else "; ".join(unparsed)
    field, text, fix = problem
    if field == "hosts":
        fix = "write the host itself, or configure the probe with its hosts: in --config"
    return f"{text}; {fix}"
