"""The Grafana dashboards built with grafana-foundation-sdk (``monitor.grafana.dashboards``).

* the committed ``dashboards/*.json`` are what the code builds, and the CLI finds drift;
* their structure: data-source variable everywhere, unique panel ids, a grid of 24 columns, refIds,
  links between them, annotation queries matching the daemon's tags;
* the detail dashboard has panels for every Prometheus check of the default profile, rendered from
  the profile's templates as the engine renders them;
* every PromQL expression and label-values variable runs on a real Prometheus: the simulated
  scenarios (application metrics) of the session fixture, and a second Prometheus backfilled here
  with the monitor's own metrics, so that the deployments and health panels return data too.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models import dashboard as sdk_model
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.channels.annotation import annotation_tags
from monitor.grafana.dashboards import (
    REGENERATE,
    build_dashboards,
    check_dashboards,
    promql,
    render,
    write_dashboards,
)
from monitor.grafana.dashboards.__main__ import main
from monitor.models import ComparisonKind, DeploymentSpec, Signal, Strategy
from monitor.own_metrics import EngineMetrics, MonitorMetrics
from monitor.profiles import BUILTIN_PROFILES, load_profile, templates
from monitor.simulate import PrometheusProcess, SimulatedPrometheus, backfill

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "dashboards"
PROFILE = load_profile("otel-http")
# As Grafana reads them: the JSON text parsed back.
BOARDS: dict[str, dict[str, Any]] = {
    stem: json.loads(render(model)) for stem, model in build_dashboards().items()
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
STEMS = ("deployments", "deployment-detail", "monitor-health", "slo")
# Grafana's built-in intervals, at values the simulated data (15 s scrapes) support.
GLOBALS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$")

JSON = dict[str, Any]


# --- helpers -------------------------------------------------------------------------------------


def _panels(board: JSON) -> list[JSON]:
    """Every panel, rows and the panels of collapsed rows included."""
    panels: list[JSON] = []
    for panel in board["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def _targets(board: JSON) -> list[tuple[JSON, JSON]]:
    return [(panel, target) for panel in _panels(board) for target in panel.get("targets", [])]


def _query_variables(board: JSON) -> list[JSON]:
    return [v for v in board["templating"]["list"] if v["type"] == "query"]


def _detail_panels(check_name: str) -> list[JSON]:
    """The detail's panels of one check (titled ``<check>: ...``; rows excluded)."""
    return [
        p
        for p in _panels(BOARDS["deployment-detail"])
        if p["type"] != "row" and str(p.get("title", "")).startswith(f"{check_name}:")
    ]


def _by_ref(panel: JSON) -> dict[str, str]:
    return {t["refId"]: t["expr"] for t in panel["targets"]}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables (``$name``) with ``values`` or the built-in intervals; unknown ones fail."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        known = {**GLOBALS, **values}
        assert name in known, f"variable ${name} in {expr!r} has no test value"
        return known[name]

    return re.sub(r"\$(\w+)", value, expr)


def _get(url: str) -> JSON:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            answer: JSON = json.loads(response.read())
    except urllib.error.HTTPError as error:  # 400 bad_data and 422 carry the parse error
        answer = json.loads(error.read())
    return answer


def instant(base: str, expr: str, at: float) -> JSON:
    """``/api/v1/query`` at ``at`` (Unix seconds): the whole answer, status included."""
    return _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"}))


def label_values(base: str, label: str, match: str, start: float, end: float) -> list[str]:
    """Values of ``label`` on the series matching ``match`` between ``start`` and ``end``."""
    query = urllib.parse.urlencode({"match[]": match, "start": f"{start:.0f}", "end": f"{end:.0f}"})
    answer = _get(f"{base}/api/v1/label/{label}/values?{query}")
    assert answer["status"] == "success", answer
    values: list[str] = answer["data"]
    return values


def _values(answer: JSON) -> list[float]:
    assert answer["status"] == "success", answer
    return [float(sample["value"][1]) for sample in answer["data"]["result"]]


def _only(answer: JSON) -> float:
    values = _values(answer)
    assert len(values) == 1, answer
    return values[0]


# --- drift and the command line ------------------------------------------------------------------


