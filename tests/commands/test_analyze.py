"""``monitor analyze`` end to end against a real Prometheus (started by ``conftest.py``)."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from monitor.cli import main
from monitor.simulate import SimulatedPrometheus, SimulatedRun
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus

SCHEMA = json.loads(resources.files("monitor.schema").joinpath("verdict.schema.json").read_text())


def _args(prom: SimulatedPrometheus, name: str, *extra: str) -> list[str]:
    run: SimulatedRun = prom.runs[name]
    args = [
        "analyze", "--prometheus-url", prom.url, "--service", name,
        "--canary-version", run.scenario.canary_version,
        "--baseline-version", run.scenario.baseline_version,
        "--start", format_time(run.canary_window.start), "--end", format_time(run.canary_window.end),
    ]  # fmt: skip
    if run.baseline_window != run.canary_window:
        args += [
            "--baseline-start", format_time(run.baseline_window.start),
            "--baseline-end", format_time(run.baseline_window.end),
        ]  # fmt: skip
    return args + list(extra)


def _offline(*extra: str, start: str = "1700000000", end: str = "1700000600") -> list[str]:
    """Arguments that fail before any query: nothing listens on the discard port."""
    return [
        "analyze", "--prometheus-url", "http://127.0.0.1:9", "--service", "s", "--canary-version", "v2",
        "--baseline-version", "v1", "--start", start, "--end", end, *extra,
    ]  # fmt: skip


def _json_verdict(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    return document


@pytest.mark.parametrize(
    ("scenario", "expected_exit", "expected_verdict", "extra"),
    [
        ("aa", 0, "pass", ()),
        ("errors_3x", 1, "fail", ()),
        ("median_25", 1, "fail", ()),
        ("tail_slow", 1, "fail", ()),
        ("ramp_aa", 0, "pass", ()),
        ("shared_slowdown_aa", 0, "pass", ()),
        ("high_traffic_2pct", 0, "pass", ()),
        ("no_canary", 2, "inconclusive", ()),
        ("ba_pass", 0, "pass", ()),
        ("ba_errors", 1, "fail", ()),
        ("prom_flavor_errors", 1, "fail", ("--profile", "prometheus-http")),
        ("cpu_2x", 2, "marginal", ()),
        ("weight_step_incident_aa", 0, "pass", ()),
    ],
)
def test_scenario_verdicts_with_one_minute_looks(
    prometheus: SimulatedPrometheus,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    expected_exit: int,
    expected_verdict: str,
    extra: tuple[str, ...],
) -> None:
    code = main(_args(prometheus, scenario, "--interval", "1m", "--output", "json", *extra))
    document = _json_verdict(capsys)
    assert (code, document["verdict"]) == (expected_exit, expected_verdict), document["summary"]


def test_error_regression_fails_early_and_names_the_check(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    run = prometheus.runs["errors_3x"]
    assert main(_args(prometheus, "errors_3x", "--interval", "60s", "--output", "json")) == 1
    document = _json_verdict(capsys)
    decided_at = str(document["decided_at"])
    assert decided_at <= format_time(run.canary_window.start + timedelta(minutes=10))
    checks = {c["name"]: c for c in document["checks"]}  # type: ignore[attr-defined]
    errors = checks["http_error_ratio"]
    assert errors["classification"] == "high"
    assert errors["interval"][0] > 1.0
    assert errors["effect"] > 1.5
    assert "http_error_ratio" in str(document["summary"])
    # The canary window of the verdict ends at the deciding look.
    assert document["canary"]["end"] == decided_at  # type: ignore[index]


def test_text_output_leads_with_verdict_and_lists_checks(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(prometheus, "median_25")) == 1
    out = capsys.readouterr().out
    first, second = out.splitlines()[:2]
    assert first.startswith("verdict: FAIL")
    assert second.startswith("summary: fail")
    assert "http_latency" in out and "p50" in out


def test_no_data_names_the_selector(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(prometheus, "no_canary", "--output", "json")) == 2
    document = _json_verdict(capsys)
    assert 'service_name="no_canary", service_version="v2"' in str(document["summary"])
    assert "versions with data: v1" in str(document["summary"])


def test_unknown_version_is_inconclusive(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(prometheus, "aa")
    args[args.index("--canary-version") + 1] = "v9-does-not-exist"
    assert main(args) == 2
    out = capsys.readouterr().out
    assert "v9-does-not-exist" in out
    # The summary names the versions that do have data (looked up with prometheus-api-client).
    assert "v9-does-not-exist has no data, versions with data: v1, v2" in out


def test_unknown_service_says_nothing_matches(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(prometheus, "aa")
    args[args.index("--service") + 1] = "no-such-service"
    assert main(args) == 2
    out = capsys.readouterr().out
    assert 'no series at all match {service_name="no-such-service"}' in out
    assert "check --service" in out


def test_a_window_before_the_data_is_blamed_on_the_window_not_the_service(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    run = prometheus.runs["aa"]
    start, end = run.canary_window.start - timedelta(hours=12), run.canary_window.start - timedelta(hours=11)
    args = _args(prometheus, "aa")
    args[args.index("--start") + 1], args[args.index("--end") + 1] = format_time(start), format_time(end)
    assert main(args) == 2
    out = capsys.readouterr().out
    assert f"no samples of service aa between {format_time(start)} and {format_time(end)}" in out
    assert "its series have data from about " in out and "check --start and --end" in out
    assert "check --service" not in out


def test_invalid_promql_exits_3_naming_check_and_prometheus_error(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = tmp_path / "broken.yaml"
    profile.write_text(
        "name: broken\nlabels: {service: service_name, version: service_version}\nchecks:\n"
        "  - name: bad_query\n    comparison: counts\n    critical: true\n"
        "    events: sum(rate(http_server_request_duration_seconds_count{$selector}[$window])\n"
        "    exposure: sum(increase(http_server_request_duration_seconds_count{$selector}[$window]))\n"
    )
    assert main(_args(prometheus, "aa", "--profile", str(profile))) == 3
    err = capsys.readouterr().err
    assert "bad_query" in err and "Prometheus rejected the query" in err
    assert len(err.strip().splitlines()) == 1


def _profile_with(tmp_path: Path, check: str) -> Path:
    """The default profile plus one extra check given as YAML lines."""
    base = resources.files("monitor.profiles").joinpath("otel-http.yaml").read_text()
    path = tmp_path / "extended.yaml"
    path.write_text(base.rstrip() + "\n" + check)
    return path


def test_fail_stands_when_an_optional_check_errors(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = _profile_with(
        tmp_path,
        "  - name: broken_gauge\n    comparison: samples\n    optional: true\n"
        "    series: sum(rate(nope{$selector}[1m])\n",
    )
    assert main(_args(prometheus, "errors_3x", "--profile", str(profile))) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("verdict: FAIL")
    assert "broken_gauge: Prometheus rejected the query" in captured.err


def test_a_range_vector_query_is_an_error_naming_the_check(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = _profile_with(
        tmp_path,
        "  - name: raw_counter\n    comparison: counts\n    critical: true\n"
        "    events: http_server_request_duration_seconds_count{$selector}[$window]\n"
        "    exposure: http_server_request_duration_seconds_count{$selector}[$window]\n",
    )
    assert main(_args(prometheus, "aa", "--profile", str(profile))) == 3
    err = capsys.readouterr().err
    assert "raw_counter" in err and "range vector" in err


def test_too_short_an_interval_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_offline("--interval", "100ms")) == 3
    assert "--interval 100ms is shorter than 10s" in capsys.readouterr().err


def test_unreachable_prometheus_exits_3_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:9"  # discard port: nothing listens
    assert main(_offline()) == 3
    err = capsys.readouterr().err
    assert url in err and "after 3 attempts" in err


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("1700000600", "1700000000", "is not after --start"),
        ("1700000000", "1700900000", "longer than 7 days"),
        ("yesterday", "1700000000", "is not a time"),
        ("2026-01-01T00:00:00", "1700000000", "no time zone"),
        ("4102444200", "4102444800", "in the future"),
    ],
)
def test_bad_times_exit_3_saying_what_is_wrong(
    capsys: pytest.CaptureFixture[str], start: str, end: str, message: str
) -> None:
    code = main(_offline(start=start, end=end))
    assert code == 3
    assert message in capsys.readouterr().err


def test_half_a_baseline_window_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(_offline("--baseline-start", "1699999400"))
    assert code == 3
    assert "--baseline-end" in capsys.readouterr().err


def test_invalid_profile_file_names_file_line_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = tmp_path / "typo.yaml"
    profile.write_text(
        "name: typo\nlabels: {service: s, version: v}\nchecks:\n"
        "  - name: errors\n    comparison: counts\n    wieght: 2\n"
        "    events: sum(x{$selector})\n    exposure: sum(y{$selector})\n"
    )
    code = main(_offline("--profile", str(profile)))
    assert code == 3
    err = capsys.readouterr().err
    assert f"{profile}:6" in err and "checks[0].wieght" in err and "weight" in err


def test_a_pass_states_what_it_rules_out_and_a_production_config_holds_it_to_harm_limits(
    prometheus: SimulatedPrometheus, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without an environment a low-traffic A/A run passes with a warning; with ``environment:
    production`` in the config the same data end inconclusive (exit 2) with the minutes needed."""
    assert main(_args(prometheus, "aa", "--interval", "1m", "--output", "json")) == 0
    document = _json_verdict(capsys)
    assert "rules out http_error_ratio above" in str(document["summary"])
    errors = next(c for c in document["checks"] if c["name"] == "http_error_ratio")  # type: ignore[attr-defined]
    assert errors["bound"]["confidence"] == 0.95 and 1.0 < errors["bound"]["effect"] < 2.0
    assert main(_args(prometheus, "low_traffic_aa", "--interval", "1m")) == 0
    assert "warning: cannot yet rule out http_error_ratio" in capsys.readouterr().out
    config = tmp_path / "monitor.yaml"
    config.write_text("environment: production\n")
    assert main(_args(prometheus, "low_traffic_aa", "--interval", "1m", "--config", str(config))) == 2
    out = capsys.readouterr().out
    assert out.startswith("verdict: INCONCLUSIVE") and "more minutes at this traffic" in out
