"""HMAC-SHA256 signatures of webhook deliveries, and their verification for receivers.

Each delivery carries ``X-Monitor-Timestamp`` (Unix seconds) and ``X-Monitor-Signature:
v1=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` under the webhook's shared secret. A
receiver recomputes it with :func:`verify`, compares in constant time, and rejects timestamps
outside its replay window (5 minutes by default), so a captured delivery cannot be replayed
later. ``Idempotency-Key`` lets it drop the duplicates that retries may produce.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Monitor-Signature"
TIMESTAMP_HEADER = "X-Monitor-Timestamp"
REPLAY_WINDOW_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``v1=<hex>`` signature of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, now_s: float, window_s: float = REPLAY_WINDOW_S
) -> bool:
    """True when ``signature`` matches and ``timestamp`` lies within ``window_s`` of ``now_s``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now_s - sent) > window_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)
