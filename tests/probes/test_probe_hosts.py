"""host_allowed: exact names case-insensitively, "*.suffix" strictly under suffix, nothing by default."""

from __future__ import annotations

import pytest

from monitor.probes.hosts import host_allowed


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("checkout.example.com", ["checkout.example.com"], True),
        ("Checkout.Example.COM", ["checkout.example.com"], True),
        ("checkout.example.com", ["CHECKOUT.example.com"], True),
        ("checkout.example.com", ["cart.example.com"], False),
        ("a.preview.example.com", ["*.preview.example.com"], True),
        ("a.b.preview.example.com", ["*.preview.example.com"], True),
        # The wildcard grants sub-hosts only, not the parent domain, nor a look-alike name.
        ("preview.example.com", ["*.preview.example.com"], False),
        ("evilpreview.example.com", ["*.preview.example.com"], False),
        ("preview.example.com.evil.org", ["*.preview.example.com"], False),
        ("checkout.example.com", [], False),
        ("", ["*.example.com"], False),
        ("checkout.example.com.", ["checkout.example.com"], True),
        ("127.0.0.1", ["cart.example.com", "127.0.0.1"], True),
    ],
)
def test_host_allowed(host: str, patterns: list[str], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed
