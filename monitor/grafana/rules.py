"""The Prometheus rule files of ``alert_rules/`` as Grafana-managed alert rule groups.

One source of truth: the same files that ``promtool`` tests and the chart's PrometheusRule
carry become Grafana rule groups for teams that alert from Grafana. Each Prometheus rule
becomes a Grafana rule of two queries: ``A``, the rule's expression wrapped as
``(<expr>) * 0 + 1`` (an instant query returning 1 for exactly the series the Prometheus rule
would fire for, whatever their values), and ``B``, a threshold ``A > 0``. No series means
nothing fires (``noDataState: OK``); a query error is an error state, never silence.

SLO burn alerts (:func:`slo_rule_groups`) come from the config's ``slos:``, generated as ``monitor slo
generate`` writes them, with one difference: they read recording rules (``slo:sli_error:ratio_rate<w>``)
that Prometheus records but Grafana cannot create (its ruler records only behind a feature flag).
Each recorded series an alert reads is replaced by the recording rule's own expression, so the
Grafana rule needs nothing but the SLI's metrics. Their query ``A`` is the expression itself: it
returns the burn rate, always above the threshold when it returns anything, so ``A > 0`` is the
same condition and the description can show the rate (``$values.A.Value``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.slo.model import SLO
from monitor.slo.rules import rule_document
from monitor.yamlfile import YamlDocument, load_yaml_file

SOURCE_LABEL = ("source", "deploy-monitor")  # routes the rules' alerts to the pager's policy
RELATIVE_RANGE_S = 600
_PROM_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_UID_LENGTH = 40  # Grafana's limit
# A series selector: a metric name and its braces, quoted label values may hold any character.
_SELECTOR = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}')
_MATCHER = re.compile(r'\s*([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_VALUE = re.compile(r"\$value\b")  # Prometheus' $value; Grafana's is $values.<refId>.Value


def _duration_s(text: str) -> float | None:
    """A Prometheus duration (``5m``, ``1h30m``) in seconds; None when it is none."""
    parts = _PROM_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


def _prom_duration_s(doc: YamlDocument, where: str, value: object) -> float:
    """A Prometheus duration of a rule file in seconds; an invalid one names its place."""
    seconds = _duration_s(str(value))
    if seconds is None:
        raise doc.error(where, f"invalid duration {str(value)!r}", "write e.g. 5m or 1h30m")
    return seconds


@dataclass(frozen=True)
class PromRule:
    """One alerting rule of a Prometheus rule file.

    ``title`` is the Grafana rule's title (and uid source) when the alert name is not unique in the
    folder, as every SLO's ``ErrorBudgetBurn`` is not; ``keeps_value`` says the expression returns
    only positive values when it fires, so query ``A`` can be the expression itself.
    """

    alert: str
    expr: str
    for_s: float
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    title: str = ""
    keeps_value: bool = False

    @property
    def grafana_title(self) -> str:
        """The Grafana rule's title: unique in the folder."""
        return self.title or self.alert


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
    """A stable uid (at most 40 characters of ``[a-zA-Z0-9_-]``) for an alert name.

    A name too long for the limit keeps its start and ends in a hash of the whole name, so two
    long names sharing their start (one SLO's page and ticket) get different uids.
    """
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", alert).strip("-").lower()
    uid = f"dm-{slug}"
    if len(uid) <= _UID_LENGTH:
        return uid
    digest = hashlib.sha256(alert.encode()).hexdigest()[:8]
    return f"{uid[: _UID_LENGTH - 9].rstrip('-')}-{digest}"


def _unquote(value: str) -> str:
    """A PromQL double-quoted string's content, its escapes resolved."""
    return re.sub(r"\\(.)", r"\1", value)


def _labels_of(matchers: str) -> frozenset[tuple[str, str]] | None:
    """The ``name="value"`` matchers of a selector; None when any is not an equality."""
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(matchers.rstrip()):
        match = _MATCHER.match(matchers, position)
        if match is None:
            return None
        found.append((match.group(1), _unquote(match.group(2))))
        position = match.end()
    return frozenset(found)


Recordings = Mapping[tuple[str, frozenset[tuple[str, str]]], str]
"""Recording rules by (recorded name, labels): their expressions."""


def recordings(document: Mapping[str, Any]) -> dict[tuple[str, frozenset[tuple[str, str]]], str]:
    """The recording rules of a rule file's document, by recorded name and labels."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], str] = {}
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            if "record" in rule:
                labels = frozenset((str(k), str(v)) for k, v in (rule.get("labels") or {}).items())
                found[(str(rule["record"]), labels)] = str(rule["expr"]).strip()
    return found


def inline_recordings(alert: str, expr: str, records: Recordings) -> str:
    """``expr`` with each series selector of a recorded name replaced by its recording rule's expression.

    The selector must name exactly the recording's labels with ``=``; anything else cannot be
    replaced faithfully and is an error naming the alert.
    """
    names = {name for name, _ in records}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            return match.group(0)
        labels = _labels_of(match.group(2))
        if labels is None or (name, labels) not in records:
            raise ConfigError(
                f"alert {alert}: {match.group(0)} selects no recording rule by exactly its labels; "
                'select a recorded series with name="value" matchers of its recording rule\'s labels'
            )
        return f"(\n{records[(name, labels)]}\n)"

    return _SELECTOR.sub(replace, expr)


def slo_rule_groups(slos: Sequence[SLO]) -> list[PromGroup]:
    """The burn alerts of ``slos`` as Grafana can evaluate them: one group per SLO, recordings inlined.

    Titles are ``ErrorBudgetBurn <slo> <severity>``: Grafana wants titles unique in a folder, and
    its ``alertname`` label is the title; the labels ``slo`` and ``severity`` stay as Prometheus has them.
    """
    groups: list[PromGroup] = []
    for slo in slos:
        document = rule_document(slo)
        records = recordings(document)
        for group in document["groups"]:
            alerts = [rule for rule in group["rules"] if "alert" in rule]
            if not alerts:
                continue
            rules = tuple(_slo_alert(slo, rule, records) for rule in alerts)
            groups.append(PromGroup(str(group["name"]), float(_UNIT_S["m"]), rules))
    return groups


def _slo_alert(slo: SLO, rule: Mapping[str, Any], records: Recordings) -> PromRule:
    labels: dict[str, str] = {str(k): str(v) for k, v in rule["labels"].items()}
    alert = str(rule["alert"])
    for_s = _duration_s(str(rule["for"]))
    assert for_s is not None, rule["for"]  # the generator writes durations such as 2m
    return PromRule(
        alert=alert,
        expr=inline_recordings(alert, str(rule["expr"]), records),
        for_s=for_s,
        labels=tuple(sorted(labels.items())),
        annotations=tuple(
            sorted((str(k), _VALUE.sub("$values.A.Value", str(v))) for k, v in rule["annotations"].items())
        ),
        title=f"{alert} {slo.name} {labels['severity']}",
        keeps_value=True,
    )


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
    expr = rule.expr if rule.keeps_value else f"({rule.expr}) * 0 + 1"
    return {
        "uid": rule_uid(rule.grafana_title),
        "title": rule.grafana_title,
        "folderUID": folder_uid,
        "ruleGroup": group,
        "orgID": org_id,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "datasourceUid": datasource_uid,
                "relativeTimeRange": {"from": RELATIVE_RANGE_S, "to": 0},
                "model": {"refId": "A", "expr": expr, "instant": True, "range": False},
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
