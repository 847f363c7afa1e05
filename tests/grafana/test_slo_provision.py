"""``monitor provision`` installs the config's SLO burn alerts as Grafana rules, recordings inlined.

Grafana cannot create the recording rules the Prometheus alerts read, so each recorded series is
replaced by its recording rule's expression (:func:`monitor.grafana.rules.slo_rule_groups`). The
Grafana side is the fake of ``tests/fakes/grafana.py`` (request bodies checked against Grafana's
OpenAPI spec); the inlined expressions run in ``promtool test rules``, Prometheus' own rule engine,
beside the generated Prometheus rules over the same series.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.grafana import ADMIN_TOKEN

from monitor.cli import main
from monitor.errors import ConfigError
from monitor.exitcodes import EXIT_PASS
from monitor.grafana.rules import (
    grafana_rule_group,
    inline_recordings,
    load_rule_groups,
    recordings,
    rule_uid,
    slo_rule_groups,
)
from monitor.slo import SLO
from monitor.slo.rules import ratio_expr, rule_document, rule_file, rule_file_name

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alert_rules"
EXAMPLE = ROOT / "examples" / "config" / "monitor.yaml"
SLOS: list[dict[str, Any]] = yaml.safe_load(EXAMPLE.read_text())["slos"]
METRIC = "http_server_request_duration_seconds_count"
ERRORS = f'sum(rate({METRIC}{{service_name="checkout", http_response_status_code=~"5.."}}[{{{{.window}}}}]))'
TOTAL = f'sum(rate({METRIC}{{service_name="checkout"}}[{{{{.window}}}}]))'
CHECKOUT = SLO("checkout-availability", "checkout", 0.999, 30, TOTAL, errors=ERRORS)


def _config(tmp_path: Path, url: str | None) -> Path:
    document: dict[str, Any] = {"slos": SLOS}
    if url is not None:
        (tmp_path / "grafana-token").write_text(ADMIN_TOKEN + "\n")
        document["grafana"] = {
            "url": url,
            "token_file": "grafana-token",
            "datasource": {"name": "Prometheus", "uid": "prometheus", "url": "http://prometheus:9090"},
        }
    path = tmp_path / "monitor.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


def _provision(config: Path, *flags: str) -> int:
    return main(["provision", "--config", str(config), "--rules-dir", str(RULES), *flags])


def test_the_configs_slos_are_provisioned_beside_the_monitors_rules_and_a_rerun_writes_nothing(
    grafana: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, grafana.url)
    assert _provision(config) == EXIT_PASS
    own = {rule.alert for group in load_rule_groups(RULES) for rule in group.rules}
    titles = {rule["title"] for rule in grafana.alert_rules.values()}
    slo_titles = {
        "ErrorBudgetBurn checkout-availability page",
        "ErrorBudgetBurn checkout-availability ticket",
    }
    assert titles == own | slo_titles
    slo_rules = [rule for rule in grafana.alert_rules.values() if rule["title"] in slo_titles]
    assert {rule["ruleGroup"] for rule in slo_rules} == {"slo-checkout-availability-alerts"}
    for rule in slo_rules:
        assert rule["labels"]["slo"] == "checkout-availability" and rule["labels"]["service"] == "checkout"
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert rule["annotations"]["runbook_url"] == "docs/runbooks.md#slo-burn"
        assert "$values.A.Value" in rule["annotations"]["description"]
        assert "slo:" not in rule["data"][0]["model"]["expr"], "a recorded series Grafana cannot create"
    capsys.readouterr()
    writes = grafana.writes()
    assert _provision(config) == EXIT_PASS
    assert grafana.writes() == writes, "the second run wrote to Grafana"
    assert "provisioned: 0 written" in capsys.readouterr().out
    assert grafana.violations == []


def test_a_dry_run_without_grafana_plans_the_slo_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provision(_config(tmp_path, None), "--dry-run") == EXIT_PASS
    out = capsys.readouterr().out
    assert "create    rule-group slo-checkout-availability-alerts" in out
    assert "ErrorBudgetBurn checkout-availability page" in out
    assert _provision(_config(tmp_path, None), "--dry-run", "--no-rules") == EXIT_PASS
    assert "rule-group" not in capsys.readouterr().out


def test_recorded_series_are_replaced_by_their_expressions_only_when_labels_match() -> None:
    records = recordings(rule_document(CHECKOUT))
    selector = '{service="checkout", slo="checkout-availability"}'
    inlined = inline_recordings("X", f"slo:sli_error:ratio_rate1h{selector} / 0.001 > 2", records)
    assert inlined == f"(\n{ratio_expr(CHECKOUT, '1h')}\n) / 0.001 > 2"
    untouched = 'up{job="x"} == 0'
    assert inline_recordings("X", untouched, records) == untouched
    other_service = 'slo:sli_error:ratio_rate1h{service="cart", slo="checkout-availability"}'
    regex = 'slo:sli_error:ratio_rate1h{service=~"checkout", slo="checkout-availability"}'
    for wrong in (other_service, regex):
        with pytest.raises(ConfigError, match=r"alert X: .* selects no recording rule by exactly its labels"):
            inline_recordings("X", wrong, records)


def test_uids_of_long_titles_stay_unique_and_within_grafanas_limit() -> None:
    assert rule_uid("DeployMonitorDown") == "dm-deploymonitordown"  # short names keep their uid
    page, ticket = (rule_uid(f"ErrorBudgetBurn checkout-availability {s}") for s in ("page", "ticket"))
    assert page != ticket and len(page) <= 40 and len(ticket) <= 40
    assert page.startswith("dm-errorbudgetburn-checkout-") and page == rule_uid(
        "ErrorBudgetBurn checkout-availability page"
    )


def _queries_a(slo: SLO) -> dict[str, str]:
    (group,) = slo_rule_groups([slo])
    body = grafana_rule_group(group, "deploy-monitor", "prometheus")
    return {rule["labels"]["severity"]: rule["data"][0]["model"]["expr"] for rule in body["rules"]}


@pytest.mark.subprocess  # promtool
@pytest.mark.parametrize(("errors_per_minute", "burn"), [(20, 20.0), (0.5, None)])
def test_the_grafana_queries_fire_with_the_prometheus_alerts_at_the_same_burn_rate(
    tmp_path: Path, errors_per_minute: float, burn: float | None
) -> None:
    """1,000 requests a minute for 90 minutes, ``errors_per_minute`` of them 5xx.

    20 errors: a ratio of 0.02, 20 times the 0.001 budget, above 14.4 (page) and 3 (ticket): both the
    Prometheus alert expressions (over the recordings) and Grafana's (inlined) return 20, the
    burn rate, for each severity. 0.5 errors: 0.5x, inside the budget: both return nothing.
    """
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool comes with the Debian prometheus package: run make system-deps"
    (tmp_path / rule_file_name(CHECKOUT)).write_text(rule_file(CHECKOUT))
    alerts = {r["labels"]["severity"]: r["expr"] for r in rule_document(CHECKOUT)["groups"][1]["rules"]}
    prometheus_labels = '{service="checkout", slo="checkout-availability"}'
    expr_tests = []
    for severity, expr in _queries_a(CHECKOUT).items():
        for query, labels in ((expr, "{}"), (alerts[severity], prometheus_labels)):
            samples = [] if burn is None else [{"labels": labels, "value": burn}]
            expr_tests.append({"expr": query, "eval_time": "80m", "exp_samples": samples})
    labels = 'service_name="checkout", http_route="/pay"'
    test = {
        "rule_files": [rule_file_name(CHECKOUT)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'{METRIC}{{{labels}, http_response_status_code="200"}}',
                        "values": f"0+{1000 - errors_per_minute:g}x90",
                    },
                    {
                        "series": f'{METRIC}{{{labels}, http_response_status_code="503"}}',
                        "values": f"0+{errors_per_minute:g}x90",
                    },
                ],
                "promql_expr_test": expr_tests,
            }
        ],
    }
    (tmp_path / "grafana.test.yml").write_text(yaml.safe_dump(test))
    run = subprocess.run(
        [promtool, "test", "rules", "grafana.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
