"""``make demo``: two simulated deployments judged end to end against a real Prometheus.

``checkout`` ships a healthy canary; ``payments`` ships one that answers 3x more 5xx and
is 30% slower. Both are backfilled into a local Prometheus. First ``monitor analyze`` runs on
each exactly as a pipeline would, replaying one-minute looks; then the daemon story: ``monitor
serve`` on SQLite, ``monitor gate`` waiting for the bad canary, and a webhook receiving the
signed fail verdict (:mod:`monitor.simulate.demo_daemon`). Each step starts with a heading that
says what it shows, and every command is printed as one would type it. The demo exits 0 when
everything came out as designed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from monitor.environments import Environments
from monitor.simulate.demo_daemon import run_daemon_demo
from monitor.simulate.demo_steps import analyze_argv, heading, run_shown
from monitor.simulate.prometheus import simulate_into_prometheus
from monitor.simulate.scenario import Regression, Scenario

SCENARIOS = (
    Scenario(name="checkout", total_rps=200.0, canary_share=0.1, seed=11),
    Scenario(
        name="payments",
        total_rps=120.0,
        canary_share=0.1,
        error_ratio=0.01,
        canary=Regression(error_factor=3.0, median_factor=1.3),
        seed=12,
    ),
)
EXPECTED_EXIT = {"checkout": 0, "payments": 1}
SIMULATED = (
    "Two services each run a baseline version (v1) and, beside it, a canary (v2) taking 10% of the "
    "traffic for 20 minutes: 'checkout' ships a healthy canary, 'payments' one that answers 3x more "
    "5xx and is 30% slower. Their HTTP metrics (request counts by status, latency histograms, CPU, "
    "memory; OpenTelemetry's names) are simulated as a Prometheus scraping them every 15 s would "
    "have stored them, written into a real Prometheus' storage with promtool, six hours in the past. "
    "The monitor reads them through Prometheus' HTTP API as it reads any Prometheus."
)


def analyze_explained() -> str:
    """What the ``monitor analyze`` step shows."""
    return (
        "A one-shot look, as a pipeline step runs it after a deploy: it compares the canary with the "
        "baseline over --start..--end, replaying one look per --interval from the start of the window "
        "and stopping at the first conclusive one. Exit code 0 pass, 1 fail, 2 undecided, 3 error."
    )


def gate_explained(warmup_s: float) -> str:
    """What the daemon step shows, and why its verdict's numbers differ from ``analyze``'s."""
    return (
        "monitor serve is the daemon (here on SQLite); monitor gate registers a deployment with it and "
        "waits for the final verdict, exiting like analyze. The daemon looks once a minute, but only "
        f"after the environment's warm-up (production: {warmup_s:g} s after --started-at, while pods "
        "start and caches warm), so its first look covers a later minute than analyze's: its numbers, "
        "and the check that decides, can differ from analyze's above. Its final verdict goes to a "
        "signed webhook, received and verified here."
    )


def where_next() -> str:
    """Where a newcomer goes after the demo."""
    return (
        "The Prometheus and daemon above stop with the demo, so the commands printed here no longer "
        "answer. 'make demo-up' keeps them running in the background and prints the report URL and "
        "the commands to rerun ('make demo-down' stops them). Then: README.md (analyze, the daemon), "
        "docs/pipelines.md (gate in CI/CD), 'monitor analyze --help'."
    )


def main() -> int:
    """Run the demo; return 0 when every verdict came out as designed."""
    production = Environments().get("production")
    assert production is not None  # a built-in environment
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
        heading("1. What is simulated", SIMULATED)
        process, runs = simulate_into_prometheus(SCENARIOS, Path(tmp))
        with process:
            print(f"Prometheus is serving them at {process.url}", flush=True)
            heading("2. monitor analyze: one look over a window, as a pipeline runs it", analyze_explained())
            as_designed = True
            for name, expected in EXPECTED_EXIT.items():
                code = run_shown(analyze_argv(process.url, runs[name]))
                verdict = "as designed" if code == expected else f"NOT as designed (wanted {expected})"
                print(f"exit code {code}: {verdict}\n", flush=True)
                as_designed &= code == expected
            heading(
                "3. monitor serve and monitor gate: the daemon judges the bad canary",
                gate_explained(production.warmup_s),
            )
            as_designed &= run_daemon_demo(process.url, runs["payments"], Path(tmp))
    heading("4. Where to look next", where_next())
    print("demo ran as designed" if as_designed else "demo did NOT run as designed")
    return 0 if as_designed else 1


if __name__ == "__main__":
    sys.exit(main())
