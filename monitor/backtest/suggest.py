"""Settings that would have kept false alarms at or under a target on a service's A/A runs, and the
profile override file that carries them.

Per regression check, from the A/A runs of the baseline choice that alarmed least: the excess of
each run's effect over "no change", in the harmful direction and relative (the profile's own terms:
``allowed_effect`` for increases, ``allowed_decrease`` for checks of decreases). An allowance at or
above the runs' upper ``1 - target`` quantile of that excess would have let at least that share of
them through. The override file is the whole profile with those allowances, a new name, and the
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
from monitor.models import CheckPurpose, CheckResult, ComparisonKind, Direction
from monitor.profiles import CheckSpec, Profile
from monitor.profiles.model import DecisionPolicy, TrafficPolicy
from monitor.stats.power import upper_quantile

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


def _best_baseline(calibrations: Sequence[CheckCalibration], check: str) -> CheckCalibration | None:
    """The check's calibration of the baseline choice with the lowest false-alarm rate (ties: the
    order of :data:`BASELINES`, ``previous`` first)."""
    order = list(BASELINES)
    mine = [c for c in calibrations if c.check == check and c.trials > 0]
    return min(mine, key=lambda c: (c.rate, order.index(c.baseline)), default=None)


def suggest(
    outcomes: Sequence[TrialOutcome],
    calibrations: Sequence[CheckCalibration],
    profile: Profile,
    target: float = DEFAULT_TARGET,
    *,
    max_duration_s: float | None = None,
) -> tuple[Suggestion, ...]:
    """Per regression check: the allowance, minimum duration and baseline that would have kept its
    false alarms at or under ``target`` on ``outcomes`` (a pure function)."""
    out: list[Suggestion] = []
    for spec in profile.checks:
        if spec.purpose is not CheckPurpose.REGRESSION:
            continue
        best = _best_baseline(calibrations, spec.name)
        if best is None:
            continue
        runs = [o for o in outcomes if o.trial.baseline == best.baseline]
        values = [
            x for o in runs for r in o.verdict.checks
            if r.name == spec.name and judged(r) and (x := excess(r, spec)) is not None
        ]  # fmt: skip
        if not values:
            continue
        out.append(_suggestion(spec, best, values, runs, target, max_duration_s))
    return tuple(out)


def _suggestion(
    spec: CheckSpec,
    calibration: CheckCalibration,
    values: list[float],
    runs: list[TrialOutcome],
    target: float,
    max_duration_s: float | None,
) -> Suggestion:
    needed = _round_up(upper_quantile(values, 1.0 - target))
    current = _current(spec)
    term = "allowed_decrease" if spec.direction is Direction.DECREASE else "allowed_effect"
    seen = (
        f"{calibration.false_alarms} of {calibration.trials} A/A runs alarmed with the "
        f"{calibration.baseline} baseline; the {100 * (1 - target):g}th percentile of their effects "
        f"is {needed:g}"
    )
    if len(values) < 1.0 / target:
        seen += f" (with {len(values)} runs, the largest seen: more history makes it sharper)"
    min_duration = _min_duration(spec, runs, max_duration_s)
    if calibration.rate <= target:
        allowance = current
        reason = f"keep {term} {current:g}: {seen}"
        if needed < current:
            reason += f"; it could be tightened to {needed:g} for earlier detection"
    else:
        allowance = max(current, needed)
        reason = f"raise {term} from {current:g} to {allowance:g}: {seen}"
    if min_duration is not None:
        reason += f"; the alarms came early: a minimum duration of {min_duration:g} s defers them"
    baseline = calibration.baseline
    return Suggestion(spec.name, allowance, min_duration, baseline, reason)


def _min_duration(spec: CheckSpec, runs: list[TrialOutcome], max_duration_s: float | None) -> float | None:
    """A minimum duration past the early A/A alarms of ``spec``, when every alarm was an early one."""
    alarms = [o.elapsed_s for o in runs if spec.name in o.alarmed]
    if not alarms or max_duration_s is None or max(alarms) >= max_duration_s:
        return None
    return float(math.ceil((max(alarms) + 1.0) / 60.0) * 60.0)


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
    """``profile`` with the suggested allowances and minimum duration, named ``name`` (default
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
    durations = [s.min_duration_s for s in suggestions if s.min_duration_s is not None]
    decision = profile.decision
    if durations:
        decision = dataclasses.replace(decision, min_duration_s=max(decision.min_duration_s, *durations))
    calibrated = dataclasses.replace(
        profile, name=name or f"{profile.name}-calibrated", checks=tuple(checks), decision=decision
    )
    baselines = [s.baseline for s in suggestions if s.baseline is not None]
    if baselines:
        # The profile keeps one before/after baseline (used where a setting says auto): the one most
        # checks alarmed least with.
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
    if calibrated.decision.min_duration_s != profile.decision.min_duration_s:
        # deployment_request gives a registration its environment's minimum duration, not the profile's.
        lines.append(
            f"# decision.min_duration_s {calibrated.decision.min_duration_s:g} applies to monitor analyze; "
            "for the daemon, set the environment's min_duration_s to it too"
        )
    body = yaml.safe_dump(profile_document(calibrated), sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(lines) + "\n" + body


def write_override(path: Path, text: str) -> Path:
    """Write an override file's ``text`` to ``path`` (its directory created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
