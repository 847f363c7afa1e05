"""The SLO dashboard (``dashboards/slo.json``): its structure, and its queries on a real Prometheus
that evaluates the generated SLO rules over live series.

The Prometheus here scrapes a small exporter of request counters every second and evaluates the
rules ``monitor slo generate`` writes for four SLOs every second, so every recording the dashboard
reads exists, as it would in production, and the numbers it shows can be worked out by hand. One
service never failed (it has no 5xx series at all) and one has no traffic (its counter stands still).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from metrics_exporter import query, scraping_config, serve_metrics

from monitor.grafana.dashboards import build_dashboards, render
from monitor.simulate import PrometheusProcess
from monitor.slo import SLO
from monitor.slo.rules import BURN_ALERTS, RECORDED_WINDOWS, burn_factor, rule_file, rule_file_name

ROOT = Path(__file__).resolve().parents[2]
BOARD: dict[str, Any] = json.loads(render(build_dashboards()["slo"]))
JSON = dict[str, Any]


def _panels() -> list[JSON]:
    return [panel for panel in BOARD["panels"] if panel["type"] != "row"]


def _panel(title: str) -> JSON:
    (found,) = [panel for panel in _panels() if panel["title"] == title]
    return found


def _exprs(title: str) -> dict[str, str]:
    return {target["refId"]: target["expr"] for target in _panel(title)["targets"]}


# --- structure -----------------------------------------------------------------------------------


def test_the_committed_file_is_what_the_code_builds_with_its_uid_and_variables() -> None:
    assert (ROOT / "dashboards" / "slo.json").read_text(encoding="utf-8") == render(build_dashboards()["slo"])
    assert BOARD["uid"] == "deploy-monitor-slo" and "deploy-monitor" in BOARD["tags"]
    variables = {v["name"]: v.get("query") for v in BOARD["templating"]["list"]}
    assert variables == {
        "datasource": "prometheus",
        "service": "label_values(slo:objective:ratio, service)",
        "slo": 'label_values(slo:objective:ratio{service="$service"}, slo)',
    }
    listed = (ROOT / "dashboards" / "README.md").read_text(encoding="utf-8")
    assert "`slo.json` | `deploy-monitor-slo`" in listed


def test_the_burn_panel_has_every_recorded_window_and_a_dashed_line_per_alert() -> None:
    panel = _panel("Burn rate by window")
    refs = [target["refId"] for target in panel["targets"]]
    lines = [f"{a.severity}-{a.long_window}" for a in BURN_ALERTS]
    assert refs == [*RECORDED_WINDOWS, *lines]
    overrides = {o["matcher"]["options"]: o["properties"] for o in panel["fieldConfig"]["overrides"]}
    assert set(overrides) == set(lines)
    for line, properties in overrides.items():
        values = {p["id"]: p["value"] for p in properties}
        assert values["custom.lineStyle"]["fill"] == "dash"
        assert values["color"]["fixedColor"] == ("red" if line.startswith("page") else "orange")


# --- on a real Prometheus ------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """A service's requests: ``per_s`` a second, ``error_share`` of them answered 500."""

    name: str
    per_s: float
    error_share: float


# search never failed: it serves no 5xx series at all, as a service that has not failed since it
# started. ledger (IDLE) has a request counter that stands still: no traffic over any window.
SERVICES = (
    Service("checkout", 2000 / 60, 0.0005),
    Service("cart", 1000 / 60, 0.03),
    Service("search", 500 / 60, 0.0),
)
IDLE = Service("ledger", 0.0, 0.0)


def _slo(service: str, objective: float, window_days: int) -> SLO:
    selector = f'http_requests_total{{service="{service}"'
    return SLO(
        name=f"{service}-availability",
        service=service,
        objective=objective,
        window_days=window_days,
        errors=f'sum(rate({selector}, code=~"5.."}}[{{{{.window}}}}]))',
        total=f"sum(rate({selector}}}[{{{{.window}}}}]))",
    )


