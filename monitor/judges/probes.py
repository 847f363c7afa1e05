"""Judging smoke probes (pure): the attempts made so far become a probe check's result.

A probe is a rule, not a test: it fails the run at once when ``fail_after`` attempts in a row
failed (:func:`monitor.probes.judge.judge_attempts`), with those attempts as evidence; it passes
once all of its attempts are made without such a run; until then it has no verdict yet. Its
latency against the old version's, when both were probed, is a samples comparison like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.judges.checks import judge_samples, result_from
from monitor.judges.format import fmt_duration
from monitor.models import (
    CheckResult,
    Classification,
    Comparison,
    ComparisonKind,
    Evidence,
    ProbeSpec,
    SamplesData,
)
from monitor.probes.judge import judge_attempts
from monitor.probes.result import ErrorKind, ProbeResult
from monitor.profiles import CheckSpec
from monitor.stats import compare_samples
from monitor.timeparse import format_time

EVIDENCE_ATTEMPTS = 5  # the failed run's last attempts shown; the count says how many there were


def describe(attempt: ProbeResult) -> str:
    """One attempt in words: what answered (status, time, the assertion it failed) or what went wrong."""
    if attempt.error is not None:
        took = f" after {attempt.latency_s:.3f} s" if attempt.latency_s is not None else ""
        return f"{attempt.detail or attempt.error.value}{took}"
    status = f"status {attempt.status}" if attempt.status is not None else "no status"
    took = f" in {attempt.latency_s:.3f} s" if attempt.latency_s is not None else ""
    failed = f": {attempt.failed}" if attempt.failed else ""
    return f"{status}{took}{failed}"


def _evidence(attempt: ProbeResult) -> Evidence:
    when = format_time(attempt.at) if attempt.at is not None else "attempt"
    detail = f"{attempt.url}: {describe(attempt)}"
    if attempt.body_head:
        detail += f"; body: {attempt.body_head}"
    return Evidence(f"{attempt.role} {when}", None, attempt.latency_s, "s", detail)


def judge_probe(spec: CheckSpec, probe: ProbeSpec, attempts: Sequence[ProbeResult]) -> CheckResult:
    """The result of ``probe``'s check from the new version's ``attempts`` so far (oldest first)."""
    outcome = judge_attempts(attempts, probe.fail_after)
    made = len(attempts)
    failures = sum(not a.ok for a in attempts)
    share = failures / made if made else None
    if outcome.failed:
        run = outcome.evidence
        last = run[-1]
        comparison = Comparison(
            ComparisonKind.COUNTS, Classification.HIGH, None, None, None, None, share, 0.0, float(made),
            conclusive=True,
        )  # fmt: skip
        message = (
            f"probe {probe.name} failed {len(run)} attempts in a row (fail_after {probe.fail_after}): "
            f"last {describe(last)}"
        )
        return result_from(spec, comparison, message, tuple(_evidence(a) for a in run[-EVIDENCE_ATTEMPTS:]))
    trailing = _trailing_failures(attempts)
    if made >= probe.count and trailing:
        # Not a failure by the rule, but the probe ended failing: what answers now is broken, so
        # this is no pass either (a green side that broke after its first answer must not be
        # switched to).
        comparison = Comparison.nodata(ComparisonKind.COUNTS, 0.0, float(made), None, share)
        message = (
            f"probe {probe.name} ended failing: its last {len(trailing)} of {made} attempts failed "
            f"(fewer than fail_after {probe.fail_after}), last {describe(trailing[-1])}; not a pass"
        )
        return result_from(
            spec, comparison, message, tuple(_evidence(a) for a in trailing[-EVIDENCE_ATTEMPTS:])
        )
    if made >= probe.count:
        comparison = Comparison(
            ComparisonKind.COUNTS, Classification.PASS, None, None, None, None, share, 0.0, float(made),
            conclusive=True,
        )  # fmt: skip
        latencies = [a.latency_s for a in attempts if a.ok and a.latency_s is not None]
        slowest = f", slowest {max(latencies):.3f} s" if latencies else ""
        flaky = f"; {failures} failed, never {probe.fail_after} in a row" if failures else ""
        answered = f"{made - failures} of {made} attempts"
        message = f"probe {probe.name} answered as expected in {answered}{slowest}{flaky}"
        failed = tuple(_evidence(a) for a in attempts if not a.ok)[-EVIDENCE_ATTEMPTS:]
        return result_from(spec, comparison, message, failed)
    comparison = Comparison.nodata(ComparisonKind.COUNTS, 0.0, float(made), None, share)
    waited = f"{probe.count - made} more due every {fmt_duration(probe.interval_s)}" if made else "none yet"
    message = f"probe {probe.name}: {made} of {probe.count} attempts made ({waited})"
    return result_from(spec, comparison, message)


def _trailing_failures(attempts: Sequence[ProbeResult]) -> list[ProbeResult]:
    """The failed attempts at the end, after the last success."""
    run: list[ProbeResult] = []
    for attempt in attempts:
        run = [] if attempt.ok else [*run, attempt]
    return run


def latency_data(attempts: Sequence[ProbeResult], probe: ProbeSpec) -> SamplesData:
    """The answer times to compare: every answer with an expected status (one that failed a body
    or latency assertion still took the time it took), and a timeout as the timeout itself (a
    lower bound, the slowest of all). A wrong status says little of speed (a fast 500), and a
    connection that failed has no answer time."""
    times: list[float] = []
    for a in attempts:
        if a.status is not None and a.status in probe.expected_status and a.latency_s is not None:
            times.append(a.latency_s)
        elif a.error is ErrorKind.TIMEOUT:
            times.append(max(a.latency_s or 0.0, probe.timeout_s))
    return SamplesData(tuple(times))


def latency_min_p(spec: CheckSpec, canary: SamplesData, baseline: SamplesData) -> float:
    """The smallest one-sided p-value the rank test (:func:`monitor.stats.compare_samples`, a
    normal approximation) can give on these numbers of answers: its p-value for two samples that do
    not overlap at all. 1 below ``min_data`` answers a side.
    """
    n, m = len(canary.values), len(baseline.values)
    if not spec.decisive or min(n, m) < spec.min_data:
        return 1.0
    apart = compare_samples(
        [float(m + i) for i in range(n)], [float(i) for i in range(m)], direction=spec.direction, min_points=1
    )
    return apart.p_value if apart.p_value is not None else 1.0


def judge_probe_latency(
    spec: CheckSpec, canary: SamplesData, baseline: SamplesData, alpha: float
) -> CheckResult:
    """The new version's probe latencies against the old version's: a samples comparison.

    Each attempt is its own observation (``min_data`` of them per version), so the rank test runs
    on them directly rather than on batch means as for a scraped series.
    """
    return judge_samples(spec, canary, baseline, alpha, batched=False)
