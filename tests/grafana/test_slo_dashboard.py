"""The SLO dashboard (``dashboards/slo.json``): its structure, and its queries on a real Prometheus
that evaluates the generated SLO rules over live series.

The Prometheus here scrapes a small exporter of request counters every second and evaluates the
rules ``monitor slo generate`` writes for two SLOs every second, so every recording the dashboard
reads exists, as it would in production, and the numbers it shows can be worked out by hand.
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
        "service": "label_values(slo:sli_error:ratio_rate5m, service)",
        "slo": 'label_values(slo:sli_error:ratio_rate5m{service="$service"}, slo)',
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


SERVICES = (Service("checkout", 2000 / 60, 0.0005), Service("cart", 1000 / 60, 0.03))


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


SLOS = (_slo("checkout", 0.999, 30), _slo("cart", 0.99, 28))


def _exposition(elapsed_s: float) -> list[str]:
    """Counters that grow with the wall clock at each service's rate."""
    lines = ["# TYPE http_requests_total counter"]
    for s in SERVICES:
        total = s.per_s * elapsed_s
        lines.append(f'http_requests_total{{service="{s.name}",code="200"}} {total * (1 - s.error_share)!r}')
        lines.append(f'http_requests_total{{service="{s.name}",code="500"}} {total * s.error_share!r}')
    return lines


def _substitute(expr: str, service: str, slo: str = "") -> str:
    return expr.replace("$service", service).replace("$slo", slo or f"{service}-availability")


@pytest.fixture(scope="module")
def slo_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus scraping the exporter and evaluating the two SLOs' rules, once every second;
    yields its URL once every series the dashboard reads exists (and the cart's ticket is pending)."""
    workdir = tmp_path_factory.mktemp("slo-prometheus")
    rule_paths = []
    for slo in SLOS:
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
    0.01) over 28 days: 1 - 0.03 / 0.01 = -2, the budget overspent twice over. The 1-hour burn rate
    is the ratio over the budget: 0.5x and 3x.
    """
    remaining = _exprs("Error budget remaining")["A"]
    assert _exprs("Error budget remaining over the SLO window")["A"] == remaining
    for service, expected_remaining, expected_burn in (("checkout", 0.5, 0.5), ("cart", -2.0, 3.0)):
        (sample,) = query(slo_prometheus, _substitute(remaining, service))
        assert sample["metric"] == {"service": service, "slo": f"{service}-availability"}
        assert float(sample["value"][1]) == pytest.approx(expected_remaining, abs=1e-6)
        (burn,) = query(slo_prometheus, _substitute(_exprs("Burn rate (1h)")["A"], service))
        assert float(burn["value"][1]) == pytest.approx(expected_burn, rel=1e-6)


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
            assert float(rate["value"][1]) == pytest.approx(service.error_share / slo.error_budget, rel=1e-6)
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
            assert float(sample["value"][1]) == pytest.approx(wanted, rel=1e-6), ref


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
    variables = {v["name"]: v["query"] for v in BOARD["templating"]["list"] if v["type"] == "query"}
    services = query(slo_prometheus, variables["service"].removeprefix("label_values(").split(",")[0])
    assert {r["metric"]["service"] for r in services} == {"checkout", "cart"}
    slos = query(
        slo_prometheus, _substitute(variables["slo"].removeprefix("label_values(").split(",")[0], "cart")
    )
    assert {r["metric"]["slo"] for r in slos} == {"cart-availability"}
