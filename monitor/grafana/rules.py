"""The Prometheus rule files of ``alert_rules/`` as Grafana-managed alert rule groups.

One source of truth: the same files that ``promtool`` tests and the chart's PrometheusRule
carry become Grafana rule groups for teams that alert from Grafana. Each Prometheus rule
becomes a Grafana rule of two queries: ``A``, the rule's expression wrapped as
``(<expr>) * 0 + 1`` (an instant query returning 1 for exactly the series the Prometheus rule
would fire for, whatever their values), and ``B``, a threshold ``A > 0``. No series means
nothing fires (``noDataState: OK``); a query error is an error state, never silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.yamlfile import YamlDocument, load_yaml_file

SOURCE_LABEL = ("source", "deploy-monitor")  # routes the rules' alerts to the pager's policy
RELATIVE_RANGE_S = 600
_PROM_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _prom_duration_s(doc: YamlDocument, where: str, value: object) -> float:
    """A Prometheus duration (``5m``, ``1h30m``) in seconds."""
    text = str(value)
    parts = _PROM_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise doc.error(where, f"invalid duration {text!r}", "write e.g. 5m or 1h30m")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


@dataclass(frozen=True)
class PromRule:
    """One alerting rule of a Prometheus rule file."""

    alert: str
    expr: str
    for_s: float
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PromGroup:
    """A rule group: its name, evaluation interval and rules."""

    name: str
    interval_s: float
    rules: tuple[PromRule, ...]


def load_rule_groups(directory: Path) -> list[PromGroup]:
    """Every group of ``directory/*.rules.yml``, in file order; recording rules are refused."""
    files = sorted(directory.glob("*.rules.yml"))
    if not files:
        raise ConfigError(f"no *.rules.yml in {directory}; pass --rules-dir with the alert_rules directory")
    groups: list[PromGroup] = []
    for file in files:
        doc = load_yaml_file(file)
        raw_groups = doc.data.get("groups")
        if not isinstance(raw_groups, list):
            raise doc.error("groups", "expected a list of rule groups", "see promtool check rules")
        for index, group in enumerate(raw_groups):
            where = f"groups[{index}]"
            if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                raise doc.error(where, "a group needs a name and rules", "see promtool check rules")
            rules: list[PromRule] = []
            for number, rule in enumerate(group.get("rules") or []):
                at = f"{where}.rules[{number}]"
                if not isinstance(rule, dict) or "alert" not in rule:
                    raise doc.error(at, "only alerting rules are provisioned", "move recording rules out")
                rules.append(
                    PromRule(
                        alert=str(rule["alert"]),
                        expr=str(rule["expr"]).strip(),
                        for_s=_prom_duration_s(doc, f"{at}.for", rule.get("for", "0s")),
                        labels=tuple(sorted((str(k), str(v)) for k, v in (rule.get("labels") or {}).items())),
                        annotations=tuple(
                            sorted((str(k), str(v)) for k, v in (rule.get("annotations") or {}).items())
                        ),
                    )
                )
            interval = _prom_duration_s(doc, f"{where}.interval", group.get("interval", "1m"))
            groups.append(PromGroup(group["name"], interval, tuple(rules)))
    return groups


def rule_uid(alert: str) -> str:
    """A stable uid (at most 40 characters of ``[a-zA-Z0-9_-]``) for an alert name."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", alert).strip("-").lower()
    return f"dm-{slug}"[:40]


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole % 3600 == 0 and whole:
        return f"{whole // 3600}h"
    if whole % 60 == 0 and whole:
        return f"{whole // 60}m"
    return f"{whole}s"


def grafana_rule(
    rule: PromRule, group: str, folder_uid: str, datasource_uid: str, org_id: int = 1
) -> dict[str, Any]:
    """The ``ProvisionedAlertRule`` body of one Prometheus rule."""
    return {
        "uid": rule_uid(rule.alert),
        "title": rule.alert,
        "folderUID": folder_uid,
        "ruleGroup": group,
        "orgID": org_id,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "datasourceUid": datasource_uid,
                "relativeTimeRange": {"from": RELATIVE_RANGE_S, "to": 0},
                "model": {"refId": "A", "expr": f"({rule.expr}) * 0 + 1", "instant": True, "range": False},
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "relativeTimeRange": {"from": 0, "to": 0},
                "model": {
                    "refId": "B",
                    "type": "threshold",
                    "expression": "A",
                    "datasource": {"type": "__expr__", "uid": "__expr__"},
                    "conditions": [{"evaluator": {"type": "gt", "params": [0]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": _duration(rule.for_s),
        "labels": dict((*rule.labels, SOURCE_LABEL)),
        "annotations": dict(rule.annotations),
        "isPaused": False,
    }


def grafana_rule_group(
    group: PromGroup, folder_uid: str, datasource_uid: str, org_id: int = 1
) -> dict[str, Any]:
    """The ``AlertRuleGroup`` body of one Prometheus group."""
    return {
        "title": group.name,
        "folderUid": folder_uid,
        "interval": max(10, int(group.interval_s)),
        "rules": [grafana_rule(r, group.name, folder_uid, datasource_uid, org_id) for r in group.rules],
    }
