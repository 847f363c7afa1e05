"""An SLI given as a profile's counts check (``sli: {check: ...}``), and the environments' burn limit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from monitor.config import load_settings
from monitor.config.file import read_slos
from monitor.environments import Environments
from monitor.errors import ConfigError
from monitor.slo import SliCheck

PROMTOOL = shutil.which("promtool")
CHECK_YAML = """\
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli:
      check: http_error_ratio
"""


def _write(tmp_path: Path, text: str, name: str = "monitor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_check_sli_renders_the_profiles_templates_for_the_service(tmp_path: Path) -> None:
    """otel-http's http_error_ratio: $selector is the service's matcher, $window Sloth's {{.window}}."""
    (slo,) = read_slos(_write(tmp_path, CHECK_YAML))
    count = "http_server_request_duration_seconds_count"
    five_xx = 'http_response_status_code=~"5.."'
    assert slo.errors == f'sum(increase({count}{{service_name="checkout", {five_xx}}}[{{{{.window}}}}]))'
    assert slo.total == f'sum(increase({count}{{service_name="checkout"}}[{{{{.window}}}}]))'
    assert slo.from_check == SliCheck(
        "otel-http",
        "http_error_ratio",
        f'sum(increase({count}{{$selector, http_response_status_code=~"5.."}}[$window]))',
        f"sum(increase({count}{{$selector}}[$window]))",
        "service_name",
        "service_version",
    )


def test_the_slo_profile_wins_over_the_configs(tmp_path: Path) -> None:
    text = "profile: otel-http\n" + CHECK_YAML.replace("    sli:", "    profile: prometheus-http\n    sli:")
    (slo,) = read_slos(_write(tmp_path, text))
    assert slo.from_check is not None and slo.from_check.profile == "prometheus-http"
    assert slo.total == 'sum(increase(http_requests_total{service="checkout"}[{{.window}}]))'
    # A verdict selects the versions in this profile's labels, whatever the analysis's profile.
    assert (slo.from_check.service_label, slo.from_check.version_label) == ("service", "version")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("check: http_error_ratio", "check: http_latency", r":6: field 'slos\[0\].sli.check'.*name one of: "),
        (
            "      check: http_error_ratio\n",
            "      check: http_error_ratio\n      total: sum(rate(x[{{.window}}]))\n",
            r"field 'slos\[0\].sli': check and PromQL are both given",
        ),
        (
            "    sli:",
            "    profile: nowhere.yaml\n    sli:",
            r":5: field 'slos\[0\].profile': profile .*nowhere.yaml.* is neither a built-in",
        ),
        (
            "      check: http_error_ratio\n",
            "      errors: sum(rate(x[{{.window}}]))\n",
            r":5: field 'slos\[0\].sli': no total; add 'total:",
        ),
    ],
)
def test_check_sli_errors_name_the_line_and_the_fix(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in CHECK_YAML
    with pytest.raises(ConfigError, match=message):
        read_slos(_write(tmp_path, CHECK_YAML.replace(old, new, 1)))


def test_generate_writes_rules_of_a_check_sli_that_promtool_accepts(tmp_path: Path) -> None:
    """Both SLI forms in one config: each gets its rules, and promtool checks and tests them."""
    promql = """\
  - name: search-availability
    service: search
    objective: 0.99
    window: 28d
    sli:
      good: sum(rate(http_requests_total{service="search", code!~"5.."}[{{.window}}]))
      total: sum(rate(http_requests_total{service="search"}[{{.window}}]))
"""
    config, out = _write(tmp_path, CHECK_YAML + promql), tmp_path / "rules"
    assert main(["slo", "generate", "--config", str(config), "--out", str(out)]) == 0
    rules = yaml.safe_load((out / "checkout-availability.slo.rules.yml").read_text())
    five_minutes = rules["groups"][0]["rules"][0]
    assert five_minutes["record"] == "slo:sli_error:ratio_rate5m"
    assert 'http_response_status_code=~"5.."}[5m]' in five_minutes["expr"]
    assert (out / "search-availability.slo.rules.yml").exists()
    assert PROMTOOL is not None, "promtool comes with the Debian prometheus package: run make system-deps"
    for name in ("checkout-availability", "search-availability"):
        check = subprocess.run(
            [PROMTOOL, "check", "rules", f"{name}.slo.rules.yml"], cwd=out, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        run = subprocess.run(
            [PROMTOOL, "test", "rules", f"{name}.slo.test.yml"],
            cwd=out / "tests",
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_environments_limit_the_burn_production_10_lower_ones_inform(tmp_path: Path) -> None:
    """Production is strict, lower environments inform: only production has a built-in limit."""
    built_in = Environments()
    assert [built_in.slo_burn_limit(n) for n in ("production", "staging", "testing", "development")] == [
        10.0,
        None,
        None,
        None,
    ]
    assert built_in.slo_burn_limit(None) is None and built_in.slo_burn_limit("nowhere") is None
    config = _write(
        tmp_path,
        "environments:\n  production: {slo_burn_limit: off}\n  testing: {slo_burn_limit: 6}\n"
        "  edge: {slo_burn_limit: 0}\n  staging: {page: true}\n",
    )
    configured = Environments(load_settings(config, environ={}).environments)
    assert configured.slo_burn_limit("production") is None  # off: informational
    assert configured.slo_burn_limit("testing") == 6.0
    assert configured.slo_burn_limit("edge") is None
    assert configured.slo_burn_limit("staging") is None  # the built-in's, other fields overridden
    config = _write(tmp_path, "environments:\n  staging: {slo_burn_limit: 14.4, page: true}\n")
    assert Environments(load_settings(config, environ={}).environments).slo_burn_limit("staging") == 14.4


def test_a_burn_limit_that_is_not_a_number_names_the_fix(tmp_path: Path) -> None:
    config = _write(tmp_path, "environments:\n  staging: {slo_burn_limit: true}\n")
    with pytest.raises(ConfigError, match=r":2: field 'environments.staging.slo_burn_limit'.*or off"):
        load_settings(config, environ={})
    config = _write(tmp_path, "environments:\n  staging: {slo_burn_limit: 5000}\n")
    with pytest.raises(ConfigError, match=r"5000 is out of range"):
        load_settings(config, environ={})
