"""Settings that would have kept false alarms at or under a target on a service's A/A runs, and the
profile override file that carries them.

Per regression check, from the A/A runs of the one baseline choice the profile is to use (``previous``
unless another alarmed significantly less on the same windows, :func:`chosen_baseline`): the excess of
each run's effect over "no change", in the harmful direction and relative (the profile's own terms:
``allowed_effect`` for increases, ``allowed_decrease`` for checks of decreases). An allowance at or
above the runs' upper ``1 - target`` quantile of that excess would have let at least that share of
them through; an allowance is kept only when the runs show the false-alarm rate under the target
(its exact one-sided 95 % bound), and no minimum duration is suggested (it defers passes, not
alarms). The override file is the whole profile with those allowances, a new name, and the
calibration as comments: a user reviews it and passes it as ``--profile``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from monitor.backtest.calibration import BASELINES, TrialOutcome, judged
from monitor.backtest.result import CheckCalibration, Suggestion
from monitor.models import CheckPurpose, CheckResult, ComparisonKind, Direction, Window
from monitor.profiles import CheckSpec, Profile
from monitor.profiles.model import DecisionPolicy, TrafficPolicy
from monitor.stats.power import false_alarm_interval, upper_quantile

DEFAULT_TARGET = 0.01


def excess(result: CheckResult, spec: CheckSpec) -> float | None:
    """How far ``result``'s effect went past "no change" in the harmful direction, relative (>= 0).

    Counts and distributions: the ratio's excess over 1 (an increase) or shortfall under 1 (a
    decrease); samples: the shift relative to the baseline's value. None without an effect.
    """
    effect = result.effect
    if effect is None or not math.isfinite(effect):
        return None
    if result.comparison is ComparisonKind.SAMPLES:
        base = result.baseline_value
        if not base:
            return None
        ratio = 1.0 + effect / abs(base)
    else:
        ratio = effect
    if spec.direction is Direction.INCREASE:
        return max(0.0, ratio - 1.0)
    if spec.direction is Direction.DECREASE:  # against allowed_decrease: a fall to 1 - d
        return max(0.0, 1.0 - ratio)
    # Either way, one allowance: a fall below 1 / (1 + allowed_effect) counts as much as a rise.
    return max(0.0, ratio - 1.0, 1.0 / ratio - 1.0 if ratio > 0 else math.inf)


def _round_up(value: float) -> float:
    """``value`` up to two decimals (an allowance people read, never below what the data need)."""
    return math.ceil(value * 100.0 - 1e-9) / 100.0


def _current(spec: CheckSpec) -> float:
    if spec.direction is Direction.DECREASE:
        return 1.0 - spec.lower_allowed
    return spec.allowed_effect


# How sure the paired comparison must be before a seasonal baseline replaces ``previous``, and how
# sure the A/A runs must be that a rate is under the target before an allowance is kept (one-sided).
SWITCH_ALPHA = 0.05
KEEP_CONFIDENCE = 0.95


def _run_alarmed(outcome: TrialOutcome, checks: frozenset[str]) -> bool:
    return bool(outcome.alarmed & checks)


def chosen_baseline(outcomes: Sequence[TrialOutcome], profile: Profile) -> str | None:
    """The before/after baseline the profile should use: ``previous`` unless another choice alarmed
    significantly less on the same pseudo-canary windows.

    Point rates of a few dozen runs are noise (0 of 3 is not better than 1 of 60), so a choice is
    compared with ``previous`` pair by pair on the windows both ran on: McNemar's exact test, a
    one-sided binomial test at :data:`SWITCH_ALPHA` on the discordant pairs (windows where exactly
    one of the two alarmed, on any regression check). Of the choices significantly better, the one
    with the smallest p-value; None without any A/A run.
    """
    checks = frozenset(c.name for c in profile.checks if c.purpose is CheckPurpose.REGRESSION)
    by_choice: dict[str, dict[Window, bool]] = {}
    for o in outcomes:
        by_choice.setdefault(o.trial.baseline, {})[o.trial.canary_window] = _run_alarmed(o, checks)
    present = [c for c in BASELINES if c in by_choice]
    if not present:
        return None
    default = "previous" if "previous" in by_choice else present[0]
    from scipy.stats import binomtest  # scipy.stats costs a second to import: only a backtest needs it

    best, best_p = default, SWITCH_ALPHA
    for choice in present:
        if choice == default:
            continue
        shared = by_choice[choice].keys() & by_choice[default].keys()
        only_default = sum(1 for w in shared if by_choice[default][w] and not by_choice[choice][w])
        only_choice = sum(1 for w in shared if by_choice[choice][w] and not by_choice[default][w])
        if only_default + only_choice == 0:
            continue
        p = float(binomtest(only_default, only_default + only_choice, 0.5, alternative="greater").pvalue)
        if p <= best_p:
            best, best_p = choice, p
    return best


def runs_to_show(target: float, confidence: float = KEEP_CONFIDENCE) -> int:
    """A/A runs that must all pass for the exact one-sided bound of their rate to reach ``target``:
    the least ``n`` with ``(1 - target)^n <= 1 - confidence`` (299 for 1 % at 95 %)."""
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - target) - 1e-9)


def suggest(
    outcomes: Sequence[TrialOutcome],
    calibrations: Sequence[CheckCalibration],
    profile: Profile,
    target: float = DEFAULT_TARGET,
) -> tuple[Suggestion, ...]:
    """Per regression check: the allowance that would have kept its false alarms at or under
    ``target`` on ``outcomes``, every check fitted on the one baseline the profile is to use
    (:func:`chosen_baseline`) (a pure function).

    No minimum duration is suggested (``min_duration_s`` is always None): a minimum duration only
    holds back an early pass (:func:`monitor.judges.score.decide`), so it stops no alarm.
    """
    baseline = chosen_baseline(outcomes, profile)
    if baseline is None:
        return ()
    runs = [o for o in outcomes if o.trial.baseline == baseline]
    out: list[Suggestion] = []
    for spec in profile.checks:
        if spec.purpose is not CheckPurpose.REGRESSION:
            continue
        mine = [c for c in calibrations if c.check == spec.name and c.baseline == baseline and c.trials > 0]
        if not mine:
            continue
        values = [
            x for o in runs for r in o.verdict.checks
            if r.name == spec.name and judged(r) and (x := excess(r, spec)) is not None
        ]  # fmt: skip
        if not values:
            continue
        out.append(_suggestion(spec, mine[0], values, target))
    return tuple(out)


def _suggestion(
    spec: CheckSpec, calibration: CheckCalibration, values: list[float], target: float
) -> Suggestion:
    needed = _round_up(upper_quantile(values, 1.0 - target))
    current = _current(spec)
    term = "allowed_decrease" if spec.direction is Direction.DECREASE else "allowed_effect"
    # The rate is shown under the target only when its exact one-sided upper bound is (the two-sided
    # interval at 1 - 2 (1 - KEEP_CONFIDENCE) has that bound as its upper end).
    upper = false_alarm_interval(calibration.false_alarms, calibration.trials, 2 * KEEP_CONFIDENCE - 1)[1]
    seen = (
        f"{calibration.false_alarms} of {calibration.trials} A/A runs alarmed with the "
        f"{calibration.baseline} baseline (rate at most {100 * upper:.2g} % at "
        f"{100 * KEEP_CONFIDENCE:g} %); the {100 * (1 - target):g}th percentile of their effects "
        f"is {needed:g}"
    )
    if len(values) < 1.0 / target:
        seen += f" (with {len(values)} runs, the largest seen: more history makes it sharper)"
    if upper <= target:
        allowance = current
        reason = f"keep {term} {current:g}: {seen}"
        if needed < current:
            reason += f"; it could be tightened to {needed:g} for earlier detection"
    elif calibration.rate > target:
        allowance = max(current, needed)
        reason = f"raise {term} from {current:g} to {allowance:g}: {seen}"
    else:
        allowance = current
        reason = (
            f"keep {term} {current:g} for now, unproven: {calibration.trials} A/A runs cannot show a rate "
            f"under {100 * target:g} %; need >= {runs_to_show(target)} with no alarm; {seen}"
        )
    return Suggestion(spec.name, allowance, None, calibration.baseline, reason)


# --- the profile override file ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _non_default(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dataclass ``obj``'s fields that differ from their defaults, as YAML values."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.name in skip:
            continue
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
            continue
        if value is None or value == "":
            continue
        out[f.name] = _plain(value)
    return out


def profile_document(profile: Profile) -> dict[str, Any]:
    """``profile`` as the YAML document that loads back into it (:func:`monitor.profiles.load_profile`)."""
    labels = {
        "service": profile.labels.service,
        "version": profile.labels.version,
        **dict(profile.labels.others),
    }
    doc: dict[str, Any] = {"name": profile.name}
    if profile.description:
        doc["description"] = profile.description
    doc["labels"] = labels
    doc["alpha"] = profile.alpha
    doc["decision"] = _non_default(profile.decision) if profile.decision != DecisionPolicy() else None
    doc["traffic"] = _non_default(profile.traffic) if profile.traffic != TrafficPolicy() else None
    # Every field of the profile the file format knows beyond these (e.g. a calibrated baseline).
    known = {"name", "source", "description", "labels", "alpha", "decision", "traffic", "checks"}
    for f in dataclasses.fields(profile):
        if f.name not in known and (value := getattr(profile, f.name)) is not None:
            doc[f.name] = _plain(value)
    doc["checks"] = [
        {"name": c.name, "comparison": c.comparison.value, **_non_default(c, ("name", "comparison"))}
        for c in profile.checks
    ]
    return {k: v for k, v in doc.items() if v is not None}


def override_profile(profile: Profile, suggestions: Sequence[Suggestion], name: str | None = None) -> Profile:
    """``profile`` with the suggested allowances and baseline, named ``name`` (default
    ``<profile>-calibrated``)."""
    by_check = {s.check: s for s in suggestions}
    checks = []
    for check in profile.checks:
        s = by_check.get(check.name)
        if s is None or s.allowance is None:
            checks.append(check)
        elif check.direction is Direction.DECREASE:
            checks.append(dataclasses.replace(check, allowed_decrease=min(0.999, s.allowance)))
        else:
            checks.append(dataclasses.replace(check, allowed_effect=min(100.0, s.allowance)))
    # A suggestion's min_duration_s is ignored: a minimum duration defers early passes, not alarms.
    calibrated = dataclasses.replace(profile, name=name or f"{profile.name}-calibrated", checks=tuple(checks))
    baselines = [s.baseline for s in suggestions if s.baseline is not None]
    if baselines:
        # The profile keeps one before/after baseline (used where a setting says auto): suggest() fits
        # every check on the same one (chosen_baseline); the most common guards hand-made lists.
        calibrated = dataclasses.replace(
            calibrated, baseline=max(dict.fromkeys(baselines), key=baselines.count)
        )
    return calibrated


def override_text(
    profile: Profile,
    suggestions: Sequence[Suggestion],
    *,
    service: str,
    span: tuple[datetime, datetime],
    name: str | None = None,
) -> str:
    """The override file's YAML: the calibrated profile, each suggestion's reason as a comment."""
    calibrated = override_profile(profile, suggestions, name)
    lines = [
        f"# Profile {calibrated.name}: {profile.name} with allowances calibrated by monitor backtest",
        f"# on service {service}'s history from {span[0].isoformat()} to {span[1].isoformat()}.",
        "# Review each change below, then pass this file as --profile.",
    ]
    lines += [f"#   {s.check}: {s.reason}" for s in suggestions]
    body = yaml.safe_dump(profile_document(calibrated), sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body


def write_override(path: Path, text: str) -> Path:
    """Write an override file's ``text`` to ``path`` (its directory created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
