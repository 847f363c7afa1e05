"""A simulated burn on a real Prometheus: the generated page alert fires, and the verdict's slo_burn fails.

A small exporter serves OpenTelemetry HTTP server counters (and a latency histogram) of two
versions of two services, growing with the wall clock; Prometheus scrapes it and evaluates the
rules ``monitor slo generate`` wrote for the config's two SLOs, one of each SLI form, every second:

* checkout (Sloth's PromQL SLI): the new version v2 fails 5 % of its requests, the old v1 0.01 %.
  Half the traffic each, the service fails 2.5 % against a 99.9 % objective: a 25x burn, above the
  page's 14.4x over both 1 h and 5 m, so after its ``for: 2m`` the page fires. The new version alone
  burns 50x, beyond production's 10x limit: its slo_burn check fails, and not as a shared incident;
* cart (the otel-http profile's http_error_ratio as its SLI): both versions fail 5 % (a shared
  incident, an A/A burn): its page fires too, the versions compare alike, and the slo_burn check
  still fails, saying both versions burn, which the verdict's summary carries.

The counters start as if an hour old, so no rate sees a counter start; every rate window is filled by
the few minutes scraped (a ratio of rates needs only two samples of each series).
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

from monitor.cli import main
from monitor.simulate import PrometheusProcess

PER_S = 60.0  # requests a second per version
COUNT = "http_server_request_duration_seconds_count"
BUCKETS = (0.05, 0.1, 0.25)  # every request takes between 0.05 and 0.1 s: the latencies compare alike


@dataclass(frozen=True)
class Version:
    service: str
    version: str
    error_share: float


VERSIONS = (
    Version("checkout", "v2", 0.05),
    Version("checkout", "v1", 0.0001),
    Version("cart", "v2", 0.05),
    Version("cart", "v1", 0.05),
)

CONFIG = f"""\
environment: production
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli:
      errors: sum(rate({COUNT}{{service_name="checkout", http_response_status_code=~"5.."}}[{{{{.window}}}}]))
      total: sum(rate({COUNT}{{service_name="checkout"}}[{{{{.window}}}}]))
  - name: cart-availability
    service: cart
    objective: 0.999
    sli:
      check: http_error_ratio
"""


def _exposition(elapsed_s: float) -> list[str]:
    """Every version's histogram after ``elapsed_s`` seconds of traffic."""
    lines = ["# TYPE http_server_request_duration_seconds histogram"]
    for v in VERSIONS:
        total = PER_S * elapsed_s
        labels = f'service_name="{v.service}",service_version="{v.version}"'
        for code, share in (("200", 1 - v.error_share), ("500", v.error_share)):
            series = f'{labels},http_response_status_code="{code}"'
            count = total * share
            for le in BUCKETS:
                below = count if le > 0.05 else 0.0
                lines.append(f'http_server_request_duration_seconds_bucket{{{series},le="{le}"}} {below!r}')
            lines.append(f'http_server_request_duration_seconds_bucket{{{series},le="+Inf"}} {count!r}')
            lines.append(f"{COUNT}{{{series}}} {count!r}")
            lines.append(f"http_server_request_duration_seconds_sum{{{series}}} {count * 0.075!r}")
    return lines


@pytest.fixture
def burning(tmp_path: Path) -> Iterator[tuple[str, Path, float]]:
    """A Prometheus evaluating the generated rules over the exporter's burn: its URL, the config,
    and when its first scrape was (Unix seconds)."""
    config = tmp_path / "monitor.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    rules = tmp_path / "rules"
    assert main(["slo", "generate", "--config", str(config), "--out", str(rules)]) == 0
    rule_files = [str(p) for p in sorted(rules.glob("*.slo.rules.yml"))]
    workdir = tmp_path / "prometheus"
    with (
        serve_metrics(_exposition) as target,
        PrometheusProcess(
            workdir / "tsdb", workdir=workdir, config_yaml=scraping_config(target, rule_files)
        ) as process,
    ):
        yield process.url, config, time.time()


def _analyze(
    url: str, config: Path, service: str, start_s: float, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "analyze", "--config", str(config), "--prometheus-url", url, "--service", service,
            "--canary-version", "v2", "--baseline-version", "v1",
            "--start", f"{start_s:.0f}", "--end", "now", "--output", "json",
        ]
    )  # fmt: skip
    verdict: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, verdict


@pytest.mark.prometheus
@pytest.mark.slow
def test_a_burn_fires_the_page_and_fails_the_verdicts_slo_burn(
    burning: tuple[str, Path, float], capsys: pytest.CaptureFixture[str]
) -> None:
    url, config, started_s = burning
    firing = 'ALERTS{alertname="ErrorBudgetBurn", severity="page", alertstate="firing"}'
    deadline = time.monotonic() + 240  # the page's for: 2m after the first evaluations, and slack
    services: set[str] = set()
    while time.monotonic() < deadline and services != {"checkout", "cart"}:
        services = {a["metric"]["service"] for a in query(url, firing)}
        time.sleep(2)
    assert services == {"checkout", "cart"}, query(url, "ALERTS")
    # Not a tautology: the slow-burn ticket, whose for is 15m, is pending, not firing, by now.
    ticket = query(url, 'ALERTS{alertname="ErrorBudgetBurn", severity="ticket"}')
    assert {a["metric"]["alertstate"] for a in ticket} == {"pending"}

    start_s = started_s + 5  # from the first scrapes on
    code, verdict = _analyze(url, config, "checkout", start_s, capsys)
    checks = {c["name"]: c for c in verdict["checks"]}
    burn = checks["slo_burn_checkout_availability"]
    assert (code, verdict["verdict"]) == (1, "fail")
    assert burn["classification"] == "high" and burn["critical"]
    assert burn["effect"] == pytest.approx(50.0, rel=0.1)  # 5 % against a 0.1 % budget
    assert "beyond the limit 10x" in burn["message"] and "shared incident" not in burn["message"]

    code, verdict = _analyze(url, config, "cart", start_s, capsys)
    checks = {c["name"]: c for c in verdict["checks"]}
    burn = checks["slo_burn_cart_availability"]
    assert checks["http_error_ratio"]["classification"] == "pass"  # the versions are alike
    assert (code, verdict["verdict"], burn["classification"]) == (1, "fail", "high")
    assert "both versions burn, not caused by this deploy" in burn["message"]
    assert "slo_burn_cart_availability" in verdict["summary"] and "shared incident" in verdict["summary"]
