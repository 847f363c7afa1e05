"""Secrets never survive redaction; ordinary lines pass through unchanged."""

from __future__ import annotations

import pytest

from monitor.logs.redact import REDACTED, redact


@pytest.mark.parametrize(
    ("line", "secret", "kept"),
    [
        ("GET /api Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGci", "Bearer "),
        ("proxy auth Basic dXNlcjpodW50ZXIy failed", "dXNlcjpo", "Basic "),
        ("connecting to postgres://app:hunter2@db:5432/orders", "hunter2", "postgres://app:"),
        ("login failed password=s3cr3t! user=bob", "s3cr3t", "user=bob"),
        ("config token: ghp_abcdefghijklmnop loaded", "ghp_abc", "loaded"),
        ("oauth client_secret=zzz999&grant=code", "zzz999", "grant=code"),
        ("X-Api-Key = AKIAEXAMPLE", "AKIAEXAMPLE", "X-Api-Key"),
    ],
)
def test_secrets_are_replaced(line: str, secret: str, kept: str) -> None:
    redacted = redact(line)
    assert secret not in redacted and REDACTED in redacted and kept in redacted


@pytest.mark.parametrize(
    "line",
    [
        "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2",
        "PacketResponder 1 for block blk_38865049064139660 terminating",
        "GET https://example.com/orders?id=7 200",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0",
    ],
)
def test_lines_without_secrets_are_unchanged(line: str) -> None:
    assert redact(line) == line


def test_redaction_is_idempotent() -> None:
    once = redact("password=abc token=def")
    assert redact(once) == once
