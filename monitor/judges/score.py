"""Scoring: check results of one look become a verdict status, a score and a summary line.

Rules, in order:

1. a critical regression check that is ``high``/``low`` fails the run at once (its test is
   valid at any look, so there is nothing to wait for);
2. a weighted score below ``marginal_score`` fails the run at once;
3. a required check that errored (backend failure) makes the run ``inconclusive``: never
   ``pass``;
4. before the last look the run is ``running``, unless early pass is on, the minimum duration
   has passed, no weighted check regressed (an optional one included: the last look would call
   the run marginal) and every required check is conclusively within tolerance;
5. at the last look, a required check without enough data makes the run ``inconclusive``;
   otherwise the score decides: ``pass`` at or above ``pass_score``, else ``marginal``;
6. a pass states what it rules out: each required critical counts or distribution check's
   bound (the largest regression still compatible with the data, :class:`monitor.models.Bound`).
   When a bound reaches past the environment's harm limit (:class:`HarmPolicy`) the pass is not
   earned: production makes the run ``inconclusive`` with the minutes it would take at this
   traffic to rule the harm out; lower environments pass with that as a warning.

Optional checks (e.g. CPU) may be missing or erroring without harm; traffic checks and
regression checks of weight 0 that are not critical never count in the score, but a traffic
check's missing data does make a run inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from monitor.judges.format import fmt_duration, fmt_ratio
from monitor.models import Bound, CheckPurpose, CheckResult, Classification, ComparisonKind, VerdictStatus
from monitor.profiles import CheckSpec, DecisionPolicy
from monitor.profiles.model import HarmPolicy, Unproven

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


@dataclass(frozen=True)
class Unruled:
    """A required critical check whose bound reaches past the harm limit."""

    result: CheckResult
    bound: Bound
    limit: float

    def text(self, elapsed_s: float) -> str:
        b = self.bound
        what = f"{self.result.name}{' ' + b.quantity if b.quantity else ''}"
        line = (
            f"cannot yet rule out {what} above {fmt_ratio(self.limit)} baseline "
            f"(estimate {fmt_ratio(b.estimate)}, bound {fmt_ratio(b.effect)} at {b.confidence:.0%})"
        )
        minutes = minutes_needed(b, self.limit, elapsed_s)
        if minutes is None:
            return line + "; needs more traffic (too few events to bound it)"
        more = max(1, math.ceil(minutes))
        return line + f"; needs about {more} more minutes at this traffic if the versions are alike"


def minutes_needed(bound: Bound, limit: float, elapsed_s: float) -> float | None:
    """More minutes of the same traffic until alike versions would have their bound within ``limit``.

    A bound's distance from its estimate shrinks like the square root of the data: were the
    versions alike, the bound would sit ``alike_width`` above 1 on the log scale now, and at
    ``log(limit)`` once the window has grown by their squared ratio. A check with an absolute
    floor may instead rule harm out once the canary's own rate is bounded below it
    (``floor_growth``); the sooner of the two counts. None when neither can happen.
    """
    growths = [bound.floor_growth]
    if math.isfinite(bound.alike_width) and limit > 1.0:
        growths.append((bound.alike_width / math.log(limit)) ** 2)
    growth = min(growths)
    if not math.isfinite(growth):
        return None
    return max(0.0, elapsed_s * (growth - 1.0) / 60.0)


def unruled(
    results: Sequence[CheckResult], specs: Mapping[str, CheckSpec], harm: HarmPolicy
) -> list[Unruled]:
    """Required critical checks whose bound reaches past the environment's harm limit."""
    limits = {ComparisonKind.COUNTS: harm.counts, ComparisonKind.DISTRIBUTION: harm.latency}
    found: list[Unruled] = []
    for r in results:
        spec, bound = specs[r.name], r.bound
        limit = limits.get(r.comparison)
        if not spec.critical or spec.optional or bound is None or limit is None or bound.negligible:
            continue
        if bound.effect > limit:
            found.append(Unruled(r, bound, limit))
    return found


def rules_out(results: Sequence[CheckResult], specs: Mapping[str, CheckSpec]) -> str:
    """What a pass rules out: each required critical check's bound, e.g. ``http_latency p99 above 1.08x``."""
    parts: list[str] = []
    confidence = 0.0
    for r in results:
        spec, b = specs[r.name], r.bound
        if not spec.critical or spec.optional or b is None or not math.isfinite(b.effect):
            continue
        confidence = b.confidence
        what = f"{r.name}{' ' + b.quantity if b.quantity else ''}"
        parts.append(f"{what} negligible" if b.negligible else f"{what} above {fmt_ratio(b.effect)}")
    return f"; rules out {', '.join(parts)} ({confidence:.0%})" if parts else ""


def decide(
    results: Sequence[CheckResult],
    specs: Mapping[str, CheckSpec],
    policy: DecisionPolicy,
    *,
    last_look: bool,
    elapsed_s: float,
    harm: HarmPolicy | None = None,
    unneeded: Collection[str] = (),
) -> Decision:
    """Apply the rules of this module's docstring to the results of one look.

    ``unneeded`` names checks whose lack of data neither holds a verdict back nor makes it
    inconclusive (a blue/green preview's metric checks, before any traffic reaches it); their
    errors and regressions count as any check's.
    """
    harm = harm or HarmPolicy()
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
    awaited = [r for r in required if not (r.name in unneeded and r.classification is Classification.NODATA)]
    missing = [r for r in awaited if r.classification is Classification.NODATA]
    if not last_look:
        # Nothing awaited (a preview without probes, say) settles nothing: no early pass on nothing.
        # A check that regressed, even an optional one, holds an early pass back: the last look
        # would call the run marginal, and an early pass must not say less than it would.
        settled = (
            bool(awaited)
            and not any_bad
            and all(r.conclusive and r.classification is Classification.PASS for r in awaited)
        )
        if policy.early_pass and settled and not missing and elapsed_s >= policy.min_duration_s:
            return Decision(
                VerdictStatus.PASS,
                score,
                f"pass {after}: every check within tolerance (score {score:g}){rules_out(results, specs)}",
            )
        return Decision(VerdictStatus.RUNNING, score, f"running {after}: score {score:g} so far")
    if missing:
        first = missing[0]
        return Decision(VerdictStatus.INCONCLUSIVE, score, f"inconclusive: {first.name}: {first.message}")
    judged = [r for r in regression if r.classification in (Classification.PASS, *_BAD)]
    if not judged:  # every check without data: nothing was compared, so nothing passed
        empty = next((r for r in regression if r.classification is Classification.NODATA), None)
        reason = f"{empty.name}: {empty.message}" if empty else "no check had data to judge"
        return Decision(
            VerdictStatus.INCONCLUSIVE, score, f"inconclusive {after}: no check had data; {reason}"
        )
    if any_bad or score < policy.pass_score:
        names = ", ".join(r.name for r in any_bad) or "checks"
        return Decision(
            VerdictStatus.MARGINAL, score, f"marginal {after}: score {score:g} ({names} regressed)"
        )
    open_harm = unruled(results, specs, harm)
    if open_harm and harm.unproven is Unproven.INCONCLUSIVE:
        return Decision(
            VerdictStatus.INCONCLUSIVE, score, f"inconclusive {after}: {open_harm[0].text(elapsed_s)}"
        )
    summary = f"pass {after}: no check beyond tolerance (score {score:g}){rules_out(results, specs)}"
    if open_harm:
        summary += f"; warning: {open_harm[0].text(elapsed_s)}"
    return Decision(VerdictStatus.PASS, score, summary)
