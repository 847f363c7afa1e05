"""Profile loading and validation: errors name the file, the line, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.models import CheckPurpose, ComparisonKind
from monitor.profiles import BUILTIN_PROFILES, load_profile
from monitor.profiles.templates import render, selector

VALID = """\
name: custom
labels:
  service: app
  version: release
checks:
  - name: errors
    comparison: counts
    events: sum(increase(errors_total{$selector}[$window]))
    exposure: sum(increase(requests_total{$selector}[$window]))
    critical: true
"""


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_have_the_required_checks(name: str) -> None:
    profile = load_profile(name)
    by_name = {c.name: c for c in profile.checks}
    assert by_name["http_error_ratio"].comparison is ComparisonKind.COUNTS
    assert by_name["http_error_ratio"].critical
    assert by_name["http_latency"].comparison is ComparisonKind.DISTRIBUTION
    assert by_name["http_latency"].quantiles == (0.5, 0.9, 0.99)
    assert by_name["traffic_share"].purpose is CheckPurpose.TRAFFIC
    assert by_name["cpu_per_request"].optional and by_name["memory"].optional
    for check in profile.checks:
        for template in (check.events, check.exposure, check.buckets, check.series):
            if template:
                query = render(template, profile, selector(profile, "svc", "v2"), 600)
                assert ("$" not in query and "600s" in query) or "[$window]" not in template


def test_default_profile_is_otel_http() -> None:
    assert load_profile(None).name == "otel-http"
    assert load_profile(None).labels.version == "service_version"


def test_custom_profile_with_own_label_names(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(VALID)
    profile = load_profile(str(path))
    assert selector(profile, "checkout", 'v"2') == 'app="checkout", release="v\\"2"'


@pytest.mark.parametrize(
    ("edit", "line", "field", "fix"),
    [
        (("    critical: true", "    critical: yes please"), 10, "checks[0].critical", "true or false"),
        (
            ("    critical: true", "    direction: up"),
            10,
            "checks[0].direction",
            "increase, decrease, either",
        ),
        (("    critical: true", "    allowed_effect: -1"), 10, "checks[0].allowed_effect", "[0.0, 100.0]"),
        (("    critical: true", "    colour: red"), 10, "checks[0].colour", "use one of"),
        (
            ("{$selector}[$window]))\n    exposure", "{$selector}[$range]))\n    exposure"),
            8,
            "checks[0].events",
            "$window",
        ),
        (("errors_total{$selector}", 'errors_total{job="x"}'), 8, "checks[0].events", "{$selector}"),
        (("    comparison: counts", "    comparison: histogram"), 7, "checks[0].comparison", "distribution"),
        (("  version: release\n", ""), 2, "labels", "version"),
        (
            ("    critical: true", "    from_spans: latency"),
            10,
            "checks[0].from_spans",
            "use latency for a distribution",
        ),
        (
            ("    critical: true", "    allowed_decrease: 1.5"),
            10,
            "checks[0].allowed_decrease",
            "[0.0, 0.999]",
        ),
        (("    critical: true", "    new_items: fail"), 10, "checks[0].new_items", "regress, evidence"),
        (("    critical: true", "    signal: probe"), 10, "checks[0].signal", "config's probes: section"),
    ],
)
def test_invalid_fields_are_named_with_their_line(
    tmp_path: Path, edit: tuple[str, str], line: int, field: str, fix: str
) -> None:
    path = tmp_path / "bad.yaml"
    assert edit[0] in VALID
    path.write_text(VALID.replace(edit[0], edit[1]))
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path))
    message = str(caught.value)
    assert f"{path}:{line}" in message
    assert field in message
    assert fix in message


def test_a_bare_dollar_in_a_regex_is_caught_at_load(tmp_path: Path) -> None:
    path = tmp_path / "dollar.yaml"
    path.write_text(VALID.replace("errors_total{$selector}", 'errors_total{$selector, code=~"5..$"}'))
    with pytest.raises(ConfigError, match=r"dollar.yaml:8: field 'checks\[0\]\.events'.*write \$\$"):
        load_profile(str(path))


def test_missing_query_for_the_comparison(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("    comparison: counts", "    comparison: samples"))
    with pytest.raises(ConfigError, match=r"checks\[0\]\.series.*needs a 'series' PromQL template"):
        load_profile(str(path))


def test_duplicate_check_names(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    second = VALID.split("checks:\n")[1]
    path.write_text(VALID + second)
    with pytest.raises(ConfigError, match=r"dup.yaml:11.*duplicate check name 'errors'"):
        load_profile(str(path))


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(VALID.replace("  service: app", "  service: [app"))
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+: not valid YAML"):
        load_profile(str(path))


def test_unknown_profile_lists_the_builtins() -> None:
    with pytest.raises(ConfigError, match="otel-http, prometheus-http"):
        load_profile("no-such-profile")


@pytest.mark.parametrize(
    ("check", "field", "fix"),
    [
        (
            "  - {name: log_lines, comparison: counts, signal: logs}",
            "checks[1].name",
            "log_error_rate, log_templates",
        ),
        (
            "  - {name: trace_fanout, comparison: samples, signal: traces}",
            "checks[1].comparison",
            "comparison: counts",
        ),
    ],
)
def test_log_and_trace_checks_are_named_judges(tmp_path: Path, check: str, field: str, fix: str) -> None:
    path = tmp_path / "telemetry.yaml"
    path.write_text(VALID.rstrip("\n") + "\n" + check + "\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path))
    assert field in str(caught.value) and fix in str(caught.value)


def test_a_log_check_needs_no_query(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.yaml"
    path.write_text(VALID.rstrip("\n") + "\n  - {name: log_templates, comparison: counts, signal: logs}\n")
    profile = load_profile(str(path))
    assert profile.checks[-1].signal.value == "logs" and profile.checks[-1].events is None


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ("name: 5", "field 'name': expected text, got 5; quote it: \"5\""),
        ("description: a profile", "field 'name': missing; add 'name: <profile name>' at the top"),
    ],
)
def test_a_name_of_the_wrong_type_gets_the_type_fix_and_a_missing_one_its_own(
    tmp_path: Path, first_line: str, expected: str
) -> None:
    path = tmp_path / "named.yaml"
    path.write_text(VALID.replace("name: custom", first_line, 1))
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path))
    assert expected in str(caught.value)
