"""``monitor analyze`` when a backend fails or stdout closes: the exit code is the printed verdict's,
and each error names its own backend, once.

The CLI runs as a real process (``python -m monitor``) against the session's real Prometheus.
Loki and Tempo cannot run here: they are the fakes of ``tests/fakes`` (``LokiFake``, ``TempoFake``),
built from their documented query APIs.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fakes.loki import LogLine, LokiFake
from fakes.tempo import StoredTrace, TempoFake

from monitor.models import Signal, Window
from monitor.profiles import load_profile
from monitor.simulate import SimulatedPrometheus
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus

PROFILE = load_profile("otel-http")
TRACE_CHECKS = {c.name for c in PROFILE.checks if c.signal is Signal.TRACES}
LOG_CHECKS = {c.name for c in PROFILE.checks if c.signal is Signal.LOGS}
EXIT = {"pass": 0, "fail": 1, "marginal": 2, "inconclusive": 2}


def _env() -> dict[str, str]:
    """This process's environment without the monitor's own variables (a developer's shell may set them)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


def _args(prometheus: SimulatedPrometheus, service: str, *extra: str) -> list[str]:
    run = prometheus.runs[service]
    return [
        sys.executable, "-m", "monitor", "analyze", "--prometheus-url", prometheus.url, "--service", service,
        "--canary-version", run.scenario.canary_version, "--baseline-version", run.scenario.baseline_version,
        "--start", format_time(run.canary_window.start), "--end", format_time(run.canary_window.end), *extra,
    ]  # fmt: skip


def _analyze(args: list[str]) -> tuple[int, dict[str, Any], list[str]]:
    """Exit code, the JSON verdict printed and the stderr lines of one ``monitor analyze`` run."""
    done = subprocess.run(
        [*args, "--output", "json"], capture_output=True, text=True, timeout=180, env=_env()
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr.splitlines()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _fill_logs(loki: LokiFake, service: str, version: str, window: Window) -> None:
    start_ns = int(window.start.timestamp() * 1e9)
    for i in range(600):
        line = f"served order {i} in {12 + i % 7} ms"
        loki.add_line(LogLine(service, version, start_ns + i * 10**9, line))


def _fill_traces(tempo: TempoFake, service: str, version: str, window: Window) -> None:
    start_ns = int(window.start.timestamp() * 1e9)
    for t in range(100):
        trace_id = f"{version}-{t}".encode().ljust(16, b"\0")
        at = start_ns + t * 5 * 10**9
        server = {"traceId": _b64(trace_id), "spanId": _b64(trace_id[:8]), "name": "GET /orders", "kind": 2,
                  "startTimeUnixNano": str(at), "endTimeUnixNano": str(at + 20_000_000)}  # fmt: skip
        client = {"traceId": _b64(trace_id), "spanId": _b64(b"\x01" * 8), "parentSpanId": _b64(trace_id[:8]),
                  "name": "SELECT orders", "kind": 3, "startTimeUnixNano": str(at + 1),
                  "endTimeUnixNano": str(at + 10**6)}  # fmt: skip
        tempo.add_trace(StoredTrace(trace_id, service, version, (server, client)))


@pytest.fixture
def loki() -> Iterator[LokiFake]:
    with LokiFake() as fake:
        yield fake


@pytest.fixture
def tempo() -> Iterator[TempoFake]:
    with TempoFake() as fake:
        yield fake


def _clean_pair(prometheus: SimulatedPrometheus, loki: LokiFake, tempo: TempoFake) -> None:
    """Alike logs and traces for both versions of the passing A/A scenario ``aa``."""
    run = prometheus.runs["aa"]
    for version in (run.scenario.baseline_version, run.scenario.canary_version):
        _fill_logs(loki, "aa", version, run.canary_window)
        _fill_traces(tempo, "aa", version, run.canary_window)


def test_tempo_down_errors_only_the_trace_checks_naming_tempo_and_the_pass_exits_0(
    prometheus: SimulatedPrometheus, loki: LokiFake, tempo: TempoFake
) -> None:
    """Tempo answers 503 to everything; Loki and Prometheus work. The trace checks (optional) error
    naming Tempo, the log checks are judged from Loki, and the printed pass exits 0."""
    _clean_pair(prometheus, loki, tempo)
    tempo.fail_next("GET", "/api", 503, times=1000, body="upstream connect error or disconnect/reset")
    code, verdict, stderr = _analyze(
        _args(prometheus, "aa", "--loki-url", loki.url, "--tempo-url", tempo.url)
    )
    assert code == EXIT[verdict["verdict"]] == 0, verdict["summary"]
    checks = {c["name"]: c for c in verdict["checks"]}
    assert set(checks) >= TRACE_CHECKS | LOG_CHECKS
    for name in TRACE_CHECKS:
        assert checks[name]["classification"] == "error"
        assert "Tempo" in checks[name]["message"] and tempo.url in checks[name]["message"]
    for name in LOG_CHECKS:
        assert checks[name]["classification"] != "error", checks[name]["message"]
        assert "Tempo" not in checks[name]["message"]
    assert loki.requests_to("GET", "/loki/api/v1/query_range")
    # One line for the one failing backend, naming every check it took out; a warning, since those
    # checks are optional and the verdict stands without them.
    [line] = stderr
    assert line.startswith("monitor: warning: ") and "Tempo" in line and "503" in line
    assert all(name in line for name in TRACE_CHECKS)
    assert not any(name in line for name in LOG_CHECKS)


def test_loki_down_errors_only_the_log_checks_naming_loki(
    prometheus: SimulatedPrometheus, loki: LokiFake, tempo: TempoFake
) -> None:
    _clean_pair(prometheus, loki, tempo)
    loki.fail_next("GET", "/loki", 503, times=1000, body="too many outstanding requests")
    code, verdict, stderr = _analyze(
        _args(prometheus, "aa", "--loki-url", loki.url, "--tempo-url", tempo.url)
    )
    assert code == EXIT[verdict["verdict"]] == 0, verdict["summary"]
    checks = {c["name"]: c for c in verdict["checks"]}
    for name in LOG_CHECKS:
        assert checks[name]["classification"] == "error"
        assert "Loki" in checks[name]["message"] and "Tempo" not in checks[name]["message"]
    for name in TRACE_CHECKS:
        assert checks[name]["classification"] != "error", checks[name]["message"]
    [line] = stderr
    assert "Loki" in line and "Tempo" not in line


def test_an_erroring_optional_cpu_query_leaves_a_pass_at_exit_0(
    prometheus: SimulatedPrometheus, tmp_path: Path
) -> None:
    """An optional metric check whose PromQL Prometheus rejects: shown and warned about, not decisive."""
    base = resources.files("monitor.profiles").joinpath("otel-http.yaml").read_text()
    profile = tmp_path / "cpu.yaml"
    profile.write_text(
        base.rstrip() + "\n  - name: broken_cpu\n    comparison: samples\n    optional: true\n"
        "    series: sum(rate(process_cpu_seconds_total{$selector}[1m])\n"
    )
    code, verdict, stderr = _analyze(_args(prometheus, "aa", "--profile", str(profile)))
    assert (verdict["verdict"], code) == ("pass", 0), verdict["summary"]
    [line] = stderr
    assert line.startswith("monitor: warning: broken_cpu: Prometheus rejected the query")


def test_unreachable_prometheus_is_one_stderr_line_and_exit_3_with_an_inconclusive_verdict() -> None:
    """Every check fails the same way: said once, naming the backend, its URL and the error."""
    args = [
        sys.executable, "-m", "monitor", "analyze", "--prometheus-url", "http://127.0.0.1:9",
        "--service", "s", "--canary-version", "v2", "--baseline-version", "v1",
        "--start", "1700000000", "--end", "1700000600",
    ]  # fmt: skip
    code, verdict, stderr = _analyze(args)
    assert (verdict["verdict"], code) == ("inconclusive", 3)
    assert len(stderr) == len(set(stderr)) == 1, stderr
    [line] = stderr
    assert line.startswith("monitor: error: ") and "Prometheus at http://127.0.0.1:9" in line
    assert all(c["name"] in line for c in verdict["checks"])


def test_a_closed_stdout_keeps_the_verdicts_exit_code(prometheus: SimulatedPrometheus) -> None:
    """The reader is gone before the verdict is written (its end of the pipe closed): the write
    fails with EPIPE, and the passing verdict still exits 0, without a traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            _args(prometheus, "aa", "--output", "json"), stdout=write_end, stderr=subprocess.PIPE,
            text=True, timeout=180, env=_env(),
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def _wide_profile(tmp_path: Path) -> Path:
    """The default profile plus 60 informational memory checks: a text verdict of over 8 KiB."""
    base = resources.files("monitor.profiles").joinpath("otel-http.yaml").read_text()
    extra = "".join(
        f"  - name: memory_of_instance_group_{i:02d}\n    comparison: samples\n"
        f"    description: memory per process of instance group {i}\n"
        "    series: avg(process_memory_usage_bytes{$selector})\n"
        "    weight: 0\n    optional: true\n    min_data: 5\n    unit: bytes\n"
        for i in range(60)
    )
    path = tmp_path / "wide.yaml"
    path.write_text(base.rstrip() + "\n" + extra)
    return path


@pytest.mark.parametrize(("service", "verdict", "expected"), [("aa", "PASS", 0), ("errors_3x", "FAIL", 1)])
def test_analyze_piped_to_head_exits_by_the_printed_verdict(
    prometheus: SimulatedPrometheus, tmp_path: Path, service: str, verdict: str, expected: int
) -> None:
    """``monitor analyze ... | head -1``: head shows the verdict line and analyze exits by that verdict.

    The pipe holds one page (4 KiB) and the verdict is over 8 KiB, so head -1, which reads at most
    what the pipe holds before it exits, always leaves analyze writing to a closed pipe (EPIPE).
    """
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    try:
        analyze = subprocess.Popen(
            _args(prometheus, service, "--profile", str(_wide_profile(tmp_path))),
            stdout=write_end, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        head = subprocess.Popen(["head", "-1"], stdin=read_end, stdout=subprocess.PIPE, text=True)
    finally:
        os.close(read_end)
        os.close(write_end)
    shown, _ = head.communicate(timeout=180)
    _, stderr = analyze.communicate(timeout=180)
    assert shown.startswith(f"verdict: {verdict}")
    assert analyze.returncode == expected, stderr
    assert stderr == ""