def test_committed_json_is_what_the_code_builds() -> None:
    """``dashboards/*.json`` equal ``build_dashboards()``, byte for byte."""
    built = build_dashboards()
    assert set(built) == set(STEMS)
    for stem, model in built.items():
        path = COMMITTED / f"{stem}.json"
        assert path.is_file(), f"{path} is missing: run {REGENERATE}"
        assert path.read_text(encoding="utf-8") == render(model), f"{path.name} is stale: run {REGENERATE}"
    assert check_dashboards(COMMITTED) == []


def test_check_finds_missing_and_edited_files_and_write_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--check`` exits 1 naming the drifted files and the command; writing makes it pass."""
    assert sorted(check_dashboards(tmp_path)) == sorted(f"{stem}.json" for stem in STEMS)
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert REGENERATE in capsys.readouterr().err

    written = write_dashboards(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{stem}.json" for stem in STEMS)
    assert main(["--check", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "deployments.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "annotations"'), "sorted keys, indent 2, newline"

    (tmp_path / "deployments.json").write_text(text.replace("Rollbacks", "Roll-backs"), encoding="utf-8")
    assert check_dashboards(tmp_path) == ["deployments.json"]
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "deployments.json" in capsys.readouterr().err
    assert main(["--out", str(tmp_path)]) == 0
    assert check_dashboards(tmp_path) == []


# --- structure -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_dashboard_structure(stem: str) -> None:
    """Uid, tag, schema version, data-source variable on every panel and query, ids, grid, refIds."""
    board = BOARDS[stem]
    assert (
        board["uid"]
        == {
            "deployments": "deploy-monitor-deployments",
            "deployment-detail": "deploy-monitor-detail",
            "monitor-health": "deploy-monitor-health",
            "slo": "deploy-monitor-slo",
        }[stem]
    )
    assert "deploy-monitor" in board["tags"]
    assert board["schemaVersion"] == sdk_model.Dashboard().schema_version
    assert "id" not in board, "an id would tie the file to one Grafana instance"

    variables = board["templating"]["list"]
    assert variables[0] == {**variables[0], "name": "datasource", "type": "datasource", "query": "prometheus"}
    for variable in _query_variables(board):
        assert variable["datasource"] == DATASOURCE, variable["name"]
    defined = {v["name"] for v in variables}

    panels = _panels(board)
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {stem}"
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), f"duplicate panel titles in {stem}"
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel.get("title")
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel.get("title")
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert all(refs) and len(refs) == len(set(refs)), panel.get("title")
        for target in panel.get("targets", []):
            assert target["datasource"] == DATASOURCE and target["expr"], panel.get("title")
            used = {name for name in re.findall(r"\$(\w+)", target["expr"]) if not name.startswith("__")}
            assert used <= defined, f"{panel.get('title')} uses undefined variables {used - defined}"
        if panel["type"] not in ("row", "text"):
            assert panel.get("targets"), f"{panel.get('title')} queries nothing"


def test_panels_do_not_overlap() -> None:
    """No two panels of a dashboard share a grid cell (the SDK's placement wraps at 24 columns)."""
    for stem, board in BOARDS.items():
        taken: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in taken, f"{stem}: {panel['title']} overlaps {taken[(x, y)]}"
                    taken[(x, y)] = panel["title"]


def test_each_dashboard_links_to_the_others() -> None:
    """The tag drop-down link of each dashboard lists the others; the table rows open the detail."""
    for stem, board in BOARDS.items():
        links = [link for link in board["links"] if link["type"] == "dashboards"]
        assert links, f"{stem} has no link to the other dashboards"
        for other_stem, other in BOARDS.items():
            if other_stem != stem:
                assert any(set(link["tags"]) <= set(other["tags"]) for link in links), (stem, other_stem)
        assert all(link["keepTime"] and link["includeVars"] for link in links)
    detail_uid = BOARDS["deployment-detail"]["uid"]
    data_links = [
        link["url"]
        for panel in _panels(BOARDS["deployments"])
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]
    assert data_links and all(f"/d/{detail_uid}/" in url for url in data_links)
    for variable in ("service", "environment", "version"):
        assert all(f"var-{variable}=${{__data.fields.{variable}}}" in url for url in data_links)


def _spec(service: str) -> DeploymentSpec:
    return DeploymentSpec(
        service=service,
        environment="production",
        version="v2",
        baseline_version="v1",
        strategy=Strategy.CANARY,
        started_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
        profile="otel-http",
        warmup_s=0.0,
        interval_s=60.0,
        min_duration_s=600.0,
        max_duration_s=1200.0,
    )


def test_annotation_queries_match_the_tags_the_daemon_writes() -> None:
    """Each annotation query (Grafana's store, by tags) matches the daemon's deploy or verdict annotations."""
    spec = _spec("checkout")
    written = {
        "deploy": set(annotation_tags(spec, "deploy", "running")),
        **{verdict: set(annotation_tags(spec, "verdict", verdict)) for verdict in ("pass", "fail")},
    }
    for stem in ("deployments", "deployment-detail"):
        queries = BOARDS[stem]["annotations"]["list"]
        assert queries, stem
        for query in queries:
            assert query["datasource"] == {"type": "grafana", "uid": "-- Grafana --"}
            assert query["target"]["type"] == "tags" and query["target"]["matchAny"] is False
            assert "deploy-monitor" in query["target"]["tags"]
            if stem == "deployment-detail":
                assert "service:$service" in query["target"]["tags"]
        tags = [{tag.replace("$service", "checkout") for tag in q["target"]["tags"]} for q in queries]
        matching = {event: [t for t in tags if t <= wanted] for event, wanted in written.items()}
        # The deploy start matches only the deploy query; a verdict only its own verdict's query.
        assert all(len(found) == 1 for found in matching.values()), matching
        other = {tag.replace("$service", "cart") for tag in queries[0]["target"]["tags"]}
        assert stem == "deployments" or not other <= written["deploy"], "the detail filters by service"


def test_health_alert_lines_sit_where_the_alert_rules_fire() -> None:
    """A health panel naming an alert rule draws its line at the rule's threshold."""
    rules = {
        rule["alert"]: str(rule["expr"])
        for path in (ROOT / "alert_rules").glob("*.rules.yml")
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    }
    lines = 0
    for panel in _panels(BOARDS["monitor-health"]):
        named = [alert for alert in rules if alert in panel.get("description", "")]
        steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
        if not steps:
            continue
        (alert,) = named
        threshold = re.search(r">\s*([0-9.]+)\s*$", rules[alert].strip())
        assert threshold, rules[alert]
        assert steps[-1]["value"] == float(threshold.group(1)), (panel["title"], alert)
        lines += 1
    assert lines == 3


# --- the detail dashboard follows the profile -----------------------------------------------------


def test_detail_has_panels_for_every_metrics_check_of_the_default_profile() -> None:
    """Derived from the profile: a new Prometheus check without panels fails here."""
    metrics = [c for c in PROFILE.checks if c.signal is Signal.METRICS]
    assert {c.name for c in metrics} >= {"http_error_ratio", "http_latency", "traffic_share", "memory"}
    canary = promql.version_matchers(PROFILE, "version")
    baseline = promql.version_matchers(PROFILE, "baseline")
    assert canary == 'service_name="$service", service_version="$version"'
    for check in metrics:
        panels = _detail_panels(check.name)
        assert panels, f"no panel for {check.name}"
        graphs = [p for p in panels if p["type"] == "timeseries"]
        if check.purpose.value == "traffic":
            assert check.exposure is not None
            (share,) = graphs
            expr = _by_ref(share)["canary"]
            assert promql.render(check.exposure, PROFILE, canary) in expr
            assert promql.render(check.exposure, PROFILE, baseline) in expr
            continue
        if check.comparison is ComparisonKind.DISTRIBUTION:
            assert len(graphs) == len(check.quantiles)
            for q, panel in zip(check.quantiles, graphs, strict=True):
                assert _by_ref(panel)["canary"].startswith(f"histogram_quantile({q:g}, ")
            heatmaps = {p["title"]: p for p in panels if p["type"] == "heatmap"}
            canary_map = heatmaps[f"{check.name}: canary buckets"]
            assert canary_map["targets"][0]["format"] == "heatmap"
            assert canary_map["options"]["calculate"] is False
        for panel in graphs:
            refs = _by_ref(panel)
            assert set(refs) == {"canary", "baseline"}, panel["title"]
            assert "$version" in refs["canary"] and "$baseline" not in refs["canary"]
            assert "$baseline" in refs["baseline"] and "$version" not in refs["baseline"]
            assert (
                panel["fieldConfig"]["defaults"]["unit"]
                == {"s": "s", "ratio": "percentunit", "bytes": "bytes"}[check.unit]
            )
            for template in (check.events, check.exposure, check.buckets, check.series):
                if template is not None:
                    assert promql.render(template, PROFILE, canary) in refs["canary"], panel["title"]
                    assert promql.render(template, PROFILE, baseline) in refs["baseline"], panel["title"]


def test_detail_lists_the_log_and_trace_checks() -> None:
    """The checks not in Prometheus are named, with their descriptions, in a text panel."""
    others = [c for c in PROFILE.checks if c.signal is not Signal.METRICS]
    assert others
    (note,) = [p for p in _panels(BOARDS["deployment-detail"]) if p["type"] == "text"]
    content = note["options"]["content"]
    assert "OTLP receiver" in content and "report" in content
    for check in others:
        assert f"`{check.name}`" in content and check.description in content
    for check in PROFILE.checks:
        if check.signal is Signal.METRICS:
            assert f"`{check.name}`" not in content


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_rendering_is_the_engines(name: str) -> None:
    """With a fixed window, the dashboards render every template exactly as the engine's ``render()``."""
    profile = load_profile(name)
    matchers = templates.selector(profile, "checkout", "v2")
    for check in profile.checks:
        for template in (check.events, check.exposure, check.buckets, check.series):
            if template is not None:
                assert promql.render(template, profile, matchers, "600s") == templates.render(
                    template, profile, matchers, 600.0
                )
    assert promql.selected_metric(profile) in {
        "http_server_request_duration_seconds_count",
        "http_requests_total",
    }


def test_totals_wrap_only_what_is_not_already_a_sum() -> None:
    """A ``sum(...)`` template is used as is; anything else is summed, as the engine totals samples."""
    assert promql.total("sum(rate(x[1m]))") == "sum(rate(x[1m]))"
    assert promql.total('sum(x{a=")"})') == 'sum(x{a=")"})'
    assert promql.total("sum(a) / sum(b)") == "sum(sum(a) / sum(b))"
    assert promql.total("sum by (le) (x)") == "sum(sum by (le) (x))"
    assert promql.total("rate(x[1m])") == "sum(rate(x[1m]))"


# --- every query on a real Prometheus --------------------------------------------------------------


def _scenario_values(stem: str) -> tuple[dict[str, str], dict[str, str]]:
    """Variable values for substitution, and the value each variable must offer."""
    if stem == "deployments":
        # Multi-value variables become a regex, as Grafana formats them for =~.
        values = {"environment": "production|staging", "service": "errors_3x|aa|no_canary|median_25"}
        return values, {"environment": "production", "service": "errors_3x"}
    if stem == "slo":  # the SLO recordings: see test_slo_dashboard.py for their values
        values = {"service": "checkout", "slo": "checkout-availability"}
        return values, values
    values = {"service": "errors_3x", "environment": "production", "version": "v2", "baseline": "v1"}
    return values, values


def _expressions(board: JSON) -> Iterator[tuple[str, str]]:
    for panel, target in _targets(board):
        yield f"{panel['title']} [{target['refId']}]", target["expr"]


@pytest.mark.prometheus
@pytest.mark.parametrize("stem", STEMS)
def test_every_expression_runs_on_prometheus(stem: str, prometheus: SimulatedPrometheus) -> None:
    """Every panel query, variables substituted, is valid PromQL that Prometheus evaluates."""
    run = prometheus.runs["errors_3x"]
    values, _ = _scenario_values(stem)
    expressions = list(_expressions(BOARDS[stem]))
    assert expressions
    for where, expr in expressions:
        answer = instant(prometheus.url, substitute(expr, values), run.canary_window.end.timestamp())
        assert answer["status"] == "success", f"{stem}: {where}: {answer.get('error')}"


@pytest.mark.prometheus
def test_detail_queries_return_both_versions_of_each_check(prometheus: SimulatedPrometheus) -> None:
    """In the A/A scenario, every check's canary and baseline queries find the simulated metrics."""
    run = prometheus.runs["aa"]
    values = {"service": "aa", "environment": "production", "version": "v2", "baseline": "v1"}
    at = run.canary_window.end.timestamp()
    for check in promql.metric_checks(PROFILE):
        for panel in _detail_panels(check.name):
            for ref, expr in _by_ref(panel).items():
                found = _values(instant(prometheus.url, substitute(expr, values), at))
                assert found and all(math.isfinite(v) for v in found), f"{panel['title']} [{ref}]: {found}"
    (share,) = _detail_panels("traffic_share")
    assert _only(instant(prometheus.url, substitute(_by_ref(share)["canary"], values), at)) == pytest.approx(
        run.scenario.canary_share, abs=0.03
    )


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("scenario", "title", "factor"),
    [
        ("errors_3x", "http_error_ratio: canary vs baseline", 3.0),
        ("median_25", "http_latency: p50 canary vs baseline", 1.25),
        ("cpu_2x", "cpu_per_request: canary vs baseline", 2.0),
        ("aa", "http_error_ratio: canary vs baseline", 1.0),
    ],
)
def test_detail_shows_the_canarys_regression(
    scenario: str, title: str, factor: float, prometheus: SimulatedPrometheus
) -> None:
    """Over the whole window the canary's line sits where the scenario put it, against the baseline's."""
    run = prometheus.runs[scenario]
    values = {"service": scenario, "environment": "production", "version": "v2", "baseline": "v1"}
    window = f"{run.scenario.duration_s}s"
    (panel,) = [p for p in _panels(BOARDS["deployment-detail"]) if p.get("title") == title]
    at = run.canary_window.end.timestamp()
    measured = {
        ref: _only(instant(prometheus.url, substitute(expr, {**values, "__rate_interval": window}), at))
        for ref, expr in _by_ref(panel).items()
    }
    assert measured["canary"] / measured["baseline"] == pytest.approx(factor, rel=0.2), measured


