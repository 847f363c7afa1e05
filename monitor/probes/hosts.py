"""Host rules of probes: which hosts a probe URL (or a blue/green preview) may name.

Pure: names in, a yes or no out. A pattern is an exact host name (``checkout.example.com``) or
``*.suffix`` (``*.preview.example.com``), which matches any host strictly under ``suffix``, not
``suffix`` itself: a wildcard grants the sub-hosts someone delegated, never the parent domain.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["host_allowed"]


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
