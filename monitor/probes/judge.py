"""The probe rule, pure: a probe failing N attempts in a row has failed, those attempts its evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.probes.result import ProbeResult


@dataclass(frozen=True)
class ProbeOutcome:
    """Whether a probe failed and, if so, the attempts that failed it (status, timing, body head)."""

    failed: bool
    evidence: tuple[ProbeResult, ...] = ()
    attempts: int = 0


def judge_attempts(attempts: Sequence[ProbeResult], fail_after: int) -> ProbeOutcome:
    """Failed at the first run of ``fail_after`` consecutive failed attempts; that run is the evidence.

    A success in between starts the count again: one flaky answer does not fail a deploy.
    """
    if fail_after < 1:
        raise ValueError(f"fail_after must be at least 1, not {fail_after}")
    run: list[ProbeResult] = []
    for attempt in attempts:
        run = [] if attempt.ok else [*run, attempt]
        if len(run) >= fail_after:
            return ProbeOutcome(True, tuple(run), len(attempts))
    return ProbeOutcome(False, (), len(attempts))
