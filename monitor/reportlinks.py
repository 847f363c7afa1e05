"""Signed, expiring links to a deployment's report that a browser opens without a token.

A link carries ``exp`` (Unix seconds when it stops working) and ``sig``, the hex
HMAC-SHA256 of ``"<subject>.<exp>"`` under the daemon's report-link key: the subject is a
deployment id (its report, verdict, deployment and events documents, read-only) or
:data:`INDEX_SUBJECT` (the deployments index page). Pages, webhooks, Grafana annotations and the
gate print such links; the API's authentication accepts them in place of a bearer token for
those GET routes only (docs/security.md). Rotating the key file invalidates every link made
with the old key.

Pure: no I/O here, so the channels, the API and the commands share one implementation.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode

DEFAULT_LIFETIME_S = 7 * 86400.0
MIN_KEY_CHARS = 32  # `openssl rand -hex 32` writes 64
INDEX_SUBJECT = "index"
INDEX_PATH = "/api/v1/deployments/index"  # the page an index link opens
EXPIRES_PARAMETER, SIGNATURE_PARAMETER = "exp", "sig"
_SIGNATURE_HEX_CHARS = 64


@dataclass(frozen=True)
class LinkKey:
    """The key report links are signed with (never printed) and how long a new link lasts."""

    secret: bytes = field(repr=False)
    lifetime_s: float = DEFAULT_LIFETIME_S


class LinkCheck(StrEnum):
    """What a presented link's ``exp`` and ``sig`` amount to."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # malformed, another subject's, or signed with another key


def signature(key: LinkKey, subject: str, expires_s: int) -> str:
    """The hex HMAC-SHA256 of ``"<subject>.<expires_s>"``."""
    return hmac.new(key.secret, f"{subject}.{expires_s}".encode(), hashlib.sha256).hexdigest()


def link_query(key: LinkKey, subject: str, now_s: float, lifetime_s: float | None = None) -> str:
    """``exp=<unix>&sig=<hex>`` for ``subject``, valid for ``lifetime_s`` (the key's) from ``now_s``."""
    expires_s = int(now_s + (key.lifetime_s if lifetime_s is None else lifetime_s))
    return urlencode({EXPIRES_PARAMETER: expires_s, SIGNATURE_PARAMETER: signature(key, subject, expires_s)})


def report_path(deployment_id: str) -> str:
    """The report's path on the daemon."""
    return f"/api/v1/deployments/{deployment_id}/report"


def signed_report_url(
    base: str, deployment_id: str, key: LinkKey | None, now_s: float, lifetime_s: float | None = None
) -> str:
    """``base`` + the report's path, signed when a ``key`` is configured (else plain, as without links)."""
    url = base.rstrip("/") + report_path(deployment_id)
    return url if key is None else f"{url}?{link_query(key, deployment_id, now_s, lifetime_s)}"


def signed_index_url(base: str, key: LinkKey, now_s: float, lifetime_s: float | None = None) -> str:
    """``base`` + the deployments index page's path, signed for :data:`INDEX_SUBJECT`."""
    return f"{base.rstrip('/')}{INDEX_PATH}?{link_query(key, INDEX_SUBJECT, now_s, lifetime_s)}"


def check_link(key: LinkKey, subject: str, expires: str, presented: str, now_s: float) -> LinkCheck:
    """Whether ``exp``/``sig`` as presented sign ``subject`` and are still in date.

    The signature is compared in constant time before the expiry is looked at, so a forged
    link learns nothing from which answer it gets; only a genuine link is told it expired.
    """
    try:
        expires_s = int(expires) if expires.isascii() and expires.isdigit() else -1
    except ValueError:  # more digits than int() takes
        expires_s = -1
    # compare_digest refuses non-ASCII text (TypeError): such a signature is simply wrong.
    if expires_s < 0 or len(presented) != _SIGNATURE_HEX_CHARS or not presented.isascii():
        return LinkCheck.INVALID
    if not hmac.compare_digest(signature(key, subject, expires_s), presented.lower()):
        return LinkCheck.INVALID
    return LinkCheck.VALID if now_s < expires_s else LinkCheck.EXPIRED


def key_problem(secret: str) -> str | None:
    """Why ``secret`` (a key file's text, stripped) cannot sign links, or None when it can."""
    if not secret:
        return "the key file is empty"
    if len(secret) < MIN_KEY_CHARS:
        return f"the key is {len(secret)} characters; at least {MIN_KEY_CHARS} are needed"
    return None