@pytest.mark.prometheus
def test_detail_variables_offer_the_scenarios_versions(prometheus: SimulatedPrometheus) -> None:
    """The detail's label-values variables on application metrics list the scenario's values."""
    run = prometheus.runs["errors_3x"]
    values, expected = _scenario_values("deployment-detail")
    start, end = run.baseline.timestamps_s[0], run.canary_window.end.timestamp()
    checked = 0
    for variable in _query_variables(BOARDS["deployment-detail"]):
        parsed = LABEL_VALUES.match(variable["query"])
        assert parsed, variable["query"]
        if parsed.group(1).startswith("monitor_"):
            continue  # the monitor's own metrics: see test_monitor_panels_return_data
        found = label_values(prometheus.url, parsed.group(2), substitute(parsed.group(1), values), start, end)
        assert expected[variable["name"]] in found, (variable["name"], found)
        checked += 1
    assert checked == 3  # service, version and baseline


# --- the monitor's own metrics on a second Prometheus --------------------------------------------

STEP_S = 15
INSTANCE = {"job": "deploy-monitor", "instance": "monitor-0:8080"}
BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, math.inf)


def cumulative(events: list[tuple[int, float]]) -> Callable[[int], float]:
    """A counter's value at a time: the sum of the ``(time, amount)`` events up to it."""

    def total(t: int) -> float:
        return sum(amount for at, amount in events if at <= t)

    return total


