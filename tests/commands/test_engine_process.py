"""The engine's own process under ``monitor serve``: supervised, relayed on /metrics, dying with it.

Real processes against the real Prometheus of ``tests/conftest.py`` and a SQLite store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.simulate import SimulatedPrometheus
from monitor.simulate.prometheus import free_port, wait_for_http
from monitor.timeparse import format_time

pytestmark = pytest.mark.prometheus
PostJson = Callable[[str, dict[str, Any]], dict[str, Any]]


def _state(pid: int) -> str | None:
    """The process state letter (``Z`` for a zombie), or None when the process is gone."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _engine_of(pid: int, not_pid: int | None = None, timeout_s: float = 20.0) -> int:
    """The live engine child of daemon ``pid`` (a multiprocessing spawn child)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == not_pid:
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no engine process under {pid}")


def _metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return str(response.read().decode())


def _engine_up(url: str, timeout_s: float = 30.0) -> bool:
    """Whether the engine answers (relayed on /metrics) within ``timeout_s``: it takes a moment to start."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "monitor_engine_up 1.0" in _metrics(url):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def daemon(prometheus: SimulatedPrometheus, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}",
         "--prometheus-url", prometheus.url, "--database", f"sqlite:///{tmp_path / 'monitor.db'}",
         "--insecure-no-auth"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    assert wait_for_http(f"{url}/healthz"), "monitor serve did not come up"
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_crashed_engine_is_restarted_and_keeps_judging(
    daemon: tuple[str, subprocess.Popen[bytes]], prometheus: SimulatedPrometheus, post_json: PostJson
) -> None:
    url, process = daemon
    first = _engine_of(process.pid)
    assert _engine_up(url)
    os.kill(first, signal.SIGKILL)
    second = _engine_of(process.pid, not_pid=first)
    assert second != first and _engine_up(url)
    run = prometheus.runs["errors_3x"]
    body = {
        "service": "errors_3x", "environment": "production", "version": "v2", "baseline_version": "v1",
        "started_at": format_time(run.canary_window.start), "warmup_s": 0, "interval_s": 60,
        "min_duration_s": 600, "max_duration_s": 1200,
    }  # fmt: skip
    deployment_id = post_json(f"{url}/api/v1/deployments", body)["id"]
    with urllib.request.urlopen(
        f"{url}/api/v1/deployments/{deployment_id}/verdict?wait_s=60", timeout=70
    ) as r:
        assert json.loads(r.read())["verdict"] == "fail"  # judged by the restarted engine
    metrics = _metrics(url)
    assert "monitor_engine_up 1.0" in metrics
    assert (
        'monitor_verdicts_total{environment="production",service="errors_3x",verdict="fail"} 1.0' in metrics
    )


def test_the_engine_dies_with_a_killed_daemon(daemon: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, process = daemon
    engine = _engine_of(process.pid)
    assert _engine_up(url)
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _state(engine) not in (None, "Z"):
        time.sleep(0.1)
    assert _state(engine) in (None, "Z"), "the engine outlived its daemon"
