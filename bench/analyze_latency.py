"""Wall time of ``monitor analyze`` with the default profile against a local Prometheus.

Run: ``.venv/bin/python -m bench.analyze_latency [--runs 20] [--baseline DIR]``. Interpreter start
is included: each run is a fresh ``python -m monitor analyze`` process, as a pipeline step would start it,
against a real Prometheus holding one simulated 20-minute canary deployment. Measured in the same
run, interleaved so that a change in the machine's load hits all alike:

* ``python -c pass``: a bare interpreter, the floor;
* ``python -c "import monitor"``: the package's own start (the installed path finder included);
* ``python -m monitor analyze ...``: the whole command, verdict printed;
* with ``--baseline DIR``, the same command run from ``DIR``, another checkout of the repository
  (e.g. ``git archive REV | tar -x -C DIR``): a before/after comparison in one run.

The table gives median and 90th percentile wall time per command, the ratio of each median to the
bare interpreter's, and the median CPU time (user + system: what a busy machine's other work does
not inflate as much); below it the slowest imports of the command (``-X importtime``).
Exit code 0 when the command's median is within the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monitor.simulate import Scenario, simulate_into_prometheus
from monitor.timeparse import format_time

TARGET_S = 0.5
ANALYZE = "python -m monitor analyze (otel-http)"
SERVICE = "checkout"


def _run_s(argv: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``argv`` (in ``cwd``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=cwd)
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall_s, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10, method="inclusive")[8]


def slowest_imports(argv: list[str], top: int) -> list[tuple[int, str]]:
    """The ``top`` imports of ``python argv`` with the largest cumulative time (us), among those
    made directly by the command's modules and theirs (two levels: ``monitor.commands.analyze``
    would hide the rest)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False
    )
    rows: list[tuple[int, str]] = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("     "):
            rows.append((int(parts[1]), parts[2].strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    """Measure, print the table; exit 0 when the analyze median is within the target."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (20)")
    parser.add_argument(
        "--baseline", type=Path, metavar="DIR",
        help="also time the command from this checkout of another revision (its monitor package "
        "comes first on the path: python -m puts the working directory there)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        process, runs = simulate_into_prometheus([Scenario(SERVICE, seed=1)], Path(tmp))
        with process:
            window = runs[SERVICE].canary_window
            analyze = [
                "-m", "monitor", "analyze", "--prometheus-url", process.url, "--service", SERVICE,
                "--canary-version", "v2", "--baseline-version", "v1",
                "--start", format_time(window.start), "--end", format_time(window.end),
            ]  # fmt: skip
            if subprocess.run([sys.executable, *analyze], capture_output=True, check=False).returncode > 2:
                print("monitor analyze ended with an error; not a valid measurement", file=sys.stderr)
                return 2
            commands: dict[str, tuple[list[str], Path | None]] = {
                "python -c pass": ([sys.executable, "-c", "pass"], None),
                'python -c "import monitor"': ([sys.executable, "-c", "import monitor"], None),
                ANALYZE: ([sys.executable, *analyze], None),
            }
            if args.baseline is not None:
                commands[f"{ANALYZE}, baseline"] = ([sys.executable, *analyze], args.baseline.resolve())
            times: dict[str, list[float]] = {label: [] for label in commands}
            cpu: dict[str, list[float]] = {label: [] for label in commands}
            for _ in range(args.runs):
                for label, (argv, cwd) in commands.items():
                    wall_s, cpu_s = _run_s(argv, cwd)
                    times[label].append(wall_s)
                    cpu[label].append(cpu_s)
            imports = slowest_imports(analyze, 8)
    bare = statistics.median(times["python -c pass"])
    print("| command | runs | median s | p90 s | median / bare | median CPU s |")
    print("|---|---|---|---|---|---|")
    for label, measured in times.items():
        median = statistics.median(measured)
        print(
            f"| {label} | {len(measured)} | {median:.3f} | {_p90(measured):.3f} | {median / bare:.1f}x "
            f"| {statistics.median(cpu[label]):.3f} |"
        )
    median_analyze = statistics.median(times[ANALYZE])
    verdict = "met" if median_analyze <= TARGET_S else "missed"
    print(f"\ntarget: median at most {TARGET_S} s, {verdict} ({median_analyze:.3f} s)")
    print("\nslowest imports of the command, two levels deep (cumulative ms):")
    for micros, name in imports:
        print(f"  {micros / 1000:8.1f}  {name}")
    return 0 if median_analyze <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