def between(start: int, end: float = math.inf, value: float = 1.0) -> Callable[[int], float | None]:
    """A gauge at ``value`` over ``[start, end)`` and absent otherwise."""

    def present(t: int) -> float | None:
        return value if start <= t < end else None

    return present


@dataclass
class MonitorMetricsFile:
    """OpenMetrics text of the monitor's metrics, one sample per ``STEP_S`` over ``[first, last]``."""

    first: int
    last: int
    families: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    # Counters by (name, labels): their events add up, as increments of one child do.
    counters: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]] = field(
        default_factory=dict
    )

    @property
    def times(self) -> range:
        return range(self.first, self.last + 1, STEP_S)

    def _series(
        self,
        family: str,
        kind: str,
        sample: str,
        labels: Mapping[str, str],
        value: Callable[[int], float | None],
    ) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in {**INSTANCE, **labels}.items())
        lines = self.families.setdefault(family, (kind, []))[1]
        lines.extend(f"{sample}{{{text}}} {v:g} {t}\n" for t in self.times if (v := value(t)) is not None)

    def gauge(self, name: str, labels: Mapping[str, str], value: Callable[[int], float | None]) -> None:
        """A gauge; ``value`` None leaves a gap (the series is absent then)."""
        self._series(name, "gauge", name, labels, value)

    def counter(self, name: str, labels: Mapping[str, str], events: list[tuple[int, float]]) -> None:
        """A counter from 0 at the first sample, growing by ``amount`` at each ``(time, amount)``."""
        self.families.setdefault(name, ("counter", []))
        self.counters.setdefault((name, tuple(labels.items())), []).extend(events)

    def histogram(self, name: str, labels: Mapping[str, str], observations: list[tuple[int, float]]) -> None:
        """A histogram of ``(time, value)`` observations (one call per label set)."""
        for bound in BUCKETS:
            le = "+Inf" if math.isinf(bound) else repr(bound)
            below = [(at, 1.0) for at, value in observations if value <= bound]
            self._series(name, "histogram", f"{name}_bucket", {**labels, "le": le}, cumulative(below))
        counts = [(at, 1.0) for at, _ in observations]
        self._series(name, "histogram", f"{name}_count", labels, cumulative(counts))
        self._series(name, "histogram", f"{name}_sum", labels, cumulative(observations))

    def text(self) -> str:
        """The OpenMetrics document (each family once, each series in time order, then ``# EOF``)."""
        for (name, labels), events in self.counters.items():
            self._series(name, "counter", f"{name}_total", dict(labels), cumulative(events))
        self.counters = {}
        body = "".join(
            f"# TYPE {name} {kind}\n" + "".join(lines) for name, (kind, lines) in self.families.items()
        )
        return body + "# EOF\n"


