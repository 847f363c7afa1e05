"""``make demo``: two simulated deployments judged end to end against a real Prometheus.

``checkout`` ships a healthy canary; ``payments`` ships one that answers 3x more 5xx and
is 30% slower. Both are backfilled into a local Prometheus. First ``monitor analyze`` runs on
each exactly as a pipeline would, replaying one-minute looks; then the daemon story: ``monitor
serve`` on SQLite, ``monitor gate`` waiting for the bad canary, and a webhook receiving the
signed fail verdict (:mod:`monitor.simulate.demo_daemon`). The demo exits 0 when everything
came out as designed.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from monitor.simulate.demo_daemon import run_daemon_demo
from monitor.simulate.prometheus import simulate_into_prometheus
from monitor.simulate.scenario import Regression, Scenario
from monitor.timeparse import format_time

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


def main() -> int:
    """Run the demo; return 0 when every verdict came out as designed."""
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
        print("simulating two deployments (20 minutes each) and loading them into Prometheus ...")
        process, runs = simulate_into_prometheus(SCENARIOS, Path(tmp))
        with process:
            print(f"Prometheus is serving them at {process.url}\n")
            as_designed = True
            for name, expected in EXPECTED_EXIT.items():
                run = runs[name]
                argv = [
                    "monitor", "analyze", "--prometheus-url", process.url, "--service", name,
                    "--canary-version", run.scenario.canary_version,
                    "--baseline-version", run.scenario.baseline_version,
                    "--start", format_time(run.canary_window.start),
                    "--end", format_time(run.canary_window.end), "--interval", "1m",
                ]  # fmt: skip
                print(f"$ {shlex.join(argv)}", flush=True)
                code = subprocess.call([sys.executable, "-m", "monitor.cli", *argv[1:]])
                verdict = "as designed" if code == expected else f"NOT as designed (wanted {expected})"
                print(f"exit code {code}: {verdict}\n", flush=True)
                as_designed &= code == expected
            print("the daemon: registering the bad canary and waiting for its verdict\n", flush=True)
            as_designed &= run_daemon_demo(process.url, runs["payments"], Path(tmp))
    print("demo ran as designed" if as_designed else "demo did NOT run as designed")
    return 0 if as_designed else 1


if __name__ == "__main__":
    sys.exit(main())
