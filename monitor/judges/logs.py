"""Judging logs: templates that are new or more frequent in the canary, and the error-level rate.

Both checks are counts comparisons (:func:`monitor.stats.compare_counts`): exact conditional
tests of the canary's rate per exposure against the baseline's.

* **Templates**: each WARN-or-worse template is compared on its rate per exposure; one the
  baseline never logged is *new*, tested the same way with a baseline count of zero. The
  templates share the check's level by Tarone's rule (:func:`monitor.stats.tarone`): a template
  seen too few times to ever be significant takes no share, so a clear new ERROR template is
  not diluted by hundreds of rare ones, and a single new line can never fail a deploy. New or
  risen INFO and DEBUG templates are listed as evidence only: a new version is expected to say
  new things.
* **Error rate**: lines at ERROR or above per exposure, like the 5xx ratio of the metrics.
"""

from __future__ import annotations

from dataclasses import replace

from monitor.judges.checks import result_from
from monitor.judges.format import fmt_ratio
from monitor.logs.counts import Level, LogData, TemplateCounts
from monitor.models import CheckResult, Classification, Comparison, ComparisonKind, CountsData, Evidence
from monitor.profiles import CheckSpec
from monitor.stats import compare_counts, tarone
from monitor.stats.counts import counts_test
from monitor.stats.exact import RateRatioTest

NOTABLE = Level.WARN
MAX_EVIDENCE = 10


def _nodata(spec: CheckSpec, data: LogData) -> CheckResult | None:
    """Too few log lines to judge. The minimum counts lines, the evidence, not requests: a quiet
    service logging 400 lines over 50 requests has plenty to show a new ERROR template with."""
    enough = min(data.canary_lines, data.baseline_lines) >= spec.min_data
    if enough and data.canary_exposure > 0 and data.baseline_exposure > 0:
        return None
    comparison = Comparison.nodata(ComparisonKind.COUNTS, data.baseline_exposure, data.canary_exposure)
    message = (
        f"too few log lines to judge (canary {data.canary_lines:g}, baseline {data.baseline_lines:g}; "
        f"need {spec.min_data:g} each)"
    )
    return result_from(spec, comparison, message)


def _describe(t: TemplateCounts, comparison: Comparison) -> str:
    change = "new" if t.baseline == 0 else f"{fmt_ratio(comparison.effect)} as frequent"
    return f"{change} {t.level.name} template '{t.template}' ({t.canary} in canary, {t.baseline} in baseline)"


def _evidence(t: TemplateCounts, kind: str | None = None) -> Evidence:
    kind = kind or ("new" if t.baseline == 0 else "more frequent")
    return Evidence(f"{kind} {t.level.name}: {t.template}", t.baseline, t.canary, "lines", t.example)


def _template_test(t: TemplateCounts, data: LogData) -> RateRatioTest:
    return counts_test(
        CountsData(t.canary, data.canary_exposure), CountsData(t.baseline, data.baseline_exposure)
    )


def templates_min_p(spec: CheckSpec, data: LogData) -> float:
    """The smallest p-value any WARN-or-worse template could give (1 without enough data)."""
    if _nodata(spec, data) is not None:
        return 1.0
    return min(
        (_template_test(t, data).min_p_value() for t in data.templates if t.level >= NOTABLE), default=1.0
    )


def errors_min_p(spec: CheckSpec, data: LogData) -> float:
    """The smallest p-value the error-level line counts could give (1 without enough data)."""
    if _nodata(spec, data) is not None:
        return 1.0
    canary, baseline = _error_counts(data)
    return counts_test(canary, baseline).min_p_value()


def judge_log_templates(spec: CheckSpec, data: LogData, alpha: float, relevance: float = 0.5) -> CheckResult:
    """Fail when a WARN-or-worse template is clearly new or more frequent in the canary."""
    if (missing := _nodata(spec, data)) is not None:
        return missing
    notable = [t for t in data.templates if t.level >= NOTABLE]
    shares = tarone([_template_test(t, data).min_p_value() for t in notable], alpha)
    item_alpha = alpha / shares
    findings: list[tuple[TemplateCounts, Comparison]] = []
    undecided = False
    for t in (t for t in data.templates if t.canary > 0):
        comparison = compare_counts(
            CountsData(t.canary, data.canary_exposure),
            CountsData(t.baseline, data.baseline_exposure),
            alpha=item_alpha,
            allowed_effect=spec.allowed_effect,
            relevance=relevance,
        )
        if comparison.classification is Classification.HIGH:
            findings.append((t, comparison))
        elif t.level >= NOTABLE and not comparison.conclusive:
            undecided = True
    # Strongest evidence first: the smallest p-value.
    findings.sort(key=lambda f: f[1].p_value if f[1].p_value is not None else 1.0)
    failing = [f for f in findings if f[0].level >= NOTABLE]
    evidence = tuple(_evidence(t) for t, _ in (failing + [f for f in findings if f not in failing]))
    if failing:
        worst_template, worst = failing[0]
        more = f" and {len(failing) - 1} more" if len(failing) > 1 else ""
        message = f"{_describe(worst_template, worst)}{more}"
        adjusted = replace(worst, p_value=min(1.0, (worst.p_value or 1.0) * shares))
        return result_from(spec, adjusted, message, evidence[:MAX_EVIDENCE])
    quiet = f"no WARN or ERROR template is new or more frequent ({len(data.templates)} templates, "
    quiet += f"{data.canary_lines} canary lines)"
    if findings:
        quiet += f"; {len(findings)} INFO-level change(s) listed as evidence"
    summary = Comparison(
        kind=ComparisonKind.COUNTS,
        classification=Classification.PASS,
        effect=None,
        interval=None,
        p_value=None,
        baseline_value=None,
        canary_value=None,
        baseline_n=data.baseline_exposure,
        canary_n=data.canary_exposure,
        conclusive=not undecided,
        detail="templates",
    )
    return result_from(spec, summary, quiet, evidence[:MAX_EVIDENCE])


def _error_counts(data: LogData) -> tuple[CountsData, CountsData]:
    errors = [t for t in data.templates if t.level >= Level.ERROR]
    return (
        CountsData(sum(t.canary for t in errors), data.canary_exposure),
        CountsData(sum(t.baseline for t in errors), data.baseline_exposure),
    )


def judge_log_errors(spec: CheckSpec, data: LogData, alpha: float, relevance: float = 0.5) -> CheckResult:
    """Fail when lines at ERROR or above per exposure clearly rose beyond the allowance."""
    if (missing := _nodata(spec, data)) is not None:
        return missing
    errors = [t for t in data.templates if t.level >= Level.ERROR]
    canary, baseline = _error_counts(data)
    comparison = compare_counts(
        canary,
        baseline,
        alpha=alpha,
        allowed_effect=spec.allowed_effect,
        negligible_rate=spec.negligible_value,
        relevance=relevance,
    )
    per = data.exposure_unit.rstrip("s")
    message = (
        f"error-level log lines per {per} {fmt_ratio(comparison.effect)} baseline "
        f"({baseline.events:g} of {baseline.exposure:g} -> {canary.events:g} of {canary.exposure:g})"
    )
    top = sorted(errors, key=lambda t: t.canary - t.baseline, reverse=True)[:3]
    return result_from(spec, comparison, message, tuple(_evidence(t, "logged") for t in top if t.canary))