@dataclass(frozen=True)
class Deploy:
    """A deployment as the monitor's gauges show it: running from ``start``, final from ``decided``."""

    service: str
    environment: str
    start: int
    verdict: str
    decided: int | None


def monitor_metrics(at: int) -> tuple[MonitorMetricsFile, list[Deploy]]:
    """An hour and twenty minutes of a monitor's life ending at ``at + 1200``; the runs start at ``at``."""
    metrics = MonitorMetricsFile(at - 3600, at + 1200)
    deploys = [
        Deploy("errors_3x", "production", at - 600, "fail", at + 600),
        Deploy("aa", "production", at, "pass", at + 900),
        Deploy("no_canary", "staging", at - 1800, "inconclusive", at - 600),
        Deploy("median_25", "staging", at - 300, "running", None),
    ]
    for d in deploys:
        labels = {"service": d.service, "environment": d.environment, "version": "v2"}
        end = d.decided if d.decided is not None else metrics.last + 1
        metrics.gauge("monitor_deployment_verdict", {**labels, "verdict": "running"}, between(d.start, end))
        if d.decided is not None:
            decided = d.decided
            metrics.gauge("monitor_deployment_verdict", {**labels, "verdict": d.verdict}, between(decided))
            metrics.counter(
                "monitor_verdicts",
                {"verdict": d.verdict, "service": d.service, "environment": d.environment},
                [(decided, 1)],
            )
            metrics.histogram(
                "monitor_time_to_verdict_seconds",
                {"environment": d.environment, "verdict": d.verdict},
                [(decided, decided - d.start)],
            )
            for channel in ("webhook", "grafana"):
                metrics.counter(
                    "monitor_deliveries", {"channel": channel, "outcome": "delivered"}, [(decided + 5, 1)]
                )
    statuses = {
        "pending": 1,
        "running": 2,
        "pass": 120,
        "marginal": 5,
        "fail": 10,
        "inconclusive": 3,
        "cancelled": 3,
    }
    for status, count in statuses.items():
        metrics.gauge("monitor_deployments", {"status": status}, between(metrics.first, value=count))
    metrics.counter(
        "monitor_rollbacks",
        {"service": "errors_3x", "environment": "production", "action": "argo-rollouts", "outcome": "done"},
        [(at + 615, 1)],
    )
    metrics.counter("monitor_deliveries", {"channel": "pagerduty", "outcome": "failed"}, [(at + 605, 1)])
    looks = list(metrics.times)
    metrics.counter("monitor_evaluations", {"outcome": "recorded"}, [(t, 1) for t in looks])
    metrics.counter("monitor_evaluations", {"outcome": "retried"}, [(t, 1) for t in looks[::20]])
    metrics.histogram("monitor_evaluation_duration_seconds", {}, [(t, 0.3) for t in looks])
    metrics.histogram("monitor_evaluation_lag_seconds", {}, [(t, 1.5) for t in looks])
    metrics.counter("monitor_source_errors", {"check": "http_latency"}, [(t, 1) for t in looks[::40]])
    metrics.counter("monitor_lease_takeovers", {}, [(at + 300, 1)])
    for signal in ("logs", "traces"):
        metrics.counter("monitor_otlp_requests", {"signal": signal, "code": "200"}, [(t, 1) for t in looks])
        metrics.counter(
            "monitor_otlp_records", {"signal": signal, "outcome": "accepted"}, [(t, 50) for t in looks]
        )
    metrics.counter("monitor_otlp_requests", {"signal": "logs", "code": "400"}, [(t, 1) for t in looks[::30]])
    metrics.counter(
        "monitor_otlp_records", {"signal": "logs", "outcome": "rejected"}, [(t, 3) for t in looks[::30]]
    )
    metrics.gauge("monitor_outbox_backlog", {}, between(metrics.first, value=2))
    metrics.gauge("monitor_outbox_oldest_age_seconds", {}, between(metrics.first, value=30))
    for name in ("monitor_store_up", "monitor_engine_up", "up"):
        metrics.gauge(name, {}, between(metrics.first))
    return metrics, deploys