SLOS = (_slo("checkout", 0.999, 30), _slo("cart", 0.99, 28), _slo("search", 0.999, 30))
IDLE_SLO = _slo(IDLE.name, 0.999, 30)


def _exposition(elapsed_s: float) -> list[str]:
    """Counters that grow with the wall clock at each service's rate."""
    lines = ["# TYPE http_requests_total counter"]
    for s in (*SERVICES, IDLE):
        total = s.per_s * elapsed_s
        lines.append(f'http_requests_total{{service="{s.name}",code="200"}} {total * (1 - s.error_share)!r}')
        if s.error_share:  # a service that never failed has no series of errors
            lines.append(f'http_requests_total{{service="{s.name}",code="500"}} {total * s.error_share!r}')
    return lines


def _substitute(expr: str, service: str, slo: str = "") -> str:
    return expr.replace("$service", service).replace("$slo", slo or f"{service}-availability")


@pytest.fixture(scope="module")
def slo_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus scraping the exporter and evaluating the SLOs' rules, once every second;
    yields its URL once every series the dashboard reads exists (and the cart's ticket is pending)."""
    workdir = tmp_path_factory.mktemp("slo-prometheus")
    rule_paths = []
    for slo in (*SLOS, IDLE_SLO):
        path = workdir / rule_file_name(slo)
        path.write_text(rule_file(slo), encoding="utf-8")
        rule_paths.append(str(path))
    with (
        serve_metrics(_exposition) as target,
        PrometheusProcess(
            workdir / "tsdb", workdir=workdir, config_yaml=scraping_config(target, rule_paths)
        ) as process,
    ):
        remaining = _exprs("Error budget remaining")["A"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = all(query(process.url, _substitute(remaining, s.name)) for s in SERVICES)
            if ready and query(process.url, 'ALERTS{alertname="ErrorBudgetBurn", service="cart"}'):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the SLO recordings did not appear within 60 s; see {process.log_path}")
        yield process.url


@pytest.mark.prometheus
def test_budget_remaining_is_one_minus_the_windows_error_ratio_over_the_budget(slo_prometheus: str) -> None:
    """Budget remaining = 1 - (error ratio over the SLO window) / (1 - objective).

    checkout: 1 request in 2,000 fails (0.0005) against a 99.9 % objective (budget 0.001):
    1 - 0.0005 / 0.001 = 0.5, half the budget left. cart: 3 in 100 fail (0.03) against 99 % (budget
    0.01) over 28 days: 1 - 0.03 / 0.01 = -2, the budget overspent twice over. search never failed:
    the whole budget is left. The 1-hour burn rate is the ratio over the budget: 0.5x, 3x and 0x.
    """
    remaining = _exprs("Error budget remaining")["A"]
    assert _exprs("Error budget remaining over the SLO window")["A"] == remaining
    expected = (("checkout", 0.5, 0.5), ("cart", -2.0, 3.0), ("search", 1.0, 0.0))
    for service, expected_remaining, expected_burn in expected:
        (sample,) = query(slo_prometheus, _substitute(remaining, service))
        assert sample["metric"] == {"service": service, "slo": f"{service}-availability"}
        assert float(sample["value"][1]) == pytest.approx(expected_remaining, abs=1e-6)
        (burn,) = query(slo_prometheus, _substitute(_exprs("Burn rate (1h)")["A"], service))
        assert float(burn["value"][1]) == pytest.approx(expected_burn, rel=1e-6, abs=1e-12)


@pytest.mark.prometheus
def test_the_constants_and_every_window_read_as_configured(slo_prometheus: str) -> None:
    for slo, service in zip(SLOS, SERVICES, strict=True):
        (objective,) = query(slo_prometheus, _substitute(_exprs("Objective")["A"], slo.service))
        assert float(objective["value"][1]) == pytest.approx(slo.objective)
        (days,) = query(slo_prometheus, _substitute(_exprs("SLO window")["A"], slo.service))
        assert float(days["value"][1]) == slo.window_days
        burn = _exprs("Burn rate by window")
        for window in RECORDED_WINDOWS:
            (rate,) = query(slo_prometheus, _substitute(burn[window], slo.service))
            wanted_burn = service.error_share / slo.error_budget
            assert float(rate["value"][1]) == pytest.approx(wanted_burn, rel=1e-6, abs=1e-12), window
        for alert in BURN_ALERTS:
            (line,) = query(
                slo_prometheus, _substitute(burn[f"{alert.severity}-{alert.long_window}"], slo.service)
            )
            # The line sits where that SLO's alert fires: 14.4x for 30 days, 13.44x for 28.
            assert float(line["value"][1]) == pytest.approx(burn_factor(alert, slo.window_days), rel=1e-3)
        ratios = _exprs("SLI error ratio")
        for ref, expr in ratios.items():
            (sample,) = query(slo_prometheus, _substitute(expr, slo.service))
            wanted = slo.error_budget if ref == "budget" else service.error_share
            assert float(sample["value"][1]) == pytest.approx(wanted, rel=1e-6, abs=1e-12), ref


@pytest.mark.prometheus
def test_the_alerts_table_shows_the_carts_slow_burn_and_the_variables_list_both(slo_prometheus: str) -> None:
    """cart burns at 3x, above its ticket's 2.8x (28 days: 10 % of the budget in a day) and below its
    page's 13.44x: one ticket, pending through its ``for``. checkout, at 0.5x, has none."""
    alerts = _exprs("ErrorBudgetBurn alerts of the service")["A"]
    rows = [r["metric"] for r in query(slo_prometheus, _substitute(alerts, "cart"))]
    assert [(r["slo"], r["severity"], r["alertstate"]) for r in rows] == [
        ("cart-availability", "ticket", "pending")
    ]
    assert query(slo_prometheus, _substitute(alerts, "checkout")) == []
    assert query(slo_prometheus, _substitute(alerts, "search")) == []
    assert _listed_services(slo_prometheus) >= {"checkout", "cart"}
    assert _listed_slos(slo_prometheus, "cart") == {"cart-availability"}


def _variable_series(name: str) -> str:
    """The series selector of the dashboard's ``label_values(<selector>, <label>)`` variable."""
    variables = {v["name"]: str(v["query"]) for v in BOARD["templating"]["list"] if v["type"] == "query"}
    selector, _ = variables[name].removeprefix("label_values(").rsplit(",", 1)
    return selector


def _listed_services(url: str) -> set[str]:
    return {r["metric"]["service"] for r in query(url, _variable_series("service"))}


def _listed_slos(url: str, service: str) -> set[str]:
    return {r["metric"]["slo"] for r in query(url, _substitute(_variable_series("slo"), service))}


@pytest.mark.prometheus
def test_a_service_that_never_failed_is_listed_and_burns_at_zero(slo_prometheus: str) -> None:
    """search serves requests but no series of errors (none failed yet): the pickers list it and
    every burn rate and error ratio reads 0, not nothing. ledger's counter stands still: listed too
    (its SLO exists), but with no traffic there is no ratio to show, rather than a made-up 0."""
    assert _listed_services(slo_prometheus) == {"checkout", "cart", "search", "ledger"}
    assert _listed_slos(slo_prometheus, "search") == {"search-availability"}
    assert _listed_slos(slo_prometheus, "ledger") == {"ledger-availability"}
    burn = _exprs("Burn rate by window")
    for window in RECORDED_WINDOWS:
        (rate,) = query(slo_prometheus, _substitute(burn[window], "search"))
        assert rate["metric"] == {"service": "search", "slo": "search-availability"}
        assert float(rate["value"][1]) == 0.0, window
        assert query(slo_prometheus, _substitute(burn[window], "ledger")) == [], window
    (one_hour,) = query(slo_prometheus, _substitute(_exprs("Burn rate (1h)")["A"], "search"))
    assert float(one_hour["value"][1]) == 0.0
    for ref, expr in _exprs("SLI error ratio").items():
        if ref != "budget":
            (sample,) = query(slo_prometheus, _substitute(expr, "search"))
            assert float(sample["value"][1]) == 0.0, ref
