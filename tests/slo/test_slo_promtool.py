"""Freshly generated SLO rules pass ``promtool check rules`` and their generated unit tests, and the
example's SLI queries record the error ratio of real-looking OpenTelemetry series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from monitor.cli import main
from monitor.slo import RECORDED_WINDOWS, SLO
from monitor.slo.rules import rule_file, rule_file_name

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config" / "monitor.yaml"
PROMTOOL = shutil.which("promtool")


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool comes with the Debian prometheus package: run make system-deps"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_generated_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    assert main(["slo", "generate", "--config", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    check = _promtool("check", "rules", "checkout-availability.slo.rules.yml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 15 rules found" in check.stdout  # 7 ratios, a page, a ticket, 6 budget series
    run = _promtool("test", "rules", "checkout-availability.slo.test.yml", cwd=tmp_path / "tests")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_generated_unit_tests_fail_when_the_page_threshold_is_wrong(tmp_path: Path) -> None:
    """The 20x test is no tautology: a page threshold above 20x makes it fail."""
    assert main(["slo", "generate", "--config", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    rules = tmp_path / "checkout-availability.slo.rules.yml"
    rules.write_text(rules.read_text().replace("> 14.4", "> 25").replace("> 6\n", "> 25\n"))
    run = _promtool("test", "rules", "checkout-availability.slo.test.yml", cwd=tmp_path / "tests")
    assert run.returncode != 0 and "ErrorBudgetBurn" in run.stdout + run.stderr


def test_the_example_sli_records_the_share_of_5xx(tmp_path: Path) -> None:
    """1,000 requests a minute, 20 of them 5xx: every recorded window reads 0.02 (20x the budget)."""
    assert main(["slo", "generate", "--config", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    metric = "http_server_request_duration_seconds_count"
    labels = 'service_name="checkout", http_route="/pay"'
    selector = '{service="checkout", slo="checkout-availability"}'
    test = {
        "rule_files": ["checkout-availability.slo.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'{metric}{{{labels}, http_response_status_code="200"}}',
                        "values": "0+980x90",
                    },
                    {"series": f'{metric}{{{labels}, http_response_status_code="503"}}', "values": "0+20x90"},
                    {
                        "series": f'{metric}{{service_name="cart", http_response_status_code="500"}}',
                        "values": "0+50x90",
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": f"slo:sli_error:ratio_rate{window}{selector}",
                        "eval_time": "80m",
                        "exp_samples": [
                            {"labels": f"slo:sli_error:ratio_rate{window}{selector}", "value": 0.02}
                        ],
                    }
                    for window in ("5m", "30m", "1h")
                ],
            }
        ],
    }
    (tmp_path / "sli.test.yml").write_text(yaml.safe_dump(test))
    run = _promtool("test", "rules", "sli.test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def _ratio_tests(series: list[dict[str, str]], expected: float | None) -> dict[str, object]:
    """A promtool test group: ``series`` fed once a minute, every recorded window's ratio at 80m
    reading ``expected`` (None: no sample at all)."""
    selector = '{service="checkout", slo="checkout-availability"}'
    return {
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": f"slo:sli_error:ratio_rate{window}{selector}",
                "eval_time": "80m",
                "exp_samples": [
                    {"labels": f"slo:sli_error:ratio_rate{window}{selector}", "value": value}
                    for value in ([] if expected is None else [expected])
                ],
            }
            for window in RECORDED_WINDOWS
        ],
    }


def test_a_service_that_never_failed_records_ratio_zero_and_none_without_traffic(tmp_path: Path) -> None:
    """checkout answered every request without a 5xx, so there is no series of errors at all:
    every window reads 0 (not nothing, which would hide the service and its burn rate). With a
    counter that stands still, or no series, there is no ratio to record (no traffic is no zero)."""
    assert main(["slo", "generate", "--config", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    metric = "http_server_request_duration_seconds_count"
    ok = f'{metric}{{service_name="checkout", http_route="/pay", http_response_status_code="200"}}'
    busy_cart = f'{metric}{{service_name="cart", http_response_status_code="500"}}'
    serving, standing, cart = (
        {"series": ok, "values": "0+1000x90"},
        {"series": ok, "values": "5000x90"},
        {"series": busy_cart, "values": "0+50x90"},
    )
    test = {
        "rule_files": ["checkout-availability.slo.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            _ratio_tests([serving, cart], 0),
            _ratio_tests([standing], None),
            _ratio_tests([cart], None),
        ],
    }
    (tmp_path / "quiet.test.yml").write_text(yaml.safe_dump(test))
    run = _promtool("test", "rules", "quiet.test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_good_events_sli_without_good_series_records_ratio_one(tmp_path: Path) -> None:
    """The mirror image: a good-events SLI whose good series does not exist had only bad events
    while there was traffic (ratio 1), and none without traffic."""
    metric, window = "http_server_request_duration_seconds_count", "{{.window}}"
    slo = SLO(
        name="checkout-availability",
        service="checkout",
        objective=0.999,
        window_days=30,
        good=f'sum(rate({metric}{{service_name="checkout", http_response_status_code=~"2.."}}[{window}]))',
        total=f'sum(rate({metric}{{service_name="checkout"}}[{window}]))',
    )
    (tmp_path / rule_file_name(slo)).write_text(rule_file(slo))
    failing = {"series": f'{metric}{{service_name="checkout", http_response_status_code="503"}}'}
    test = {
        "rule_files": [rule_file_name(slo)],
        "evaluation_interval": "1m",
        "tests": [
            _ratio_tests([{**failing, "values": "0+20x90"}], 1),
            _ratio_tests([{**failing, "values": "20x90"}], None),
        ],
    }
    (tmp_path / "good.test.yml").write_text(yaml.safe_dump(test))
    run = _promtool("test", "rules", "good.test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