@dataclass(frozen=True)
class MonitorPrometheus:
    """A Prometheus holding the monitor's metrics of :func:`monitor_metrics`; ``at`` is the query time."""

    url: str
    at: float
    metrics: MonitorMetricsFile
    deploys: list[Deploy]


@pytest.fixture(scope="module")
def monitor_prometheus(
    prometheus: SimulatedPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MonitorPrometheus]:
    """A second real Prometheus with the monitor's own metrics, at the times of the simulated runs."""
    start = prometheus.runs["errors_3x"].start_unix_s
    metrics, deploys = monitor_metrics(start)
    workdir = tmp_path_factory.mktemp("monitor-metrics")
    path = workdir / "monitor.om"
    path.write_text(metrics.text(), encoding="utf-8")
    backfill(path, workdir / "tsdb")
    with PrometheusProcess(workdir / "tsdb", workdir=workdir) as process:
        yield MonitorPrometheus(process.url, float(metrics.last), metrics, deploys)


def _exported_names() -> set[str]:
    text = EngineMetrics().exposition().decode() + generate_latest(MonitorMetrics().registry).decode()
    exported: set[str] = set()
    for family in text_string_to_metric_families(text):
        exported |= {family.name, *(s.name for s in family.samples)}
        exported |= {family.name + suffix for suffix in ("_total", "_bucket", "_count", "_sum")}
    return exported


