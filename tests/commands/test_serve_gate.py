"""``monitor serve`` and ``monitor gate`` as real processes, against the real Prometheus."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.simulate import SimulatedPrometheus
from monitor.simulate.prometheus import free_port, wait_for_http
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus


TOKEN = "c1" * 16


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "ci.token"
    path.write_text(TOKEN)
    return path


@pytest.fixture
def daemon(
    prometheus: SimulatedPrometheus, tmp_path: Path, token_file: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    config = tmp_path / "monitor.yaml"
    config.write_text(f"tokens:\n  - {{name: ci, scopes: [read, deploy], token_file: {token_file}}}\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}",
         "--prometheus-url", prometheus.url, "--database", f"sqlite:///{tmp_path / 'monitor.db'}",
         "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(f"{url}/healthz"):
        process.kill()
        pytest.fail(f"monitor serve did not come up: {process.communicate()[0]}")
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_gate_waits_for_a_failed_verdict_and_exits_1(
    daemon: tuple[str, subprocess.Popen[str]], prometheus: SimulatedPrometheus, token_file: Path
) -> None:
    url, _ = daemon
    run = prometheus.runs["errors_3x"]
    gate = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "gate", "--url", url, "--service", "errors_3x",
         "--environment", "production", "--version", "v2", "--baseline-version", "v1",
         "--started-at", format_time(run.canary_window.start), "--max-duration", "20m", "--timeout", "90s",
         "--token-file", str(token_file)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "registered deployment" in gate.stdout
    assert "verdict: FAIL" in gate.stdout and "http_error_ratio" in gate.stdout


def test_a_rerun_gate_with_the_same_key_attaches_to_the_same_deployment(
    daemon: tuple[str, subprocess.Popen[str]], prometheus: SimulatedPrometheus, token_file: Path
) -> None:
    url, _ = daemon
    run = prometheus.runs["errors_3x"]
    argv = [sys.executable, "-m", "monitor.cli", "gate", "--url", url, "--service", "errors_3x",
            "--environment", "production", "--version", "v2", "--baseline-version", "v1",
            "--started-at", format_time(run.canary_window.start), "--max-duration", "20m", "--timeout", "90s",
            "--token-file", str(token_file), "--idempotency-key", "build-42",
            "--label", "rollback/feature-flag=new-checkout"]  # fmt: skip
    first, second = (
        subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False) for _ in "ab"
    )
    ids = {line.split()[2].rstrip(":") for out in (first.stdout, second.stdout) for line in out.splitlines()
           if line.startswith("registered deployment")}  # fmt: skip
    assert first.returncode == second.returncode == 1 and len(ids) == 1, first.stdout + second.stdout
    request = urllib.request.Request(
        f"{url}/api/v1/deployments/{ids.pop()}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        deployment = json.loads(response.read())
    assert deployment["labels"] == {"rollback/feature-flag": "new-checkout"}
    assert deployment["status"] == "fail"  # not cancelled by a second registration


def test_sigterm_stops_the_daemon_cleanly(daemon: tuple[str, subprocess.Popen[str]]) -> None:
    _, process = daemon
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "API tokens: ci (read/deploy)" in output and "stopping" in output
    assert TOKEN not in output


def test_gate_without_a_token_is_refused(daemon: tuple[str, subprocess.Popen[str]]) -> None:
    url, _ = daemon
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "gate", "--url", url, "--service", "s", "--environment", "e",
         "--version", "v2", "--baseline-version", "v1", "--timeout", "10s"],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, "MONITOR_TOKEN": ""},
    )  # fmt: skip
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr


def test_serve_refuses_to_start_without_auth(prometheus: SimulatedPrometheus, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "serve", "--prometheus-url", prometheus.url,
         "--database", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 3
    assert "no API tokens configured" in result.stderr and "--insecure-no-auth" in result.stderr


def test_gate_without_a_daemon_gives_up_at_its_timeout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "gate", "--url", f"http://127.0.0.1:{free_port()}",
         "--service", "s", "--environment", "e", "--version", "v2", "--baseline-version", "v1",
         "--timeout", "3s"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 3
    assert "retrying" in result.stdout and "did not answer before --timeout" in result.stderr


def _serve(prometheus: SimulatedPrometheus, port: int, workdir: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}",
         "--prometheus-url", prometheus.url, "--database", f"sqlite:///{workdir / 'restart.db'}",
         "--insecure-no-auth"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    if wait_for_http(f"http://127.0.0.1:{port}/healthz"):
        return process
    process.kill()
    pytest.fail("monitor serve did not come up")


def test_gate_rides_out_a_daemon_restart(prometheus: SimulatedPrometheus, tmp_path: Path) -> None:
    """The deployment has no data, so its verdict becomes final (inconclusive) at its last look,
    half a minute away; the daemon is stopped and started again meanwhile."""
    port = free_port()
    first = _serve(prometheus, port, tmp_path)
    gate = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "gate", "--url", f"http://127.0.0.1:{port}",
         "--service", "ghost", "--environment", "development", "--version", "v2", "--baseline-version", "v1",
         "--max-duration", "30s", "--timeout", "120s"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        first.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        first.wait(timeout=30)
        # The gate's long-poll is answered at once, not held until its 30 s are up.
        assert time.monotonic() - stopping < 15
        time.sleep(3)
        second = _serve(prometheus, port, tmp_path)
        try:
            output, _ = gate.communicate(timeout=120)
        finally:
            second.terminate()
            second.wait(timeout=30)
    finally:
        if gate.poll() is None:
            gate.kill()
    assert gate.returncode == 2, output
    assert "retrying" in output
    assert "verdict: INCONCLUSIVE" in output
