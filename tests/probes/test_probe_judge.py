"""The pure probe rule: N failed attempts in a row fail the probe; a success starts the count again."""

from __future__ import annotations

import pytest

from monitor.probes.judge import judge_attempts
from monitor.probes.result import ErrorKind, ProbeResult
from monitor.probes.spec import json_path, template_host, unknown_placeholders


def _attempts(pattern: str) -> list[ProbeResult]:
    return [
        ProbeResult(
            "p",
            "http://x/",
            ok=c == "+",
            status=200 if c == "+" else None,
            error=None if c == "+" else ErrorKind.TIMEOUT,
        )
        for c in pattern
    ]


@pytest.mark.parametrize(
    ("pattern", "n", "failed", "evidence"),
    [
        ("", 3, False, 0),
        ("+++", 1, False, 0),
        ("--+--+--", 3, False, 0),
        ("+---", 3, True, 3),
        ("-+-----", 2, True, 2),
        ("-", 1, True, 1),
    ],
)
def test_fails_on_the_first_run_of_n(pattern: str, n: int, failed: bool, evidence: int) -> None:
    outcome = judge_attempts(_attempts(pattern), n)
    assert (outcome.failed, len(outcome.evidence), outcome.attempts) == (failed, evidence, len(pattern))


def test_n_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        judge_attempts([], 0)


def test_json_paths() -> None:
    doc = {"status": "ok", "items": [{"id": 7}], "n": None}
    assert json_path(doc, "status") == (True, "ok")
    assert json_path(doc, "items.0.id") == (True, 7)
    assert json_path(doc, "n") == (True, None)
    assert json_path(doc, "items.1") == (False, None)
    assert json_path(doc, "items.x") == (False, None)


def test_template_hosts_and_placeholders() -> None:
    assert template_host("https://user:pw@Api.example:8443/x") == "Api.example"
    assert template_host("http://{service}.svc:80/{version}") == "{service}.svc"
    assert template_host("http://[::1]:8080/") == "::1"
    assert unknown_placeholders("http://{service}/{tenant}/{version}") == ["tenant"]
