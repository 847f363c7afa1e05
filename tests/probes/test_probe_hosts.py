"""host_allowed: exact names case-insensitively, "*.suffix" strictly under suffix, nothing by default."""

from __future__ import annotations

import pytest

from monitor.probes.hosts import host_allowed, host_pattern_problem, inline_problem


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


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("cart.example.com", None),
        ("*.preview.example.com", None),
        ("127.0.0.1", None),
        ("::1", None),
        ("localhost", None),
        ("*.com", "'*.com' allows every host under a top-level name"),
        ("a.*.example.com", "'a.*.example.com' has a '*' that is not a leading '*.'"),
        ("*", "'*' has a '*' that is not a leading '*.'"),
        ("cart.example.com/path", "'cart.example.com/path' is not a host name"),
        ("*.-bad.example.com", "'*.-bad.example.com' is not '*.' and a host name"),
    ],
)
def test_host_pattern_problem(pattern: str, problem: str | None) -> None:
    assert host_pattern_problem(pattern) == problem


@pytest.mark.parametrize(
    ("url", "words"),
    [
        # The config's own wording (monitor.models.template_problem), not "unknown placeholder".
        (
            "https://status.example.com/{version:>9}",
            "placeholder {version:>9} has a format spec, conversion or index; write {version}",
        ),
        ("https://status.example.com/{version!r}", "has a format spec, conversion or index; write {version}"),
        ("https://status.example.com/a}b", "a lone '}'; write }} for a literal brace"),
        ("https://status.example.com/{", "a lone '{'; write {{ for a literal brace"),
        ("https://{service}.example.com/", "the URL's host is templated; write the host itself"),
        ("ftp://status.example.com/", "use an http:// or https:// URL"),
        # What the client could never request: refused as input, not made into failed attempts.
        ("http://[oops/x", "'http://[oops/x' cannot be parsed as a URL; write scheme://host[:port]/path"),
        ("http://status.example.com:99999/", "cannot be parsed as a URL"),
        ("http://[oops/{version}?token=t0k3n", "'http://[oops/{version}?token=***' cannot be parsed"),
    ],
)
def test_a_probe_given_by_its_url_alone_reads_as_the_configs(url: str, words: str) -> None:
    problem = inline_problem(url)
    assert problem is not None and words in problem, problem


def test_a_fit_url_alone_has_no_problem() -> None:
    assert inline_problem("https://status.example.com/{service}/{version}?env={environment}") is None
