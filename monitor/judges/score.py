"""Scoring: check results of one look become a verdict status, a score and a summary line.

Rules, in order:

1. a critical regression check that is ``high``/``low`` fails the run at once (its test is
   valid at any look, so there is nothing to wait for);
2. a weighted score below ``marginal_score`` fails the run at once;
3. a required check that errored (backend failure) makes the run ``inconclusive``: never
   ``pass``;
4. before the last look the run is ``running``, unless early pass is on, the minimum duration
   has passed and every required check is conclusively within tolerance;
5. at the last look, a required check without enough data makes the run ``inconclusive``;
   otherwise the score decides: ``pass`` at or above ``pass_score``, else ``marginal``.

Optional checks (e.g. CPU) may be missing or erroring without harm; traffic checks and
regression checks of weight 0 that are not critical never count in the score, but a traffic
check's missing data does make a run inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.judges.format import fmt_duration
from monitor.models import CheckPurpose, CheckResult, Classification, VerdictStatus
from monitor.profiles import CheckSpec, DecisionPolicy

_BAD = (Classification.HIGH, Classification.LOW)


@dataclass(frozen=True)
class Decision:
    """A verdict status with its score and one-line summary."""

    status: VerdictStatus
    score: float
    summary: str


def score_of(results: Sequence[CheckResult]) -> float:
    """Weighted share (0-100) of scored regression checks that pass."""
    scored = [
        r
        for r in results
        if r.purpose is CheckPurpose.REGRESSION
        and r.weight > 0
        and r.classification in (Classification.PASS, *_BAD)
    ]
    total = sum(r.weight for r in scored)
    if total == 0:
        return 0.0
    passed = sum(r.weight for r in scored if r.classification is Classification.PASS)
    return round(100.0 * passed / total, 1)


def decide(
    results: Sequence[CheckResult],
    specs: Mapping[str, CheckSpec],
    policy: DecisionPolicy,
    *,
    last_look: bool,
    elapsed_s: float,
) -> Decision:
    """Apply the rules of this module's docstring to the results of one look."""
    score = score_of(results)
    regression = [r for r in results if r.purpose is CheckPurpose.REGRESSION]
    critical_bad = [r for r in regression if r.critical and r.classification in _BAD]
    after = f"after {fmt_duration(elapsed_s)}"
    if critical_bad:
        worst = critical_bad[0]
        return Decision(VerdictStatus.FAIL, score, f"fail {after}: {worst.name}: {worst.message}")
    # A regression check with no weight and not critical is informational: it never fails a run.
    any_bad = [r for r in regression if r.classification in _BAD and (r.critical or r.weight > 0)]
    if any_bad and score < policy.marginal_score:
        names = ", ".join(r.name for r in any_bad)
        return Decision(VerdictStatus.FAIL, score, f"fail {after}: score {score:g} ({names} regressed)")
    required = [r for r in results if not specs[r.name].optional]
    # An optional check that errored is treated like one without data: shown, not decisive.
    errors = [r for r in required if r.classification is Classification.ERROR]
    if errors:
        first = errors[0]
        return Decision(VerdictStatus.INCONCLUSIVE, score, f"inconclusive: {first.name}: {first.message}")
    missing = [r for r in required if r.classification is Classification.NODATA]
    if not last_look:
        settled = all(r.conclusive and r.classification is Classification.PASS for r in required)
        if policy.early_pass and settled and not missing and elapsed_s >= policy.min_duration_s:
            return Decision(
                VerdictStatus.PASS,
                score,
                f"pass {after}: every check within tolerance (score {score:g})",
            )
        return Decision(VerdictStatus.RUNNING, score, f"running {after}: score {score:g} so far")
    if missing:
        first = missing[0]
        return Decision(VerdictStatus.INCONCLUSIVE, score, f"inconclusive: {first.name}: {first.message}")
    if any_bad or score < policy.pass_score:
        names = ", ".join(r.name for r in any_bad) or "checks"
        return Decision(
            VerdictStatus.MARGINAL, score, f"marginal {after}: score {score:g} ({names} regressed)"
        )
    return Decision(VerdictStatus.PASS, score, f"pass {after}: no check beyond tolerance (score {score:g})")
