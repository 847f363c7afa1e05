"""The log judge on literal template counts, and counting mined lines of two versions."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.judges.logs import judge_log_errors, judge_log_templates
from monitor.logs.counts import Level, LogData, TemplateCounts
from monitor.models import Classification, ComparisonKind, Signal
from monitor.profiles import CheckSpec, load_profile
from monitor.stats import Claim, allocate, per_look_alpha

TEMPLATES = CheckSpec("log_templates", ComparisonKind.COUNTS, Signal.LOGS, allowed_effect=1.0, min_data=100)
ERRORS = CheckSpec(
    "log_error_rate", ComparisonKind.COUNTS, Signal.LOGS, allowed_effect=0.25, negligible_value=0.0005
)
ERRORS_DEFAULT = next(s for s in load_profile("otel-http").checks if s.name == "log_error_rate")
ALPHA = 0.01


def _data(*templates: TemplateCounts, canary: float = 10_000, baseline: float = 90_000) -> LogData:
    return LogData(templates, canary, baseline, "requests", int(canary), int(baseline))


def test_a_single_new_line_never_fails_a_deploy() -> None:
    for level in (Level.INFO, Level.ERROR):
        result = judge_log_templates(TEMPLATES, _data(TemplateCounts("boom <NUM>", level, 1, 0)), ALPHA)
        assert result.classification is Classification.PASS
    # Four new ERROR lines with a 10% canary: all four landing in the canary has chance 1e-4
    # under equal rates (the exact test's p-value): clear at 1%, not at 5e-5, a typical share of
    # a run's budget for one look of one check; six lines (1e-6) are clear at both.
    four = _data(TemplateCounts("boom", Level.ERROR, 4, 0))
    assert judge_log_templates(TEMPLATES, four, ALPHA).classification is Classification.HIGH
    assert judge_log_templates(TEMPLATES, four, 5e-5).classification is Classification.PASS
    six = _data(TemplateCounts("boom", Level.ERROR, 6, 0))
    assert judge_log_templates(TEMPLATES, six, 5e-5).classification is Classification.HIGH


def test_many_rare_templates_do_not_dilute_a_clear_one() -> None:
    """19 lines of a new ERROR template (p = 0.1^19 at a 10% canary) among 500 templates seen a
    handful of times each: plain Bonferroni would test it at alpha / 501; Tarone's rule leaves
    out every template too rare to ever be significant, so it is tested at alpha itself."""
    rare = tuple(TemplateCounts(f"rare {i}", Level.WARN, 0, 2) for i in range(500))
    new = TemplateCounts("payment declined: <*>", Level.ERROR, 19, 0)
    result = judge_log_templates(TEMPLATES, _data(new, *rare), 1e-18)
    assert result.classification is Classification.HIGH
    assert result.p_value == pytest.approx(0.1**19, rel=1e-6)


def test_a_frequent_new_error_template_fails_and_is_named() -> None:
    new = TemplateCounts("connection refused to <IP>", Level.ERROR, 40, 0, "connection refused to 10.0.0.7")
    steady = TemplateCounts("GET /orders <NUM>", Level.INFO, 10_000, 90_000)
    result = judge_log_templates(TEMPLATES, _data(new, steady), ALPHA)
    assert result.classification is Classification.HIGH and result.conclusive
    assert "new ERROR template 'connection refused to <IP>'" in result.message
    assert result.evidence[0].detail == "connection refused to 10.0.0.7"
    assert result.evidence[0].canary == 40 and result.evidence[0].baseline == 0


def test_info_templates_are_evidence_not_failures() -> None:
    chatty = TemplateCounts("cache warmed in <NUM> ms", Level.INFO, 500, 450)  # 10x the baseline rate
    result = judge_log_templates(TEMPLATES, _data(chatty), ALPHA)
    assert result.classification is Classification.PASS
    assert "INFO-level change" in result.message and result.evidence[0].label.startswith("more frequent INFO")


def test_identical_versions_raise_no_alarm_across_many_templates() -> None:
    # A/A: 300 templates, each version logs them at the same rate per request (Poisson, fixed
    # seed). Bonferroni over the templates keeps the chance of any alarm under 1%.
    rng = np.random.default_rng(7)
    rates = rng.lognormal(mean=-6.0, sigma=2.0, size=300)
    templates = tuple(
        TemplateCounts(f"t{i}", Level.ERROR, int(rng.poisson(r * 10_000)), int(rng.poisson(r * 90_000)))
        for i, r in enumerate(rates)
    )
    assert judge_log_templates(TEMPLATES, _data(*templates), ALPHA).classification is Classification.PASS
    assert judge_log_errors(ERRORS, _data(*templates), ALPHA).classification is Classification.PASS


def test_error_rate_per_request() -> None:
    errors = TemplateCounts("timeout calling <*>", Level.ERROR, 90, 90)  # 9x the rate per request
    result = judge_log_errors(ERRORS, _data(errors), ALPHA)
    assert result.classification is Classification.HIGH
    assert result.effect is not None and 6 < result.effect < 12


def test_too_few_lines_is_nodata() -> None:
    result = judge_log_templates(TEMPLATES, _data(canary=50, baseline=50), ALPHA)
    assert result.classification is Classification.NODATA


def test_levels_parse_from_names_and_otlp_numbers() -> None:
    assert [Level.parse(v) for v in ("warning", "ERR", "crit", None, "weird")] == [
        Level.WARN, Level.ERROR, Level.FATAL, Level.INFO, Level.INFO,
    ]  # fmt: skip
    assert [Level.parse(n) for n in (1, 9, 13, 17, 20, 24)] == [
        Level.TRACE, Level.INFO, Level.WARN, Level.ERROR, Level.ERROR, Level.FATAL,
    ]  # fmt: skip


def _default_level(check: str, looks: int = 10) -> float:
    """The level the default profile gives ``check`` at the last of ``looks`` with every check engaged."""
    profile = load_profile("otel-http")
    look_alpha = per_look_alpha(profile.alpha, looks, looks, profile.decision.final_share)
    claims = {s.name: Claim(s.alpha_weight, s.critical, 0.0) for s in profile.checks}
    return allocate(look_alpha, claims, profile.decision.critical_share)[check]


def test_the_new_error_template_the_old_judge_passed_now_fails() -> None:
    """Seen on a 5 requests/s canary over 10 minutes: 1 ERROR line of 256 requests in v1, 19 of 324
    in v2 from a new template. At the level the default profile gives the check at its last look
    with every log, trace and metric check taking part (6.9e-4), the error rate fails: p = 1.5e-4."""
    new = TemplateCounts("payment authorization failed for order <NUM>", Level.ERROR, 19, 0)
    old = TemplateCounts("upstream inventory timed out after <NUM> ms", Level.ERROR, 0, 1)
    data = LogData((new, old), 324, 256, "requests", 324, 256)
    level = _default_level("log_error_rate")
    assert 5e-4 < level < 1e-3
    errors = judge_log_errors(ERRORS_DEFAULT, data, level)
    assert errors.classification is Classification.HIGH and errors.critical
    assert errors.p_value is not None and errors.p_value < 2e-4
    templates = judge_log_templates(TEMPLATES, data, _default_level("log_templates"))
    assert templates.classification is Classification.HIGH
    assert "new ERROR template 'payment authorization failed" in templates.message


def test_a_quiet_service_is_judged_on_its_log_lines_not_its_request_count() -> None:
    """50 requests a side but 424 and 400 log lines: a new ERROR template logged 23 times in the
    canary (none in the baseline) is evidence whatever the request count."""
    quiet = TemplateCounts("GET /health ok", Level.INFO, 377, 424)
    new = TemplateCounts("could not decode payload <*>", Level.ERROR, 23, 0)
    data = LogData((quiet, new), 50, 50, "requests", 400, 424)
    assert judge_log_templates(TEMPLATES, data, ALPHA).classification is Classification.HIGH
