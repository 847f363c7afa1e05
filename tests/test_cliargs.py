"""URL values of flags and variables: what is refused, and what the message suggests."""

from __future__ import annotations

import argparse

import pytest

from monitor.cliargs import check_url, url_problem, url_type
from monitor.errors import InputError


@pytest.mark.parametrize(
    "value",
    ["http://prometheus:9090", "https://prometheus.example.com/prom", "http://[::1]:9090", "HTTP://p:1",
     "http://user:secret@prometheus:9090"],
)  # fmt: skip
def test_http_urls_with_a_host_are_accepted(value: str) -> None:
    assert url_problem(value) is None
    assert check_url(value, "--prometheus-url") == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("prometheus:9090", "'prometheus:9090' has no scheme; use http://prometheus:9090"),
        ("127.0.0.1:9090", "'127.0.0.1:9090' has no scheme; use http://127.0.0.1:9090"),
        ("//prometheus:9090", "'//prometheus:9090' has no scheme; use http://prometheus:9090"),
        ("http:/prometheus:9090", "'http:/prometheus:9090' has no scheme; use http://prometheus:9090"),
        ("ftp://prometheus", "'ftp://prometheus' has the scheme 'ftp'; use http://prometheus or https://prometheus"),
        ("http://", "'http://' has no host"),
        ("http://prometheus:90x0", "'http://prometheus:90x0' has an invalid port"),
        ("http://prometheus:0", "'http://prometheus:0' has an invalid port"),
        ("http://prometheus:9090 ", "contains whitespace"),
        ("", "'' is empty"),
        # A password never reaches the terminal, even in a URL that is refused.
        ("user:secret@prometheus:9090", "'user:***@prometheus:9090' has no scheme; use http://user:***@prometheus"),
    ],
)  # fmt: skip
def test_the_problem_says_what_to_write(value: str, problem: str) -> None:
    found = url_problem(value)
    assert found is not None and problem in found
    assert "secret" not in found
    with pytest.raises(InputError, match=r"^MONITOR_PROMETHEUS_URL "):
        check_url(value, "MONITOR_PROMETHEUS_URL")


def test_the_argparse_type_says_when_the_value_came_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MONITOR_URL", "monitor:8080")
    with pytest.raises(
        argparse.ArgumentTypeError, match=r"use http://monitor:8080 \(the value of MONITOR_URL\)"
    ):
        url_type("MONITOR_URL")("monitor:8080")
    with pytest.raises(argparse.ArgumentTypeError, match=r"use http://other:8080$"):
        url_type("MONITOR_URL")("other:8080")