def _used_monitor_metrics() -> set[str]:
    exprs = [t["expr"] for board in BOARDS.values() for _, t in _targets(board)]
    exprs += [v["query"] for board in BOARDS.values() for v in _query_variables(board)]
    return {name for expr in exprs for name in re.findall(r"\bmonitor_[a-z_]+", expr)}


def test_dashboards_use_only_metrics_the_monitor_exports() -> None:
    """Every ``monitor_*`` name in a query is exported by ``/metrics``, as is every series simulated here."""
    exported = _exported_names()
    used = _used_monitor_metrics()
    assert len(used) >= 15 and used <= exported, used - exported
    simulated, _ = monitor_metrics(1_700_000_000)
    samples = {line.split("{")[0] for line in simulated.text().splitlines() if not line.startswith("#")}
    assert used <= samples, used - samples
    assert samples - {"up"} <= exported, samples - exported


@pytest.mark.prometheus
@pytest.mark.parametrize("stem", ["deployments", "monitor-health"])
def test_monitor_panels_return_data(stem: str, monitor_prometheus: MonitorPrometheus) -> None:
    """Every query of the fleet and health dashboards finds the monitor's metrics."""
    values, expected = _scenario_values(stem)
    for where, expr in _expressions(BOARDS[stem]):
        answer = instant(monitor_prometheus.url, substitute(expr, values), monitor_prometheus.at)
        assert _values(answer), f"{stem}: {where} returned nothing: {substitute(expr, values)}"
    start = monitor_prometheus.metrics.first
    for variable in _query_variables(BOARDS[stem]):
        parsed = LABEL_VALUES.match(variable["query"])
        assert parsed, variable["query"]
        found = label_values(
            monitor_prometheus.url,
            parsed.group(2),
            substitute(parsed.group(1), values),
            start,
            monitor_prometheus.at,
        )
        assert expected[variable["name"]] in found, (variable["name"], found)


