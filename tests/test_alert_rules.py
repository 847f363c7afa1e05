"""The alert rules: promtool checks them and runs their unit tests, every alert has its labels,
annotations and a runbook section, and every metric they use is one the monitor exports.

``alert_rules/*.rules.yml`` are the monitor's own alerts (critical or warning, one runbook section
each); ``alert_rules/slo/`` holds the SLO rules ``monitor slo generate`` writes (recordings, and
``ErrorBudgetBurn`` paging or opening a ticket, one runbook section for all), checked apart."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.own_metrics import EngineMetrics, MonitorMetrics

ROOT = Path(__file__).resolve().parents[1]
RULES = sorted((ROOT / "alert_rules").glob("*.rules.yml"))
SLO_DIR = ROOT / "alert_rules" / "slo"
SLO_RULES = sorted(SLO_DIR.glob("*.slo.rules.yml"))
PROMTOOL = shutil.which("promtool")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}


def _alerts(paths: list[Path] = RULES) -> list[dict[str, object]]:
    """Every rule of ``paths`` (alerts and, in the SLO files, recordings)."""
    return [
        rule
        for path in paths
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def _promtool_checks_and_tests(rules: list[Path], tests: list[Path]) -> None:
    """``promtool check rules`` on ``rules``, then ``promtool test rules`` on ``tests`` in their folder."""
    assert PROMTOOL is not None, "promtool comes with the Debian prometheus package: run make system-deps"
    check = subprocess.run([PROMTOOL, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run(
        [PROMTOOL, "test", "rules", *(t.name for t in tests)],
        cwd=tests[0].parent,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_checks_and_unit_tests_pass() -> None:
    _promtool_checks_and_tests(RULES, sorted((ROOT / "alert_rules" / "tests").glob("*.test.yml")))


def test_every_alert_has_severity_annotations_and_a_runbook() -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = {line[3:].strip().lower() for line in runbooks.splitlines() if line.startswith("## ")}
    tested = "\n".join(t.read_text() for t in (ROOT / "alert_rules" / "tests").glob("*.test.yml"))
    for alert in _alerts():
        labels, annotations = alert["labels"], alert["annotations"]
        assert isinstance(labels, dict) and labels["severity"] in ("critical", "warning"), alert["alert"]
        assert isinstance(annotations, dict) and {"summary", "description", "runbook_url"} <= set(annotations)
        assert annotations["runbook_url"] == f"docs/runbooks.md#{str(alert['alert']).lower()}"
        assert str(alert["alert"]).lower() in anchors, f"no runbook section for {alert['alert']}"
        assert f"alertname: {alert['alert']}" in tested, f"{alert['alert']} has no promtool unit test"


def test_rules_use_only_metrics_the_monitor_exports() -> None:
    text = EngineMetrics().exposition().decode() + generate_latest(MonitorMetrics().registry).decode()
    exported: set[str] = set()
    for family in text_string_to_metric_families(text):
        # A labelled family without children has no samples yet: its suffixed names count too
        # (``_created``: prometheus-client's creation time of each counter and histogram series).
        exported |= {family.name, *(s.name for s in family.samples)}
        exported |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ())}
    used = {name for alert in _alerts() for name in re.findall(r"\bmonitor_[a-z_]+", str(alert["expr"]))}
    assert used and used <= exported, used - exported


def test_rules_count_counters_first_scraped_at_1() -> None:
    """A rule taking ``increase``/``rate`` of a labelled counter also reads its ``_created`` series.

    ``increase()`` reads 0 for a series born at 1 (see the comment at the top of the rule file).
    """
    for alert in _alerts():
        expr = str(alert["expr"])
        for name in re.findall(r"\b(?:increase|rate)\((monitor_[a-z_]+)_total\b", expr):
            assert f"{name}_created" in expr, f"{alert['alert']}: {name}_total without {name}_created"


def test_promtool_tests_feed_each_counter_with_its_creation_time() -> None:
    """As the daemon exports them: every ``x_total`` series comes with ``x_created`` of the same labels."""
    for path in sorted((ROOT / "alert_rules" / "tests").glob("*.test.yml")):
        for number, test in enumerate(yaml.safe_load(path.read_text())["tests"]):
            series = {str(s["series"]) for s in test["input_series"]}
            for name in series:
                if re.match(r"monitor_[a-z_]+_total\{", name):
                    created = name.replace("_total{", "_created{", 1)
                    assert created in series, f"{path.name} test {number}: {name} without {created}"


def test_the_slo_files_pass_promtool_and_their_generated_unit_tests() -> None:
    assert SLO_RULES, "alert_rules/slo/ holds the example's SLO rules"
    tests = sorted((SLO_DIR / "tests").glob("*.slo.test.yml"))
    assert [t.name.removesuffix(".slo.test.yml") for t in tests] == [
        r.name.removesuffix(".slo.rules.yml") for r in SLO_RULES
    ]
    _promtool_checks_and_tests(SLO_RULES, tests)


def test_slo_alerts_page_or_open_a_ticket_and_share_the_slo_burn_runbook() -> None:
    """The SLO rules are recordings (no labels but service and slo) and ErrorBudgetBurn alerts with
    a severity of their own (page/ticket, not the monitor's critical/warning)."""
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = {
        line[3:].strip().lower().replace(" ", "-") for line in runbooks.splitlines() if line.startswith("## ")
    }
    assert "slo-burn" in anchors
    rules = _alerts(SLO_RULES)
    alerts = [rule for rule in rules if "alert" in rule]
    assert alerts and len(alerts) == 2 * len(SLO_RULES)
    for rule in rules:
        labels = rule["labels"]
        assert isinstance(labels, dict) and {"service", "slo"} <= set(labels)
        if "record" in rule:
            assert set(labels) == {"service", "slo"} and "annotations" not in rule, rule["record"]
            continue
        assert rule["alert"] == "ErrorBudgetBurn" and labels["severity"] in ("page", "ticket")
        annotations = rule["annotations"]
        assert isinstance(annotations, dict) and {"summary", "description", "runbook_url"} <= set(annotations)
        assert annotations["runbook_url"] == "docs/runbooks.md#slo-burn"
