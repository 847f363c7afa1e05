"""The probe judges: the fail-after rule on attempts, and the answer-time comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.checks.probes import latency_check_name, probe_checks
from monitor.judges.probes import judge_probe, judge_probe_latency, latency_data, latency_min_p
from monitor.models import Classification, ProbeSpec, SamplesData, Signal
from monitor.probes.result import ErrorKind, ProbeResult
from monitor.stats import compare_samples

PROBE = ProbeSpec("health", "https://checkout.example.com/healthz", count=5, fail_after=3)
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _ok(i: int, latency_s: float = 0.05, role: str = "canary") -> ProbeResult:
    return ProbeResult(
        "health",
        PROBE.url,
        True,
        200,
        latency_s,
        '{"status":"ok"}',
        at=T0 + timedelta(seconds=10 * i),
        role=role,
    )


def _bad(i: int) -> ProbeResult:
    return ProbeResult(
        "health",
        PROBE.url,
        False,
        503,
        0.2,
        "upstream down",
        "status 503, expected 200",
        at=T0 + timedelta(seconds=10 * i),
    )


def test_three_failures_in_a_row_fail_the_probe_with_their_evidence() -> None:
    rule = probe_checks([PROBE])[0].spec
    attempts = [_ok(0), _bad(1), _bad(2), _bad(3)]
    result = judge_probe(rule, PROBE, attempts)
    assert result.classification is Classification.HIGH and result.conclusive and result.critical
    assert result.signal is Signal.PROBE and result.name == "probe_health"
    assert "failed 3 attempts in a row" in result.message and "status 503" in result.message
    assert [e.detail for e in result.evidence] == [
        f"{PROBE.url}: status 503 in 0.200 s: status 503, expected 200; body: upstream down"
    ] * 3
    assert result.canary_value == 3 / 4  # the share of failed attempts so far


def test_failures_that_are_not_consecutive_pass_once_every_attempt_is_made() -> None:
    rule = probe_checks([PROBE])[0].spec
    attempts = [_bad(0), _ok(1), _bad(2), _bad(3), _ok(4)]
    result = judge_probe(rule, PROBE, attempts)
    assert result.classification is Classification.PASS and result.conclusive
    assert "2 of 5 attempts" in result.message and "3 failed, never 3 in a row" in result.message
    assert len(result.evidence) == 3  # the failed attempts stay visible


def test_a_probe_that_ends_failing_is_no_pass() -> None:
    """ok, ok, ok, 503, 503: never three in a row, but what answers now is broken."""
    rule = probe_checks([PROBE])[0].spec
    result = judge_probe(rule, PROBE, [_ok(0), _ok(1), _ok(2), _bad(3), _bad(4)])
    assert result.classification is Classification.NODATA and not result.conclusive
    assert "ended failing: its last 2 of 5 attempts failed" in result.message
    assert len(result.evidence) == 2


def test_before_every_attempt_is_made_the_probe_has_no_verdict() -> None:
    rule = probe_checks([PROBE])[0].spec
    result = judge_probe(rule, PROBE, [_ok(0), _bad(1)])
    assert result.classification is Classification.NODATA and not result.conclusive
    assert "2 of 5 attempts made" in result.message


def test_tls_and_dns_errors_are_named_in_the_evidence() -> None:
    probe = ProbeSpec("health", PROBE.url, count=1, fail_after=1)
    rule = probe_checks([probe])[0].spec
    tls = ProbeResult(
        "health", PROBE.url, False, error=ErrorKind.TLS, detail="TLS: certificate verify failed", at=T0
    )
    result = judge_probe(rule, probe, [tls])
    assert result.classification is Classification.HIGH
    assert "TLS: certificate verify failed" in result.message
    assert "TLS: certificate verify failed" in result.evidence[0].detail


def test_latency_min_p_is_what_the_rank_test_gives_two_samples_apart() -> None:
    latency = probe_checks([PROBE], [PROBE.name])[1].spec
    five = SamplesData((0.1, 0.2, 0.3, 0.4, 0.5))
    later = SamplesData((0.6, 0.7, 0.8, 0.9, 1.0))
    # The same test the judge runs, on the most extreme data: both must agree, or the alpha split
    # (monitor.stats.multiple.allocate) would leave out a check that could still reject.
    apart = compare_samples(later.values, five.values, min_points=1).p_value
    assert latency_min_p(latency, five, five) == apart
    # The normal approximation of the rank-sum test at 5 and 5 (continuity-corrected z = 2.51)
    # is close to the exact minimum 1/C(10, 5) = 1/252: both below 0.01.
    assert apart is not None and 1 / 252 < apart < 0.01
    three = SamplesData((0.1, 0.2, 0.3))
    assert latency_min_p(latency, three, three) == 1.0  # below the 5 answers a side it needs


def test_a_clearly_slower_new_version_fails_the_latency_check() -> None:
    latency = probe_checks([PROBE], [PROBE.name])[1].spec
    assert latency.name == latency_check_name(PROBE) == "probe_health_latency"
    baseline = latency_data([_ok(i, 0.050 + 0.001 * i, "baseline") for i in range(8)], PROBE)
    slower = latency_data([_ok(i, 0.200 + 0.001 * i) for i in range(8)], PROBE)
    # Every canary answer is slower than every baseline answer: p = 1 / C(16, 8) < 0.01, and the
    # shift (+0.15 s) is far beyond the 25 % of the baseline median (0.0135 s) allowed.
    result = judge_probe_latency(latency, slower, baseline, 0.01)
    assert result.classification is Classification.HIGH
    same = latency_data([_ok(i, 0.050 + 0.001 * i) for i in range(8)], PROBE)
    assert judge_probe_latency(latency, same, baseline, 0.01).classification is Classification.PASS


def test_answer_times_keep_slow_answers_and_timeouts_but_not_wrong_statuses() -> None:
    slow = ProbeResult("health", PROBE.url, False, 200, 2.5, "", "latency 2.500 s above 1 s", at=T0)
    timeout = ProbeResult("health", PROBE.url, False, latency_s=4.99, error=ErrorKind.TIMEOUT, at=T0)
    refused = ProbeResult("health", PROBE.url, False, error=ErrorKind.CONNECTION_REFUSED, at=T0)
    # A fast 503 says nothing of speed; a timeout is at least the timeout (5 s).
    assert latency_data([_ok(0, 0.05), _bad(1), slow, timeout, refused], PROBE).values == (0.05, 2.5, 5.0)