def _panel(stem: str, title: str) -> JSON:
    (panel,) = [p for p in _panels(BOARDS[stem]) if p.get("title") == title]
    return panel


@pytest.mark.prometheus
def test_deployment_panels_count_what_happened(monitor_prometheus: MonitorPrometheus) -> None:
    """Current verdicts, the tables, inconclusive rate and rollbacks show the simulated deploys."""
    url, at = monitor_prometheus.url, monitor_prometheus.at
    values, _ = _scenario_values("deployments")

    def ask(title: str, ref: str = "A") -> list[JSON]:
        answer = instant(url, substitute(_by_ref(_panel("deployments", title))[ref], values), at)
        assert answer["status"] == "success", answer
        result: list[JSON] = answer["data"]["result"]
        return result

    current = {r["metric"]["verdict"]: float(r["value"][1]) for r in ask("Current verdicts")}
    assert current == {d.verdict: 1.0 for d in monitor_prometheus.deploys}
    rows = {
        tuple(r["metric"][k] for k in ("service", "environment", "verdict"))
        for r in ask("Running and current deployments")
    }
    assert rows == {(d.service, d.environment, d.verdict) for d in monitor_prometheus.deploys}
    finals = {r["metric"]["service"] for r in ask("Recent final verdicts")}
    assert finals == {d.service for d in monitor_prometheus.deploys if d.decided is not None}
    by_environment = {
        r["metric"]["environment"]: float(r["value"][1])
        for r in ask("Inconclusive rate by environment")
        if "environment" in r["metric"]
    }
    assert by_environment == {"production": 0.0, "staging": pytest.approx(1.0)}
    (rollbacks,) = ask("Rollbacks (time range)")
    assert rollbacks["metric"] == {"outcome": "done"} and float(rollbacks["value"][1]) == pytest.approx(
        1.0, rel=0.1
    )


@pytest.mark.prometheus
def test_detail_current_verdict_and_environments(monitor_prometheus: MonitorPrometheus) -> None:
    """The detail's verdict stat reads the service's newest verdict; its environment variable lists it."""
    values, _ = _scenario_values("deployment-detail")
    expr = substitute(_by_ref(_panel("deployment-detail", "Current verdict"))["A"], values)
    answer = instant(monitor_prometheus.url, expr, monitor_prometheus.at)
    assert [r["metric"] for r in answer["data"]["result"]] == [{"version": "v2", "verdict": "fail"}]
    (variable,) = [v for v in _query_variables(BOARDS["deployment-detail"]) if v["name"] == "environment"]
    parsed = LABEL_VALUES.match(variable["query"])
    assert parsed
    found = label_values(
        monitor_prometheus.url,
        parsed.group(2),
        substitute(parsed.group(1), values),
        monitor_prometheus.metrics.first,
        monitor_prometheus.at,
    )
    assert found == ["production"]
