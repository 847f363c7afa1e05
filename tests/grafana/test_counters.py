"""Panel counts of the monitor's counters on a real Prometheus: a series born at 1 is counted.

The daemon's series are backfilled as prometheus-client exports them: one the engine could not
foresee is absent until its first increment and then reads 1; one it foresaw starts at 0.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from monitor.grafana.dashboards.counters import grown
from monitor.simulate.prometheus import PrometheusProcess, backfill, default_start_unix_s

pytestmark = pytest.mark.prometheus

STEP_S = 60
SPAN_S = 3 * 3600
BORN_S = 90 * 60  # when the first verdicts are counted, from the start
SERIES: dict[str, Callable[[int], float | None]] = {
    # Born by its first increment: no sample before, then 1.
    "new": lambda s: None if s < BORN_S else 1.0,
    # Foreseen (exported at 0 from the deployment's first look), then counted once.
    "foreseen": lambda s: 0.0 if s < BORN_S else 1.0,
    # Counted long before the window.
    "flat": lambda s: 1.0,
}


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A Prometheus holding ``monitor_verdicts_total`` of :data:`SERIES`; its start (Unix s)."""
    start = default_start_unix_s()
    lines = ["# TYPE monitor_verdicts counter\n"]
    for service, value in SERIES.items():
        labels = f'verdict="fail",service="{service}",environment="production"'
        for offset in range(0, SPAN_S + 1, STEP_S):
            if (v := value(offset)) is not None:
                lines.append(f"monitor_verdicts_total{{{labels}}} {v:g} {start + offset}\n")
    workdir = tmp_path_factory.mktemp("counters")
    path = workdir / "monitor.om"
    path.write_text("".join(lines) + "# EOF\n", encoding="utf-8")
    backfill(path, workdir / "tsdb")
    with PrometheusProcess(workdir / "tsdb", workdir=workdir) as process:
        yield process.url, start


def _get(base: str, path: str, **params: str) -> Any:
    with urllib.request.urlopen(f"{base}{path}?{urllib.parse.urlencode(params)}", timeout=10) as answer:
        body = json.loads(answer.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def _by_service(base: str, expr: str, at: int) -> dict[str, float]:
    result = _get(base, "/api/v1/query", query=f"sum by (service) {expr}", time=str(at))
    return {r["metric"]["service"]: float(r["value"][1]) for r in result}


def test_a_series_born_at_1_counts_within_the_window_and_not_after(counters: tuple[str, int]) -> None:
    base, start = counters
    at = start + BORN_S + 30 * 60
    plain = _by_service(base, "(increase(monitor_verdicts_total[1h]))", at)
    assert plain["new"] == 0.0  # what the panels read before: the first verdict went missing
    assert _by_service(base, grown("monitor_verdicts_total", "1h"), at) == {
        "new": 1.0,
        "foreseen": pytest.approx(1.0, rel=0.1),
        "flat": 0.0,
    }
    later = _by_service(base, grown("monitor_verdicts_total", "1h"), start + BORN_S + 70 * 60)
    assert later == {"new": 0.0, "foreseen": 0.0, "flat": 0.0}


def test_counts_per_interval_add_up_to_one_verdict(counters: tuple[str, int]) -> None:
    """As the bar panels step by ``$__interval``: the verdict is counted in one interval only."""
    base, start = counters
    for service in SERIES:
        expr = "sum" + grown(f'monitor_verdicts_total{{service="{service}"}}', "5m")
        result = _get(
            base, "/api/v1/query_range", query=expr,
            start=str(start + 3600), end=str(start + 2 * 3600), step="300",
        )  # fmt: skip
        total = sum(float(value) for _, value in result[0]["values"]) if result else 0.0
        assert total == pytest.approx(0.0 if service == "flat" else 1.0, abs=0.2), service
