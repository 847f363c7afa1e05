"""The alert rules: promtool checks them and runs their unit tests, every alert has its labels,
annotations and a runbook section, and every metric they use is one the monitor exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.telemetry import EngineMetrics, MonitorMetrics

ROOT = Path(__file__).resolve().parents[1]
RULES = sorted((ROOT / "alert_rules").glob("*.rules.yml"))
PROMTOOL = shutil.which("promtool")


def _alerts() -> list[dict[str, object]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def test_promtool_checks_and_unit_tests_pass() -> None:
    assert PROMTOOL is not None, "promtool comes with the Debian prometheus package: run make system-deps"
    check = subprocess.run([PROMTOOL, "check", "rules", *map(str, RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = sorted((ROOT / "alert_rules" / "tests").glob("*.test.yml"))
    run = subprocess.run(
        [PROMTOOL, "test", "rules", *(t.name for t in tests)],
        cwd=tests[0].parent,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


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
        # A labelled family without children has no samples yet: its suffixed names count too.
        exported |= {family.name, *(s.name for s in family.samples)}
        exported |= {family.name + suffix for suffix in ("_total", "_bucket", "_count", "_sum")}
    used = {name for alert in _alerts() for name in re.findall(r"\bmonitor_[a-z_]+", str(alert["expr"]))}
    assert used and used <= exported, used - exported
